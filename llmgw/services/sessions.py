"""Portal sessions: started at login with a new random id, stored only as its hash, ended at logout,
by expiry, or by the account changes that end them (`users.py`: a password change or reset, a role
change, disabling or deleting the user).

Rules (OWASP Session Management):
- The id is 32 random bytes (`secrets.token_urlsafe`); the database keeps its SHA-256 only, so a copy
  of the database logs no one in.
- A session expires `IDLE_TIMEOUT` after its last use and `ABSOLUTE_TIMEOUT` after it began, whatever
  its use; an expired session is deleted when it is next presented.
- Each session has its own CSRF token, compared in constant time.
- A session of a user who was disabled or deleted is gone (deleted with them, or refused here).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from llmgw.services import audit
from llmgw.services.audit import Actor
from llmgw.services.users import User
from llmgw.storage import Store

__all__ = ["ABSOLUTE_TIMEOUT", "IDLE_TIMEOUT", "Session", "csrf_matches", "discard", "end", "resume", "start"]

IDLE_TIMEOUT = 30 * 60.0
ABSOLUTE_TIMEOUT = 12 * 3600.0
_TOUCH_EVERY = 60.0  # last use is written at most once a minute per session: no write per page view
SESSION_REVOKED = "session.revoked"


@dataclass(frozen=True, slots=True)
class Session:
    """The user behind a live session, as they are now."""

    user_id: int
    user_name: str
    role: str
    csrf_token: str
    client_address: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> Actor:
        return Actor.user(self.user_id, self.user_name, self.client_address)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(
    store: Store, user: User, client_address: str | None, *, now: float | None = None
) -> tuple[str, Session]:
    """A new session for `user` (just authenticated): its id, for the cookie only, and the session.
    Sessions past their expiry, anyone's, are swept here."""
    now = time.time() if now is None else now
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with store.accounts() as accounts:
        accounts.delete_stale_sessions(now - ABSOLUTE_TIMEOUT, now - IDLE_TIMEOUT)
        accounts.insert_session(_hash(session_id), user.id, csrf, now, client_address)
    return session_id, Session(user.id, user.name, user.role, csrf, client_address)


def resume(
    store: Store, session_id: str, client_address: str | None, *, now: float | None = None
) -> Session | None:
    """The session behind a cookie's id, or None if there is none, it expired, or its user is
    disabled."""
    if not 20 <= len(session_id) <= 100:
        return None
    now = time.time() if now is None else now
    id_hash = _hash(session_id)
    with store.accounts(write=False) as accounts:
        row = accounts.session(id_hash)
    if row is None:
        return None
    expired = row.created_at + ABSOLUTE_TIMEOUT <= now or row.last_seen_at + IDLE_TIMEOUT <= now
    if expired or row.user_disabled:
        with store.accounts() as accounts:
            accounts.delete_session(id_hash)
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        with store.accounts() as accounts:
            accounts.touch_session(id_hash, now)
    return Session(row.user_id, row.user_name, row.role, row.csrf_token, client_address)


def end(store: Store, session_id: str, actor: Actor) -> bool:
    """Log out: delete the session and audit it; whether there was one."""
    with store.accounts() as accounts:
        gone = accounts.delete_session(_hash(session_id)) > 0
        if gone:
            audit.write(
                accounts,
                actor,
                SESSION_REVOKED,
                target_type="user",
                target_id=actor.user_id,
                target_name=actor.name,
                detail="logout",
            )
        return gone


def discard(store: Store, session_id: str) -> None:
    """Drop a session without an audit entry: the one a browser still held when it logged in again
    (possibly someone else's, planted or left behind)."""
    with store.accounts() as accounts:
        accounts.delete_session(_hash(session_id))


def csrf_matches(session: Session, token: str) -> bool:
    """Whether a form's CSRF token is this session's (constant-time)."""
    return hmac.compare_digest(session.csrf_token.encode(), token.encode())
