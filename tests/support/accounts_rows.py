"""Users and personal keys written straight into a database, as another process (the CLI) would: its
own connection, committed (a SQLite file or a PostgreSQL URL: `tests/support/raw_db.py`). The account
rules are tested through llmgw.services; these rows are what the running gateway's key index has to find."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from llmgw.services.tokens import mint
from llmgw.storage import Store
from tests.support import raw_db

Where = str | Path


@dataclass(frozen=True)
class Key:
    key_id: int
    user_id: int
    token: str
    public_id: str

    @property
    def secret(self) -> str:
        """The token's secret part (which may itself contain `-`)."""
        return self.token[len("llmgw-") + 17 :]


def create_schema(db: Where) -> None:
    """A migrated, empty database (what the first `llmgw` command leaves)."""
    Store.open(db).close()


def execute(db: Where, sql: str, params: tuple[object, ...] = ()) -> None:
    with raw_db.connection(db) as conn:
        conn.execute(sql, params)


def add_user(db: Where, name: str, *, role: str = "user", disabled: bool = False) -> int:
    now = time.time()
    with raw_db.connection(db) as conn:
        row = conn.execute(
            "INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) "
            "VALUES (?, ?, NULL, ?, ?, ?) RETURNING id",
            (name, role, int(disabled), now, now),
        ).fetchone()
        return int(row[0])


def add_key(
    db: Where,
    user_id: int,
    *,
    name: str = "laptop",
    expires_at: float | None = None,
    revoked_at: float | None = None,
) -> Key:
    minted = mint()
    with raw_db.connection(db) as conn:
        row = conn.execute(
            "INSERT INTO api_keys (public_id, user_id, name, secret_hash, created_at, expires_at, "
            "revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (minted.public_id, user_id, name, minted.secret_hash, time.time(), expires_at, revoked_at),
        ).fetchone()
        return Key(int(row[0]), user_id, minted.token, minted.public_id)


def last_used(db: Where, key_id: int) -> float | None:
    value: float | None = raw_db.rows(db, "SELECT last_used_at FROM api_keys WHERE id = ?", (key_id,))[0][0]
    return value
