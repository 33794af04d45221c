"""`llmgw_instances` (m017, PostgreSQL only): each running gateway's heartbeat.

An instance is live while its `seen_at` (the server's clock, so the machines' clocks never matter) is
younger than `stale` seconds. Holds of budgets count only while their instance is live
(storage/budget_holds.py), and the rate limits' shares divide by the live count (relay/shared.py). The
heartbeat also clears what dead instances left: their row and their holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmgw.storage.postgres import PgSql as Sql

__all__ = ["heartbeat", "leave"]

_NOW = "extract(epoch FROM clock_timestamp())"


def heartbeat(db: Sql, instance: str, stale: float, settled: Sequence[str]) -> int:
    """Mark `instance` seen, release its holds of requests it `settled` long enough ago (their ledger
    rows are written or spooled by now), clear dead instances and their holds; the live instances."""
    db.execute(
        f"INSERT INTO llmgw_instances (instance, started_at, seen_at) VALUES (?, {_NOW}, {_NOW}) "
        f"ON CONFLICT (instance) DO UPDATE SET seen_at = excluded.seen_at",
        [instance],
    )
    if settled:
        db.execute(
            "DELETE FROM budget_holds WHERE instance = ? AND request_id = ANY(?)", [instance, list(settled)]
        )
    dead = f"SELECT instance FROM llmgw_instances WHERE seen_at <= {_NOW} - ?"
    db.execute(f"DELETE FROM budget_holds WHERE instance IN ({dead})", [stale])
    db.execute(f"DELETE FROM llmgw_instances WHERE seen_at <= {_NOW} - ?", [stale])
    row = db.execute(f"SELECT count(*) FROM llmgw_instances WHERE seen_at > {_NOW} - ?", [stale]).fetchone()
    assert row is not None
    return int(row[0])


def leave(db: Sql, instance: str) -> None:
    """A gateway stopping cleanly: its holds and its row go at once."""
    db.execute("DELETE FROM budget_holds WHERE instance = ?", [instance])
    db.execute("DELETE FROM llmgw_instances WHERE instance = ?", [instance])
