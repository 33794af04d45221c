"""The `limits` table (migration m007): a user's or a personal key's rate limits and spend budget;
and the spend per user and per key since a time (from the hourly rollups), which a starting gateway
counts from.

`llmgw.storage.database.Store` (and `Accounts`, inside an account use case's transaction) call these;
the rules (who may set a limit, what a value may be) live in `llmgw.services.limits`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

from llmgw.storage import rollups

if TYPE_CHECKING:
    from llmgw.storage.schema import Sql

__all__ = ["LimitRow", "LimitValues", "Scope", "Spend", "delete", "limit_rows", "spend_since", "upsert"]

Scope = Literal["user", "key"]


@dataclasses.dataclass(frozen=True, slots=True)
class LimitValues:
    """What a limit sets; None = no such limit."""

    rpm: int | None = None  # requests per rolling minute
    tpm: int | None = None  # tokens per rolling minute
    budget_usd: float | None = None  # spend per period
    period: str = "month"  # "day" or "month", UTC


@dataclasses.dataclass(frozen=True, slots=True)
class LimitRow:
    """One subject's limits, with the names people know it by."""

    scope: Scope
    subject_id: int  # users.id or api_keys.id
    subject: str  # the user's name, or the key's public id
    owner: str  # the user's name (a key's owner)
    values: LimitValues
    updated_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class Spend:
    """USD spent by each user id and each key id, as the ledger's priced rows sum it."""

    by_user: dict[int, float]
    by_key: dict[int, float]


_ROWS_SQL = """
SELECT l.user_id, l.api_key_id, COALESCE(u.name, ku.name), k.public_id,
       l.rpm, l.tpm, l.budget_usd, l.period, l.updated_at
FROM limits AS l
LEFT JOIN users AS u ON u.id = l.user_id
LEFT JOIN api_keys AS k ON k.id = l.api_key_id
LEFT JOIN users AS ku ON ku.id = k.user_id
"""


def _row(r: tuple[Any, ...]) -> LimitRow:
    values = LimitValues(r[4], r[5], r[6], r[7])
    if r[0] is not None:
        return LimitRow("user", r[0], r[2], r[2], values, r[8])
    return LimitRow("key", r[1], r[3], r[2], values, r[8])


def limit_rows(db: Sql, scope: Scope | None = None, subject_id: int | None = None) -> list[LimitRow]:
    """Every limit (or one subject's), users first then keys, by owner name."""
    if scope is None:
        rows = db.execute(_ROWS_SQL + " ORDER BY l.api_key_id IS NOT NULL, 3, 4").fetchall()
    else:
        column = "user_id" if scope == "user" else "api_key_id"
        rows = db.execute(_ROWS_SQL + f" WHERE l.{column} = ?", [subject_id]).fetchall()
    return [_row(r) for r in rows]


def upsert(db: Sql, scope: Scope, subject_id: int, values: LimitValues, now: float) -> None:
    """Replace a subject's limits with `values`."""
    column = "user_id" if scope == "user" else "api_key_id"
    db.execute(
        f"INSERT INTO limits ({column}, rpm, tpm, budget_usd, period, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        f"ON CONFLICT ({column}) WHERE {column} IS NOT NULL DO UPDATE SET rpm = excluded.rpm, "
        "tpm = excluded.tpm, budget_usd = excluded.budget_usd, period = excluded.period, "
        "updated_at = excluded.updated_at",
        [subject_id, values.rpm, values.tpm, values.budget_usd, values.period, now],
    )


def delete(db: Sql, scope: Scope, subject_id: int) -> int:
    """Remove a subject's limits; how many rows went (0 or 1)."""
    column = "user_id" if scope == "user" else "api_key_id"
    return db.execute(f"DELETE FROM limits WHERE {column} = ?", [subject_id]).rowcount


def spend_since(db: Sql, since: float) -> Spend:
    """The priced spend of every user and every key since `since` (unix seconds, whole UTC hours: the
    hour it falls in counts whole), read from the hourly rollups, so rows purged by a retention shorter
    than the period still count. Rows without a cost count 0. Period starts (UTC day and month) are
    whole hours, so for them the sum is exact."""

    def by(dim: str) -> dict[int, float]:
        groups = rollups.totals(db, since=since, until=None, user_id=None, dims=(dim,))
        return {group[0]: t.cost_usd for group, t in groups.items() if group[0] is not None and t.cost_usd}

    return Spend(by("user"), by("key"))
