"""`upstream_key_events` (m017, PostgreSQL only): what one instance learnt about an upstream key that the
others must apply too: a wait the upstream stated (a 429 with Retry-After) and a rejection (a verdict
about the key). A key is named as `upstream_key_states` names it, by provider, slot and display mask:
never its value, nor a hash of it; an instance applies an event only to its key of that slot with that
mask. Rows are appended (`seq` orders them) and read by each instance from where it last read; the
heartbeat deletes those older than an hour (the longest wait honoured).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmgw.storage.postgres import PgSql as Sql

__all__ = ["KeyEvent", "append", "latest", "prune", "since"]

KEEP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class KeyEvent:
    instance: str  # who saw it (its own are skipped when read back)
    provider: str
    slot: int
    mask: str
    model: str | None  # the model a cool-down holds; None: the whole key, or a rejection
    key_wide: bool
    rejected: bool
    status: int  # the upstream's HTTP status
    reason: str | None  # "429 rate_limit_exceeded" …
    until: float | None  # unix seconds a stated wait ends; None for a rejection
    at: float  # unix seconds


_COLUMNS = tuple(KeyEvent.__dataclass_fields__)


def append(db: Sql, events: Sequence[KeyEvent]) -> None:
    if events:
        marks = ", ".join("?" for _ in _COLUMNS)
        sql = f"INSERT INTO upstream_key_events ({', '.join(_COLUMNS)}) VALUES ({marks})"
        db.executemany(sql, [astuple(e) for e in events])


def latest(db: Sql) -> int:
    """The newest event's seq (0 for none): where an instance starting now begins to read."""
    row = db.execute("SELECT coalesce(max(seq), 0) FROM upstream_key_events").fetchone()
    assert row is not None
    return int(row[0])


def since(db: Sql, seq: int, instance: str) -> list[tuple[int, KeyEvent]]:
    """Other instances' events after `seq`, oldest first."""
    rows = db.execute(
        f"SELECT seq, {', '.join(_COLUMNS)} FROM upstream_key_events "
        "WHERE seq > ? AND instance <> ? ORDER BY seq",
        [seq, instance],
    ).fetchall()
    out = []
    for r in rows:
        e = KeyEvent(*r[1:])
        out.append((int(r[0]), replace(e, key_wide=bool(e.key_wide), rejected=bool(e.rejected))))
    return out


def prune(db: Sql, before: float) -> None:
    db.execute("DELETE FROM upstream_key_events WHERE at < ?", [before])
