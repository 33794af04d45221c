"""`budget_spend` (m017, PostgreSQL only): USD spent per user and per key per UTC day and month, by
every instance, kept by triggers on `usage_hourly` (storage/shared_schema.py): whatever writes the
rollups (any instance's ledger writer, a spool's replay, `db copy`) counts here in the same transaction,
a replaced ledger row's old cost subtracted as the rollups subtract it. `rebuild` recounts it from the
rollups (after a copy that bypassed triggers, say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgw.storage.limits import Spend
from llmgw.storage.rollups import NANO
from llmgw.storage.shared_schema import SEED_BUDGET_SPEND

if TYPE_CHECKING:
    from llmgw.storage.postgres import PgSql as Sql

__all__ = ["rebuild", "spent"]


def spent(db: Sql, period: str, period_start: float) -> Spend:
    """Every user's and key's spend in the period starting at `period_start` (one of `period`)."""
    rows = db.execute(
        "SELECT scope, subject_id, cost_nusd FROM budget_spend WHERE period = ? AND period_start = ?",
        [period, int(period_start)],
    ).fetchall()
    by_user = {r[1]: r[2] / NANO for r in rows if r[0] == "user"}
    by_key = {r[1]: r[2] / NANO for r in rows if r[0] == "key"}
    return Spend(by_user, by_key)


def rebuild(db: Sql) -> None:
    """Recount the last two months from the rollups (the caller holds the transaction)."""
    db.execute("DELETE FROM budget_spend")
    db.execute(SEED_BUDGET_SPEND)
