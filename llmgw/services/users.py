"""Users: one function per use case, each checking its actor's rights, writing its audit entry in the
transaction of its change, and returning plain dataclasses.

Rules:
- Only an administrator (or the local administrator at the CLI) creates, lists, disables, enables,
  deletes users and changes roles; there is no sign-up.
- A user may change their own password, giving the current one; an administrator resets anyone's.
- No change leaves the gateway without an active administrator once it has one: the last active admin
  cannot be disabled, deleted or made a user (create or promote another first).
- Disabling a user, changing their role or password ends their portal sessions; deleting a user
  deletes their keys, sessions and limits (ON DELETE CASCADE); the audit log keeps their name, and
  reports name their requests "deleted user NAME (#id)". Ids are never handed out again, so a new
  user (even one taking the name) starts with no history, no spend and no limits.
- An administrator may turn off a user's self-service key creation (`set_key_creation`): a limit put
  on one key binds only while its owner cannot mint another. The user is then refused a key of their
  own making (`keys.create_key`); administrators still create keys for them; existing keys keep working.
- Setting a state that already holds (disable a disabled user …) changes nothing and writes no entry;
  the result says `changed=False`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

from llmgw.errors import AccountNotFound, AccountRuleViolation, InvalidAccountInput, PermissionDenied
from llmgw.services import audit, passwords
from llmgw.services.audit import Actor
from llmgw.storage import Accounts, Store, UserRow

__all__ = [
    "DeletedUser",
    "Role",
    "User",
    "UserChange",
    "authenticate",
    "create_user",
    "delete_user",
    "disable_user",
    "enable_user",
    "list_users",
    "set_key_creation",
    "set_password",
    "set_role",
]

Role = Literal["admin", "user"]
# Letters, digits and . _ @ -, starting with a letter or digit: no ':' (the CLI's actor is "cli:<login>"),
# no spaces or control characters (names are shown in tables and logs).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool
    created_at: float
    keys: int = 0
    may_create_keys: bool = True  # may create their own keys (`set_key_creation`)
    model_access: tuple[str, ...] | None = None  # the models they may call (`model_access`); None: any

    @property
    def state(self) -> Literal["active", "disabled"]:
        return "disabled" if self.disabled else "active"


@dataclass(frozen=True, slots=True)
class UserChange:
    user: User
    changed: bool


@dataclass(frozen=True, slots=True)
class DeletedUser:
    name: str
    keys: int  # how many keys went with them


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidAccountInput(
            f"invalid user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def _user(row: UserRow, keys: int = 0) -> User:
    role: Role = "admin" if row.role == "admin" else "user"
    return User(
        row.id, row.name, role, row.disabled, row.created_at, keys, row.may_create_keys, row.model_access
    )


def _find(accounts: Accounts, name: str) -> UserRow:
    row = accounts.user_by_name(name) if _NAME.fullmatch(name) else None
    if row is None:
        raise AccountNotFound(f"no user {name!r}")
    return row


def _still_there(accounts: Accounts, row: UserRow) -> bool:
    """Whether the user read in an earlier transaction is the one behind that id now (ids are never
    reused since m009; the name and creation time are compared all the same, cheaply)."""
    now = accounts.user_by_id(row.id)
    return now is not None and (now.name, now.created_at) == (row.name, row.created_at)


def _keep_an_admin(accounts: Accounts, row: UserRow, doing: str) -> None:
    if row.role == "admin" and not row.disabled and accounts.active_admin_count() <= 1:
        raise AccountRuleViolation(
            f"refusing to {doing} {row.name!r}: the last active administrator "
            "(make another user an admin first)"
        )


def _audit_user(
    accounts: Accounts,
    actor: Actor,
    action: str,
    user_id: int,
    name: str,
    *,
    detail: str | None = None,
    at: float | None = None,
) -> None:
    """The audit entry of a change to user `name`, in the change's transaction."""
    audit.write(
        accounts, actor, action, target_type="user", target_id=user_id, target_name=name, detail=detail, at=at
    )


def _reread(accounts: Accounts, user_id: int) -> User:
    """The user as the change just left them (same transaction: they exist)."""
    row = accounts.user_by_id(user_id)
    assert row is not None
    return _user(row)


def create_user(store: Store, actor: Actor, name: str, password: str, *, role: Role = "user") -> User:
    """A new active user with a password. Raises InvalidAccountInput for a bad name or password,
    AccountRuleViolation if the name is taken (names compare without regard to case)."""
    check_name(name)
    passwords.check_policy(password)
    password_hash = passwords.hash_password(password)  # slow: before the write lock, not under it
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        if accounts.user_by_name(name) is not None:
            raise AccountRuleViolation(f"a user {name!r} already exists")
        now = time.time()
        user_id = accounts.insert_user(name, role, password_hash, now)
        _audit_user(accounts, actor, audit.USER_CREATED, user_id, name, detail=f"role {role}", at=now)
        return _reread(accounts, user_id)


