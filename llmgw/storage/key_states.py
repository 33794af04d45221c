"""The `upstream_key_states` table (m008): each upstream key's state as the running gateway last saw it.

The gateway (`relay/key_states.py`) replaces the whole table in one transaction every few seconds: it
is the current run's view, so a provider or key slot it no longer has goes with the next write. A key is
named by its provider, its slot (`openai.N`: the N-th key of its source) and its display mask (at most
the first 3 and last 4 characters): never its value, nor a hash of it. The front ends read it to show
"cooling" or "rejected" next to the keyring's keys; `updated_at` tells them how fresh it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import sqlite_utils


__all__ = ["KeyState", "KeyStateRow", "create_table", "read", "replace"]

KeyState = Literal["ok", "cooling", "rejected"]


@dataclass(frozen=True, slots=True)
class KeyStateRow:
    provider: str
    slot: int  # 1-based place in the key source (`openai.N`, `LLMGW_OPENAI_API_KEY_N`)
    mask: str
    state: KeyState
    cooling_until: float | None  # unix seconds: when the last running cool-down ends
    cooling_models: tuple[str, ...]  # the models a per-model cool-down holds (none when key-wide)
    key_wide: bool  # a cool-down of the whole key (the account out of quota)
    reason: str | None  # the last upstream error about this key: "429 rate_limit_exceeded" …
    last_used_at: float | None
    last_error_at: float | None
    requests: int  # attempts with this key since the gateway started
    failures: int  # of which refused for the key (429 or an auth verdict)
    run: str  # the gateway run that wrote it
    updated_at: float


def create_table(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE upstream_key_states (
            provider TEXT NOT NULL,
            slot INTEGER NOT NULL,
            mask TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('ok', 'cooling', 'rejected')),
            cooling_until REAL,
            cooling_models TEXT NOT NULL DEFAULT '[]',
            key_wide INTEGER NOT NULL DEFAULT 0,
            reason TEXT,
            last_used_at REAL,
            last_error_at REAL,
            requests INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            run TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (provider, slot)
        )
        """
    )


_COLUMNS = tuple(KeyStateRow.__dataclass_fields__)
_INSERT_SQL = (
    f"INSERT INTO upstream_key_states ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


def _values(row: KeyStateRow) -> tuple[Any, ...]:
    stored = {
        **asdict(row),
        "cooling_models": json.dumps(list(row.cooling_models)),
        "key_wide": int(row.key_wide),
    }
    return tuple(stored[name] for name in _COLUMNS)


def replace(db: sqlite_utils.Database, rows: Sequence[KeyStateRow]) -> None:
    """Replace every row with `rows` (the caller holds the transaction)."""
    db.execute("DELETE FROM upstream_key_states")
    db.conn.executemany(_INSERT_SQL, [_values(r) for r in rows])


def read(db: sqlite_utils.Database) -> list[KeyStateRow]:
    """Every row, by provider and slot."""
    cursor = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM upstream_key_states ORDER BY provider, slot")
    out: list[KeyStateRow] = []
    for values in cursor.fetchall():
        d = dict(zip(_COLUMNS, values, strict=True))
        d["cooling_models"] = tuple(json.loads(d["cooling_models"]))
        d["key_wide"] = bool(d["key_wide"])
        out.append(KeyStateRow(**d))
    return out
