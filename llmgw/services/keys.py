"""Personal API keys: create (the token shown once), list, revoke; one function per use case, each
checking its actor's rights and writing its audit entry in the transaction of its change.

Rules: an administrator manages everyone's keys, a user only their own; a disabled user gets no new
key; a user whose key creation an administrator turned off (`users.set_key_creation`) creates none for
themself, while administrators still create keys for them (so limits on a key the administrator made
cannot be escaped by minting another). A key's token is `llmgw-<public id>-<secret>`
(`services/tokens.py`): only the public id and the secret's hash are stored. People name a key by its
public id (in listings, and in the token itself, so a leaked token can be revoked from its text);
`revoke_key` also takes the numeric row id (what the ledger's `api_key_id` holds) or the whole token.
Revoking a revoked key changes nothing. Only an administrator creates a key with a list of the models
it may call (`model_access`; its user's list binds it too).

States, first that applies: revoked, expired, owner-disabled, active.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from llmgw.errors import AccountNotFound, AccountRuleViolation, InvalidAccountInput, PermissionDenied
from llmgw.services import audit, model_access, tokens
from llmgw.services.audit import Actor
from llmgw.services.model_patterns import check_patterns
from llmgw.services.subjects import PUBLIC_ID
from llmgw.services.users import check_name
from llmgw.storage import Accounts, KeyRow, Store, UserRow

__all__ = [
    "Key",
    "KeyChange",
    "KeyState",
    "NewKey",
    "create_key",
    "list_keys",
    "may_create_own_keys",
    "revoke_key",
]

KeyState = Literal["active", "revoked", "expired", "owner-disabled"]
DEFAULT_KEY_NAME = "default"
MAX_LIFETIME = timedelta(days=36500)
_ROW_ID = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True, slots=True)
class Key:
    """A key as its owner and the administrators see it: never the secret nor its hash."""

    id: int
    public_id: str
    name: str
    owner: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    state: KeyState
    model_access: tuple[str, ...] | None = None  # the models it may call (None: any its user may)


@dataclass(frozen=True, slots=True)
class NewKey:
    key: Key
    token: str  # shown once; nothing can show it again


@dataclass(frozen=True, slots=True)
class KeyChange:
    key: Key
    changed: bool


def key_state(row: KeyRow, now: float) -> KeyState:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    if row.user_disabled:
        return "owner-disabled"
    return "active"


def _key(row: KeyRow, now: float) -> Key:
    return Key(
        row.id,
        row.public_id,
        row.name,
        row.user_name,
        row.created_at,
        row.expires_at,
        row.revoked_at,
        row.last_used_at,
        key_state(row, now),
        row.model_access,
    )


def _check_key_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 64 or not name.isprintable():
        raise InvalidAccountInput(f"invalid key name {name!r}: 1-64 printable characters")
    return name


def _owner(accounts: Accounts, actor: Actor, owner: str) -> UserRow:
    """The owner's row, if the actor may manage that owner's keys (themself, or anyone as an admin)."""
    me = audit.acting_user(accounts, actor)
    row = accounts.user_by_name(check_name(owner))
    if me is not None and me.role != "admin" and (row is None or row.id != me.id):
        raise PermissionDenied("a user may manage only their own keys")
    if row is None:
        raise AccountNotFound(f"no user {owner!r}")
    return row


def _self_service_refused(me: UserRow | None, owner: UserRow) -> bool:
    """Whether this is the owner minting for themself while an administrator has turned that off."""
    return me is not None and me.id == owner.id and not owner.may_create_keys


def may_create_own_keys(store: Store, actor: Actor) -> bool:
    """Whether the actor may create keys for themself (the local administrator always may)."""
    with store.accounts(write=False) as accounts:
        me = audit.acting_user(accounts, actor)
        return me is None or not _self_service_refused(me, me)


def create_key(
    store: Store,
    actor: Actor,
    owner: str,
    name: str | None = None,
    expires_in: timedelta | None = None,
    *,
    models: Iterable[str] | None = None,
) -> NewKey:
    """A new key for `owner`; the token is in the result and nowhere else. Refused for a disabled owner,
    and (PermissionDenied) to an owner minting for themself after an administrator turned that off.
    `models`: the model patterns the key may call (administrators only), set in the same transaction."""
    name = _check_key_name(DEFAULT_KEY_NAME if name is None else name)
    if expires_in is not None and not timedelta(0) < expires_in <= MAX_LIFETIME:
        raise InvalidAccountInput("the expiry must be in the future, within 100 years")
    patterns = None if models is None else check_patterns(models)
    minted = tokens.mint()
    with store.accounts() as accounts:
        row = _owner(accounts, actor, owner)
        if _self_service_refused(audit.acting_user(accounts, actor), row):
            raise PermissionDenied(
                f"an administrator has turned off key creation for {row.name!r}: ask an administrator "
                "for a key"
            )
        if row.disabled:
            raise AccountRuleViolation(f"user {row.name!r} is disabled: enable them before creating a key")
        now = time.time()
        expires_at = now + expires_in.total_seconds() if expires_in is not None else None
        key_id = accounts.insert_key(minted.public_id, row.id, name, minted.secret_hash, now, expires_at)
        audit.write(
            accounts,
            actor,
            audit.KEY_CREATED,
            target_type="key",
            target_id=minted.public_id,
            target_name=name,
            detail=f"owner {row.name}",
            at=now,
        )
        created = accounts.key_by_id(key_id)
        assert created is not None
        if patterns is not None:
            audit.require_admin(accounts, actor)  # only an administrator restricts a key's models
            model_access.write_access(accounts, actor, created, patterns, now)
            created = accounts.key_by_id(key_id)
            assert created is not None
        return NewKey(_key(created, now), minted.token)


def list_keys(store: Store, actor: Actor, owner: str | None = None, *, now: float | None = None) -> list[Key]:
    """Keys, oldest first: `owner`'s, or (None) everyone's for an administrator and one's own for a user.
    States are as of `now` (default: the current time)."""
    now = time.time() if now is None else now
    with store.accounts(write=False) as accounts:
        if owner is not None:
            return [_key(r, now) for r in accounts.keys(_owner(accounts, actor, owner).id)]
        me = audit.acting_user(accounts, actor)
        rows = accounts.keys(None if me is None or me.role == "admin" else me.id)
        return [_key(r, now) for r in rows]


def _find_key(accounts: Accounts, ref: str) -> KeyRow:
    ref = ref.strip()
    parsed = tokens.parse(ref)
    if parsed is not None:
        ref = parsed.public_id
    if PUBLIC_ID.fullmatch(ref):
        row = accounts.key_by_public_id(ref)
    elif _ROW_ID.fullmatch(ref):
        row = accounts.key_by_id(int(ref))
    else:
        raise InvalidAccountInput(
            "a key is named by its id as `llmgw key list` shows it (16 hex digits), its number, or its token"
        )
    if row is None:
        raise AccountNotFound(f"no key {ref!r}")
    return row


def revoke_key(store: Store, actor: Actor, key_ref: str) -> KeyChange:
    """Revoke a key for good (its public id, number or token). A user revokes only their own."""
    with store.accounts() as accounts:
        me = audit.acting_user(accounts, actor)
        row = _find_key(accounts, key_ref)
        if me is not None and me.role != "admin" and row.user_id != me.id:
            raise AccountNotFound(f"no key {row.public_id!r}")  # others' keys are not even confirmed
        now = time.time()
        if row.revoked_at is not None:
            return KeyChange(_key(row, now), changed=False)
        accounts.revoke_key(row.id, now)
        audit.write(
            accounts,
            actor,
            audit.KEY_REVOKED,
            target_type="key",
            target_id=row.public_id,
            target_name=row.name,
            detail=f"owner {row.user_name}",
            at=now,
        )
        revoked = accounts.key_by_id(row.id)
        assert revoked is not None
        return KeyChange(_key(revoked, now), changed=True)
