"""The account tables (`users`, `api_keys`, `sessions`, `audit_log`, migration m004): their SQL.

`llmgw.storage.database.Store` is the one entry point that calls these functions, holding its lock;
the rules about accounts (who may do what, hashing, audit entries) live in `llmgw.services`.
"""

from __future__ import annotations

import dataclasses

import sqlite_utils

__all__ = ["ApiKeyRecord", "api_key_records", "data_version", "touch_api_keys"]


@dataclasses.dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One personal API key as the running gateway's index holds it: never the secret, only its hash."""

    key_id: int
    public_id: str
    secret_hash: str  # hex SHA-256 of the token's secret part
    name: str
    user_id: int
    user_name: str
    role: str  # "admin" or "user"
    user_disabled: bool
    expires_at: float | None
    revoked_at: float | None


_KEY_RECORDS_SQL = """
SELECT k.id AS key_id, k.public_id, k.secret_hash, k.name, k.user_id, u.name AS user_name, u.role,
       u.disabled AS user_disabled, k.expires_at, k.revoked_at
FROM api_keys AS k JOIN users AS u ON u.id = k.user_id
"""


def api_key_records(db: sqlite_utils.Database) -> list[ApiKeyRecord]:
    """Every personal key with its owner's state (revoked, expired and disabled ones included: the
    caller decides what is usable, at its own clock)."""
    rows = db.execute(_KEY_RECORDS_SQL).fetchall()
    return [
        ApiKeyRecord(
            key_id=r[0],
            public_id=r[1],
            secret_hash=r[2],
            name=r[3],
            user_id=r[4],
            user_name=r[5],
            role=r[6],
            user_disabled=bool(r[7]),
            expires_at=r[8],
            revoked_at=r[9],
        )
        for r in rows
    ]


def data_version(db: sqlite_utils.Database) -> int:
    """SQLite's `PRAGMA data_version`: changes when ANOTHER connection (another process: the CLI, the
    TUI) commits to the database. Cheap (no I/O beyond the shared-memory header)."""
    version: int = db.execute("PRAGMA data_version").fetchone()[0]
    return version


def touch_api_keys(db: sqlite_utils.Database, last_used: dict[int, float]) -> None:
    """Record when keys were last used (`key_id` → unix seconds), never moving a time backwards."""
    db.conn.executemany(
        "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?",
        [(at, key_id) for key_id, at in last_used.items()],
    )
