"""Users and personal keys written straight into a database, as another process (the CLI) would: its
own sqlite3 connection, committed. The account rules are tested through llmgw.services; these rows
are what the running gateway's key index has to find."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from llmgw.services.tokens import mint
from llmgw.storage import Store


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


def create_schema(db: Path) -> None:
    """A migrated, empty database (what the first `llmgw` command leaves)."""
    Store.open(db).close()


def execute(db: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(sql, params)


def add_user(db: Path, name: str, *, role: str = "user", disabled: bool = False) -> int:
    now = time.time()
    with closing(sqlite3.connect(db)) as conn, conn:
        cur = conn.execute(
            "INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) "
            "VALUES (?, ?, NULL, ?, ?, ?)",
            (name, role, int(disabled), now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid


def add_key(
    db: Path,
    user_id: int,
    *,
    name: str = "laptop",
    expires_at: float | None = None,
    revoked_at: float | None = None,
) -> Key:
    minted = mint()
    with closing(sqlite3.connect(db)) as conn, conn:
        cur = conn.execute(
            "INSERT INTO api_keys (public_id, user_id, name, secret_hash, created_at, expires_at, "
            "revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (minted.public_id, user_id, name, minted.secret_hash, time.time(), expires_at, revoked_at),
        )
        assert cur.lastrowid is not None
        return Key(cur.lastrowid, user_id, minted.token, minted.public_id)


def last_used(db: Path, key_id: int) -> float | None:
    with closing(sqlite3.connect(db)) as conn:
        value: float | None = conn.execute(
            "SELECT last_used_at FROM api_keys WHERE id = ?", (key_id,)
        ).fetchone()[0]
    return value
