"""Who did what: the acting principal (`Actor`), the audit log's actions, and reading the log.

Every account use case writes its entry through `write`, inside the transaction of its change
(`Store.accounts()`), so a change and its entry commit together. An entry names the actor, the target,
the time and the client's address (None from the CLI); never a password, a token or a secret's value.
"""

from __future__ import annotations

import getpass
import time
from dataclasses import dataclass
from typing import Literal

from llmgw.errors import AccountNotFound, PermissionDenied
from llmgw.storage import Accounts, AuditRow, Store, UserRow

__all__ = [
    "Actor",
    "AuditEntry",
    "AuditFilter",
    "AuditSearch",
    "acting_user",
    "entries",
    "record_secret_change",
    "require_admin",
    "search",
    "visible_user",
    "write",
]

# The actions, as stored in `audit_log.action`.
USER_CREATED = "user.created"
USER_DISABLED = "user.disabled"
USER_ENABLED = "user.enabled"
USER_DELETED = "user.deleted"
USER_ROLE_CHANGED = "user.role_changed"
USER_PASSWORD_CHANGED = "user.password_changed"  # by the user themself
USER_PASSWORD_RESET = "user.password_reset"  # by an administrator
USER_KEY_CREATION_CHANGED = "user.key_creation_changed"  # may they create their own keys: "on -> off"
KEY_CREATED = "key.created"
KEY_REVOKED = "key.revoked"
MODEL_ACCESS_SET = "model_access.set"  # detail: the patterns now allowed
MODEL_ACCESS_CLEARED = "model_access.cleared"
SECRET_SET = "provider_secret.set"
SECRET_DELETED = "provider_secret.deleted"
LOGIN_SUCCEEDED = "login.success"
LOGIN_FAILED = "login.failure"


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal a use case acts for: a user of the portal (their row is re-read, and must be
    active, in each use case's transaction) or the local administrator at the CLI (`user_id` None:
    full rights, as whoever can open the database file can change it anyway)."""

    name: str
    user_id: int | None = None
    client_address: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        """The local administrator: `cli:<OS login>`."""
        try:
            login = getpass.getuser()
        except (KeyError, OSError):  # no user name in the environment nor the password database
            login = "unknown"
        return cls(name=f"cli:{login}")

    @classmethod
    def user(cls, user_id: int, name: str, client_address: str | None = None) -> Actor:
        """A portal user, as their session names them."""
        return cls(name=name, user_id=user_id, client_address=client_address)


def acting_user(accounts: Accounts, actor: Actor) -> UserRow | None:
    """The actor's own row as it is now (None for the local administrator). Raises PermissionDenied
    for a user who was deleted or disabled since their session began."""
    if actor.user_id is None:
        return None
    row = accounts.user_by_id(actor.user_id)
    if row is None or row.disabled:
        raise PermissionDenied(f"{actor.name} is no longer an active user")
    return row


def visible_user(
    accounts: Accounts, actor: Actor, user: str | None, what: str, *, own_by_default: bool = False
) -> UserRow | None:
    """Whose per-user `what` (usage, requests, spend) the actor may read. A user: their own only
    (naming another is PermissionDenied before any lookup, so it tells nobody who exists). An
    administrator, or the local one: the named user (AccountNotFound); naming nobody, None
    (everyone's), or with `own_by_default` the administrator's own row (None for the local one)."""
    me = acting_user(accounts, actor)
    if me is not None and me.role != "admin":
        if user is not None and user.strip().casefold() != me.name.casefold():
            raise PermissionDenied(f"you may see only your own {what}")
        return me
    if user is None:
        return me if own_by_default else None
    row = accounts.user_by_name(user.strip())
    if row is None:
        raise AccountNotFound(f"no user {user!r}")
    return row


def require_admin(accounts: Accounts, actor: Actor) -> UserRow | None:
    """`acting_user`, refusing anyone but an administrator."""
    me = acting_user(accounts, actor)
    if me is not None and me.role != "admin":
        raise PermissionDenied("only an administrator may do that")
    return me


def write(
    accounts: Accounts,
    actor: Actor,
    action: str,
    *,
    target_type: str | None,
    target_id: str | int | None,
    target_name: str | None,
    detail: str | None = None,
    at: float | None = None,
) -> None:
    """Add one entry in the caller's transaction. Callers pass names and ids only, never a secret."""
    accounts.add_audit(
        at=time.time() if at is None else at,
        actor_user_id=actor.user_id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        target_name=target_name,
        client_address=actor.client_address,
        detail=detail,
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    target: str | None
    client_address: str | None
    detail: str | None

    def to_json(self) -> dict[str, str | float | None]:
        return {
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "target": self.target,
            "client_address": self.client_address,
            "detail": self.detail,
        }


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        row.at,
        row.actor_name,
        row.action,
        row.target_type,
        row.target_id,
        row.target_name,
        row.client_address,
        row.detail,
    )


def entries(store: Store, actor: Actor, since: float | None = None) -> list[AuditEntry]:
    """The audit log since `since` (unix seconds; None = all), oldest first. Administrators only."""
    with store.accounts(write=False) as accounts:
        require_admin(accounts, actor)
        return [_entry(row) for row in accounts.audit(since)]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to show: from `since` to before `until` (unix seconds; None: unbounded), by one
    actor (`cli:ada`, `ada`; exact, any case) and one action (`key.created`, or a family: `key`,
    `model_access`); empty strings match all."""

    since: float | None = None
    until: float | None = None
    actor: str = ""
    action: str = ""

    def matches(self, entry: AuditEntry) -> bool:
        if self.until is not None and entry.at >= self.until:
            return False
        if self.actor and entry.actor.lower() != self.actor.lower():
            return False
        family = entry.action.partition(".")[0]
        return not self.action or self.action in (entry.action, family)


@dataclass(frozen=True, slots=True)
class AuditSearch:
    """The entries a filter matched, newest first, and what the period holds to filter by."""

    entries: list[AuditEntry]
    actors: list[str]  # every actor of the period, by name
    actions: list[str]  # every action of the period


def search(store: Store, actor: Actor, wanted: AuditFilter) -> AuditSearch:
    """The audit log filtered (administrators only): the matching entries newest first, and the actors
    and actions of the whole period, for the filter's choices."""
    period = [e for e in entries(store, actor, wanted.since) if wanted.until is None or e.at < wanted.until]
    found = [e for e in reversed(period) if wanted.matches(e)]
    actors = sorted({e.actor for e in period}, key=str.lower)
    actions = sorted({e.action for e in period})
    return AuditSearch(found, actors, actions)


def record_secret_change(store: Store, actor: Actor, name: str, change: Literal["set", "deleted"]) -> None:
    """Log that a provider secret (or the proxy key) was stored or deleted in the keyring: its name,
    never its value. Called by the front end after the keyring change succeeded."""
    with store.accounts() as accounts:
        require_admin(accounts, actor)
        write(
            accounts,
            actor,
            SECRET_SET if change == "set" else SECRET_DELETED,
            target_type="secret",
            target_id=name,
            target_name=name,
        )
