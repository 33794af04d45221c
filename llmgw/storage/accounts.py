"""The account tables (`users`, `api_keys`, `sessions`, `audit_log`, migration m004): their SQL.

Model access (m013) is a column of `users` and of `api_keys`: a JSON array of patterns, NULL for no
restriction; read and written here as a tuple of strings (or None).

`llmgw.storage.database.Store` is the one entry point that calls these functions, holding its lock;
the rules about accounts (who may do what, hashing, audit entries) live in `llmgw.services`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from llmgw.storage import deleted_accounts, limits
from llmgw.storage.deleted_accounts import DeletedKey
from llmgw.storage.limits import LimitRow, LimitValues, Scope, Spend
from llmgw.storage.postgres import is_postgres

if TYPE_CHECKING:
    import sqlite_utils

    from llmgw.storage.schema import Sql

__all__ = [
    "Accounts",
    "ApiKeyRecord",
    "AuditRow",
    "DeletedKey",
    "KeyRow",
    "SessionRow",
    "UserRow",
    "api_key_records",
    "data_version",
    "touch_api_keys",
]


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
    user_access: tuple[str, ...] | None = None  # the models its user may call; None: any
    key_access: tuple[str, ...] | None = None  # the models this key may call; None: any


_KEY_RECORDS_SQL = """
SELECT k.id AS key_id, k.public_id, k.secret_hash, k.name, k.user_id, u.name AS user_name, u.role,
       u.disabled AS user_disabled, k.expires_at, k.revoked_at, u.model_access, k.model_access
FROM api_keys AS k JOIN users AS u ON u.id = k.user_id
"""


def access_from_column(text: str | None) -> tuple[str, ...] | None:
    """A `model_access` column read: its patterns, or None (no restriction)."""
    if text is None:
        return None
    patterns = json.loads(text)
    return tuple(str(p) for p in patterns)


def access_to_column(patterns: tuple[str, ...] | None) -> str | None:
    return None if patterns is None else json.dumps(list(patterns))


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
            user_access=access_from_column(r[10]),
            key_access=access_from_column(r[11]),
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
    greatest = "GREATEST" if is_postgres(db) else "MAX"  # SQLite's two-argument max
    db.conn.executemany(
        f"UPDATE api_keys SET last_used_at = {greatest}(COALESCE(last_used_at, 0), ?) WHERE id = ?",
        [(at, key_id) for key_id, at in last_used.items()],
    )


# --- the account use cases' reads and writes, inside one transaction ------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class UserRow:
    """One user as stored (the password hash apart: `Accounts.password_hash`)."""

    id: int
    name: str
    role: str  # "admin" or "user"
    disabled: bool
    has_password: bool
    created_at: float
    updated_at: float
    may_create_keys: bool = True  # they may create their own keys (an administrator's switch)
    model_access: tuple[str, ...] | None = None  # the models they may call; None: any


@dataclasses.dataclass(frozen=True, slots=True)
class KeyRow:
    """One personal key with its owner, as listings show it: never the secret's hash."""

    id: int
    public_id: str
    name: str
    user_id: int
    user_name: str
    user_disabled: bool
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    model_access: tuple[str, ...] | None = None  # the models this key may call; None: any
    user_model_access: tuple[str, ...] | None = None  # its owner's


@dataclasses.dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit log entry. Names are copies: the entry still reads after its actor or target is gone."""

    id: int
    at: float
    actor_user_id: int | None
    actor_name: str
    action: str
    target_type: str | None
    target_id: str | None
    target_name: str | None
    client_address: str | None
    detail: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRow:
    """One portal session with its user as they are now (never the session id: only its hash is
    stored, and the caller holds it)."""

    user_id: int
    user_name: str
    role: str
    user_disabled: bool
    csrf_token: str
    created_at: float
    last_seen_at: float


_USER_COLUMNS = (
    "id, name, role, disabled, password_hash IS NOT NULL, created_at, updated_at, may_create_keys, "
    "model_access"
)
_KEY_SQL = """
SELECT k.id, k.public_id, k.name, k.user_id, u.name, u.disabled, k.created_at, k.expires_at, k.revoked_at,
       k.last_used_at, k.model_access, u.model_access
