"""The `budget_alerts` table (migration m014): which budget alerts the gateway delivered, so each fires
once per user or key, budget period and threshold, also across restarts (`server/budget_alerts.py`
sends them; a row is written once the receiver took the alert).

A row names its subject by id, as the limits do: `user_id` or `api_key_id`, never both; a deleted
user's or key's rows go with it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import sqlite_utils


__all__ = ["SentAlert", "create_table", "insert", "sent_since"]


@dataclasses.dataclass(frozen=True, slots=True)
class SentAlert:
    """One delivered alert: whose budget, which period (by its start), which threshold (percent)."""

    scope: Literal["user", "key"]
    subject_id: int
    period: str  # "day" or "month"
    period_start: float  # unix seconds, UTC
    threshold: int  # percent of the budget


def create_table(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE budget_alerts (
            id INTEGER PRIMARY KEY,
            user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
            api_key_id INTEGER REFERENCES api_keys (id) ON DELETE CASCADE,
            period TEXT NOT NULL CHECK (period IN ('day', 'month')),
            period_start REAL NOT NULL,
            threshold INTEGER NOT NULL,
            sent_at REAL NOT NULL,
            CHECK ((user_id IS NULL) <> (api_key_id IS NULL))
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_budget_alerts_once ON budget_alerts "
        "(COALESCE(user_id, -api_key_id), period, period_start, threshold)"
    )


def insert(db: sqlite_utils.Database, alert: SentAlert, sent_at: float) -> None:
    """Record a delivered alert (again: nothing changes)."""
    column = "user_id" if alert.scope == "user" else "api_key_id"
    db.execute(
        f"INSERT INTO budget_alerts ({column}, period, period_start, threshold, sent_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [alert.subject_id, alert.period, alert.period_start, alert.threshold, sent_at],
    )


def sent_since(db: sqlite_utils.Database, since: float) -> list[SentAlert]:
    """The alerts delivered for periods that started at or after `since` (the current month's start
    covers the current day's too)."""
    rows = db.execute(
        "SELECT user_id, api_key_id, period, period_start, threshold FROM budget_alerts "
        "WHERE period_start >= ?",
        [since],
    ).fetchall()
    return [
        SentAlert("user" if u is not None else "key", u if u is not None else k, p, s, t)
        for u, k, p, s, t in rows
    ]
