"""`budget_holds` (m017, PostgreSQL only): the worst cases reserved by requests in flight, of every
instance, and the one call that checks a request's budgets and holds its worst case.

`reserve` is one round trip: `llmgw_budget_reserve` (storage/shared_schema.py) takes the subjects'
advisory locks (user, then key), reads what each has spent this period (`budget_spend`) and holds
(holds of live instances only), and either inserts the hold or says which subject refused and its spent
and reserved amounts. A hold goes in the transaction that writes its request's ledger row
(`release`, called by `PostgresStore.insert_requests`), where the rollups' triggers add the exact cost
to `budget_spend`: the cost moves from held to spent atomically, so no burst can slip between them.
Amounts are nano-USD integers, as the rollups keep them: sums are exact.

It runs on an asyncio psycopg connection of its own (`PostgresStore.reserve_budget`): the event loop
awaits it; no worker thread is taken per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmgw.storage.rollups import NANO

if TYPE_CHECKING:
    import psycopg

    from llmgw.storage.postgres import PgSql as Sql

__all__ = ["BudgetAsk", "Reservation", "release", "reserve"]


@dataclass(frozen=True, slots=True)
class BudgetAsk:
    """One subject's budget as this request is checked against it: the period is given by its start
    (unix seconds, UTC) so every instance counts the same `budget_spend` row."""

    subject_id: int
    budget_usd: float
    period: str  # "day" or "month"
    period_start: float


@dataclass(frozen=True, slots=True)
class Reservation:
    """None refused: the hold is in. Else the subject that refused, with what it had spent this period
    and what requests in flight held (every live instance's), in USD."""

    refused: str | None  # "user", "key" or None
    spent_usd: float = 0.0
    reserved_usd: float = 0.0


_RESERVE_SQL = (
    "SELECT refused, spent, reserved FROM llmgw_budget_reserve("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def _args(ask: BudgetAsk | None) -> list[Any]:
    if ask is None:
        return [None, None, None, None]
    return [ask.subject_id, round(ask.budget_usd * NANO), ask.period, int(ask.period_start)]


async def reserve(
    conn: psycopg.AsyncConnection[Any],
    request_id: str,
    instance: str,
    cost_usd: float,
    stale: float,
    user: BudgetAsk | None,
    key: BudgetAsk | None,
) -> Reservation:
    """Check the user's and key's budgets and hold `cost_usd` for the request, in one statement."""
    params = [request_id, instance, round(cost_usd * NANO), stale, *_args(user), *_args(key)]
    cur = await conn.execute(_RESERVE_SQL, params)
    row = await cur.fetchone()
    assert row is not None
    refused, spent, reserved = row
    if refused is None:
        return Reservation(None)
    return Reservation(refused, spent / NANO, reserved / NANO)


def release(db: Sql, request_ids: Sequence[str]) -> None:
    """Drop the holds of these requests (the ledger's transaction, where their cost becomes spent)."""
    if request_ids:
        db.execute("DELETE FROM budget_holds WHERE request_id = ANY(?)", [list(request_ids)])