FROM api_keys AS k JOIN users AS u ON u.id = k.user_id
"""
_AUDIT_COLUMNS = (
    "id, at, actor_user_id, actor_name, action, target_type, target_id, target_name, client_address, detail"
)


def _user(r: tuple[Any, ...]) -> UserRow:
    return UserRow(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5], r[6], bool(r[7]), access_from_column(r[8]))


def _key(r: tuple[Any, ...]) -> KeyRow:
    return KeyRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        bool(r[5]),
        r[6],
        r[7],
        r[8],
        r[9],
        access_from_column(r[10]),
        access_from_column(r[11]),
    )


class Accounts:
    """The account tables seen from inside one transaction (`Store.accounts()`): what a use case reads
    to check its rules and the changes it makes, its audit entry included, commit together or not at
    all. Holds no state of its own."""

    def __init__(self, db: Sql) -> None:
        self._db = db

    # users
    def user_by_name(self, name: str) -> UserRow | None:
        """The user of that name, compared without regard to case (the column is NOCASE)."""
        r = self._db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", [name]).fetchone()
        return None if r is None else _user(r)

    def user_by_id(self, user_id: int) -> UserRow | None:
        r = self._db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", [user_id]).fetchone()
        return None if r is None else _user(r)

    def users(self) -> list[UserRow]:
        rows = self._db.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name").fetchall()
        return [_user(r) for r in rows]

    def key_counts(self) -> dict[int, int]:
        """Keys per user id (every state)."""
        rows = self._db.execute("SELECT user_id, COUNT(*) FROM api_keys GROUP BY user_id").fetchall()
        return {user_id: n for user_id, n in rows}

    def password_hash(self, user_id: int) -> str | None:
        r = self._db.execute("SELECT password_hash FROM users WHERE id = ?", [user_id]).fetchone()
        return None if r is None else r[0]

    def active_admin_count(self) -> int:
        n: int = self._db.execute(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0"
        ).fetchone()[0]
        return n

    def insert_user(self, name: str, role: str, password_hash: str, now: float) -> int:
        cursor = self._db.execute(
            "INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) "
            "VALUES (?, ?, ?, 0, ?, ?) RETURNING id",
            [name, role, password_hash, now, now],
        )
        return int(cursor.fetchone()[0])

    def set_user_disabled(self, user_id: int, disabled: bool, now: float) -> None:
        self._db.execute(
            "UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?", [int(disabled), now, user_id]
        )

    def set_user_role(self, user_id: int, role: str, now: float) -> None:
        self._db.execute("UPDATE users SET role = ?, updated_at = ? WHERE id = ?", [role, now, user_id])

    def set_password_hash(self, user_id: int, password_hash: str, now: float) -> None:
        self._db.execute(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", [password_hash, now, user_id]
        )

    def set_may_create_keys(self, user_id: int, allowed: bool, now: float) -> None:
        self._db.execute(
            "UPDATE users SET may_create_keys = ?, updated_at = ? WHERE id = ?", [int(allowed), now, user_id]
        )

    def set_user_model_access(self, user_id: int, patterns: tuple[str, ...] | None, now: float) -> None:
        self._db.execute(
            "UPDATE users SET model_access = ?, updated_at = ? WHERE id = ?",
            [access_to_column(patterns), now, user_id],
        )

    def delete_user(self, user_id: int, now: float) -> None:
        """Delete a user; their keys, sessions, limits and stored responses go with them (ON DELETE CASCADE,
        foreign_keys=ON), their and their keys' names stay for reports (`deleted_users`,
        `deleted_keys`). Their ids are never handed out again (AUTOINCREMENT)."""
        deleted_accounts.record_user_deletion(self._db, user_id, now)
        self._db.execute("DELETE FROM users WHERE id = ?", [user_id])

    def deleted_user_names(self) -> dict[int, str]:
        """Deleted users' names by the id they had (what the ledger's `user_id` still holds)."""
        return deleted_accounts.deleted_user_names(self._db)

    def deleted_keys(self, user_id: int | None = None) -> list[DeletedKey]:
        """Keys deleted with their user (all, or one user's), by the id they had."""
        return deleted_accounts.deleted_keys(self._db, user_id)

    def delete_sessions(self, user_id: int) -> int:
        """End every portal session of a user; returns how many there were."""
        return self._db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id]).rowcount

    # sessions
    def insert_session(
        self, id_hash: str, user_id: int, csrf_token: str, now: float, client_address: str | None
    ) -> None:
        self._db.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, client_address) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [id_hash, user_id, csrf_token, now, now, client_address],
        )

    def session(self, id_hash: str) -> SessionRow | None:
        r = self._db.execute(
            "SELECT s.user_id, u.name, u.role, u.disabled, s.csrf_token, s.created_at, s.last_seen_at "
            "FROM sessions AS s JOIN users AS u ON u.id = s.user_id WHERE s.id_hash = ?",
            [id_hash],
        ).fetchone()
        return None if r is None else SessionRow(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6])

    def touch_session(self, id_hash: str, now: float) -> None:
        self._db.execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", [now, id_hash])

    def delete_session(self, id_hash: str) -> int:
        return self._db.execute("DELETE FROM sessions WHERE id_hash = ?", [id_hash]).rowcount

    def delete_stale_sessions(self, created_before: float, seen_before: float) -> int:
        """Drop sessions past their absolute or idle expiry."""
        return self._db.execute(
            "DELETE FROM sessions WHERE created_at < ? OR last_seen_at < ?", [created_before, seen_before]
        ).rowcount

    # keys
    def insert_key(
        self, public_id: str, user_id: int, name: str, secret_hash: str, now: float, expires_at: float | None
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO api_keys (public_id, user_id, name, secret_hash, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [public_id, user_id, name, secret_hash, now, expires_at],
        )
        return int(cursor.fetchone()[0])

    def key_by_id(self, key_id: int) -> KeyRow | None:
        r = self._db.execute(_KEY_SQL + " WHERE k.id = ?", [key_id]).fetchone()
        return None if r is None else _key(r)

    def key_by_public_id(self, public_id: str) -> KeyRow | None:
        r = self._db.execute(_KEY_SQL + " WHERE k.public_id = ?", [public_id]).fetchone()
        return None if r is None else _key(r)

    def keys(self, user_id: int | None = None) -> list[KeyRow]:
        """Every key (or one user's), oldest first."""
        if user_id is None:
            rows = self._db.execute(_KEY_SQL + " ORDER BY k.id").fetchall()
        else:
            rows = self._db.execute(_KEY_SQL + " WHERE k.user_id = ? ORDER BY k.id", [user_id]).fetchall()
        return [_key(r) for r in rows]

    def set_key_model_access(self, key_id: int, patterns: tuple[str, ...] | None) -> None:
        self._db.execute(
            "UPDATE api_keys SET model_access = ? WHERE id = ?", [access_to_column(patterns), key_id]
        )

    def revoke_key(self, key_id: int, now: float) -> None:
        self._db.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [now, key_id]
        )

    # limits (storage/limits.py)
    def limits(self, scope: Scope | None = None, subject_id: int | None = None) -> list[LimitRow]:
        """Every limit, or one subject's."""
        return limits.limit_rows(self._db, scope, subject_id)

    def set_limits(self, scope: Scope, subject_id: int, values: LimitValues, now: float) -> None:
        limits.upsert(self._db, scope, subject_id, values, now)

    def clear_limits(self, scope: Scope, subject_id: int) -> int:
        return limits.delete(self._db, scope, subject_id)

    def spend_since(self, since: float) -> Spend:
        """The priced spend per user and per key since `since` (whole UTC hours), from the rollups."""
        return limits.spend_since(self._db, since)

    # audit
    def add_audit(
        self,
        *,
        at: float,
        actor_user_id: int | None,
        actor_name: str,
        action: str,
        target_type: str | None,
        target_id: str | None,
        target_name: str | None,
        client_address: str | None,
        detail: str | None,
    ) -> None:
        self._db.execute(
            f"INSERT INTO audit_log ({_AUDIT_COLUMNS.removeprefix('id, ')}) VALUES ({', '.join('?' * 9)})",
            [
                at,
                actor_user_id,
                actor_name,
                action,
                target_type,
                target_id,
                target_name,
                client_address,
                detail,
            ],
        )

    def audit(self, since: float | None = None) -> list[AuditRow]:
        """Entries since `since` (unix seconds; None = all), oldest first."""
        rows = self._db.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE at >= ? ORDER BY at, id",
            [since if since is not None else float("-inf")],
        ).fetchall()
        return [AuditRow(*r) for r in rows]