def list_users(store: Store, actor: Actor) -> list[User]:
    """Every user, by name, with how many keys each has. Administrators only."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
        counts = accounts.key_counts()
        return [_user(row, counts.get(row.id, 0)) for row in accounts.users()]


def _set_disabled(store: Store, actor: Actor, name: str, disabled: bool) -> UserChange:
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        row = _find(accounts, name)
        if row.disabled == disabled:
            return UserChange(_user(row), changed=False)
        if disabled:
            _keep_an_admin(accounts, row, "disable")
            accounts.delete_sessions(row.id)
        now = time.time()
        accounts.set_user_disabled(row.id, disabled, now)
        action = audit.USER_DISABLED if disabled else audit.USER_ENABLED
        _audit_user(accounts, actor, action, row.id, row.name, at=now)
        return UserChange(_reread(accounts, row.id), changed=True)


def disable_user(store: Store, actor: Actor, name: str) -> UserChange:
    """Disable a user: their keys stop working and their sessions end. Administrators only; never the
    last active administrator."""
    return _set_disabled(store, actor, name, True)


def enable_user(store: Store, actor: Actor, name: str) -> UserChange:
    """Enable a disabled user again (their keys that are neither revoked nor expired work again)."""
    return _set_disabled(store, actor, name, False)


def delete_user(store: Store, actor: Actor, name: str) -> DeletedUser:
    """Delete a user with their keys and sessions. Administrators only; never the last active admin."""
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        row = _find(accounts, name)
        _keep_an_admin(accounts, row, "delete")
        keys = len(accounts.keys(row.id))
        now = time.time()
        accounts.delete_user(row.id, now)
        detail = f"with {keys} key(s)"
        _audit_user(accounts, actor, audit.USER_DELETED, row.id, row.name, detail=detail, at=now)
        return DeletedUser(row.name, keys)


def set_key_creation(store: Store, actor: Actor, name: str, *, allowed: bool) -> UserChange:
    """Allow or refuse a user's creating keys for themself. Administrators only; audited. Their
    existing keys are left as they are (revoke those separately)."""
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        row = _find(accounts, name)
        if row.may_create_keys == allowed:
            return UserChange(_user(row), changed=False)
        now = time.time()
        accounts.set_may_create_keys(row.id, allowed, now)
        detail = "off -> on" if allowed else "on -> off"
        _audit_user(accounts, actor, audit.USER_KEY_CREATION_CHANGED, row.id, row.name, detail=detail, at=now)
        return UserChange(_reread(accounts, row.id), changed=True)


def set_role(store: Store, actor: Actor, name: str, role: Role) -> UserChange:
    """Make a user an admin or a plain user. Administrators only; never demotes the last active admin."""
    if role not in ("admin", "user"):
        raise InvalidAccountInput(f"invalid role {role!r}: admin or user")
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        row = _find(accounts, name)
        if row.role == role:
            return UserChange(_user(row), changed=False)
        if role == "user":
            _keep_an_admin(accounts, row, "make a plain user of")
        now = time.time()
        accounts.set_user_role(row.id, role, now)
        accounts.delete_sessions(row.id)
        detail = f"{row.role} -> {role}"
        _audit_user(accounts, actor, audit.USER_ROLE_CHANGED, row.id, row.name, detail=detail, at=now)
        return UserChange(_reread(accounts, row.id), changed=True)


def set_password(
    store: Store, actor: Actor, name: str, new_password: str, *, current_password: str | None = None
) -> User:
    """Set a user's password. A user changing their own (from the portal) must give the current one;
    an administrator resets anyone else's, and the local administrator anyone's. Ends the user's
    sessions."""
    passwords.check_policy(new_password)
    with store.accounts(write=False) as accounts:
        me = audit.acting_user(accounts, actor)
        row = _find(accounts, name)
        own = me is not None and me.id == row.id
        if me is not None and not own and me.role != "admin":
            raise PermissionDenied("a user may change only their own password")
        current_hash = accounts.password_hash(row.id) if own else None
    # Slow hashing outside the transaction: neither holds the database's write lock.
    if own and not passwords.verify_password(current_hash, current_password or ""):
        raise PermissionDenied("the current password is wrong")
    new_hash = passwords.hash_password(new_password)
    with store.accounts() as accounts:
        me = audit.acting_user(accounts, actor)  # rights checked again: they may have changed meanwhile
        if me is not None and me.id != row.id and me.role != "admin":
            raise PermissionDenied("a user may change only their own password")
        if not _still_there(accounts, row):
            raise AccountNotFound(f"no user {name!r}")
        now = time.time()
        accounts.set_password_hash(row.id, new_hash, now)
        accounts.delete_sessions(row.id)
        action = audit.USER_PASSWORD_CHANGED if own else audit.USER_PASSWORD_RESET
        _audit_user(accounts, actor, action, row.id, row.name, at=now)
        return _reread(accounts, row.id)


def authenticate(store: Store, name: str, password: str, client_address: str | None) -> User | None:
    """The portal's login check: the user if `password` is theirs and they are active, else None.

    An unknown name verifies against a dummy hash (`passwords.verify_password(None, …)`), so it costs
    what a wrong password costs. Each attempt is audited; a failed one names the user only if the name
    exists (a password typed into the name field must not land in the log). Blocks for the hash: the
    portal calls it in the password pool (`passwords.POOL`)."""
    with store.accounts(write=False) as accounts:
        row = accounts.user_by_name(name) if _NAME.fullmatch(name) else None
        stored = accounts.password_hash(row.id) if row is not None else None
    matched = passwords.verify_password(stored, password)
    ok = matched and row is not None and not row.disabled
    rehash = passwords.hash_password(password) if ok and stored and passwords.needs_rehash(stored) else None
    with store.accounts() as accounts:
        if ok and row is not None:
            if rehash is not None and _still_there(accounts, row):
                accounts.set_password_hash(row.id, rehash, time.time())
            actor = Actor.user(row.id, row.name, client_address)
            _audit_user(accounts, actor, audit.LOGIN_SUCCEEDED, row.id, row.name)
            return _user(row)
        reason = "unknown user name" if row is None else ("user disabled" if matched else "wrong password")
        audit.write(
            accounts,
            Actor("anonymous", None, client_address),
            audit.LOGIN_FAILED,
            target_type="user" if row else None,
            target_id=row.id if row else None,
            target_name=row.name if row else None,
            detail=reason,
        )
        return None
