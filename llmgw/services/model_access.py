"""Model access: which models a user or a personal key may call. Set, clear and list, administrators
only, each change with its audit entry in its transaction (`model_access.set`, `model_access.cleared`).

A subject is named as for limits: a key by its public id (16 hex digits, as `llmgw key list` shows it;
a name of that shape is a key when such a key exists), else a user by name. The patterns and how they
match are `model_patterns`'; a key's effective access is its user's list intersected with its own. The
running gateway holds both lists in its key index (`Principal.access`) and sees a change within one
`PRAGMA data_version` poll (the portal, in the gateway's process, reloads the index itself).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from llmgw.services import audit
from llmgw.services.audit import Actor
from llmgw.services.model_patterns import check_patterns, describe
from llmgw.services.subjects import subject_row
from llmgw.storage import Accounts, KeyRow, Scope, Store, UserRow

__all__ = ["AccessChange", "SubjectAccess", "clear_access", "list_access", "set_access", "subject_access"]


@dataclass(frozen=True, slots=True)
class SubjectAccess:
    """A user's or a key's model access as listings and forms show it."""

    scope: Scope
    subject: str  # the user's name, or the key's public id
    owner: str  # the user's name (a key's owner)
    key_name: str | None  # a key's own name
    patterns: tuple[str, ...] | None  # its own list; None: no restriction of its own
    owner_patterns: tuple[str, ...] | None  # a key's user's list (None for a user)

    @property
    def shown(self) -> str:
        """Its own list in one line (`any model` when it has none)."""
        return describe(self.patterns)


@dataclass(frozen=True, slots=True)
class AccessChange:
    access: SubjectAccess
    changed: bool


def _of_user(row: UserRow) -> SubjectAccess:
    return SubjectAccess("user", row.name, row.name, None, row.model_access, None)


def _of_key(row: KeyRow) -> SubjectAccess:
    return SubjectAccess(
        "key", row.public_id, row.user_name, row.name, row.model_access, row.user_model_access
    )


def _access(row: UserRow | KeyRow) -> SubjectAccess:
    return _of_user(row) if isinstance(row, UserRow) else _of_key(row)


def write_access(
    accounts: Accounts, actor: Actor, row: UserRow | KeyRow, patterns: tuple[str, ...] | None, now: float
) -> None:
    """Store `row`'s list (None: no restriction) and its audit entry, in the caller's transaction. For
    use cases that change access along with something else (a key created with its list)."""
    if isinstance(row, UserRow):
        accounts.set_user_model_access(row.id, patterns, now)
        target_type, target_id, target_name = "user", str(row.id), row.name
    else:
        accounts.set_key_model_access(row.id, patterns)
        target_type, target_id, target_name = "key", row.public_id, row.public_id
    audit.write(
        accounts,
        actor,
        audit.MODEL_ACCESS_SET if patterns is not None else audit.MODEL_ACCESS_CLEARED,
        target_type=target_type,
        target_id=target_id,
        target_name=target_name,
        detail=None if patterns is None else describe(patterns),
        at=now,
    )


def _reread(accounts: Accounts, row: UserRow | KeyRow) -> SubjectAccess:
    found = accounts.user_by_id(row.id) if isinstance(row, UserRow) else accounts.key_by_id(row.id)
    assert found is not None  # changed in this transaction
    return _access(found)


def set_access(store: Store, actor: Actor, ref: str, patterns: Iterable[str]) -> AccessChange:
    """Allow `ref` (a user name or a key's public id) only the models its patterns match; replaces its
    list. Raises InvalidAccountInput for an empty list or a refused pattern."""
    checked = check_patterns(patterns)
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        row = subject_row(accounts, ref)
        if row.model_access == checked:
            return AccessChange(_access(row), changed=False)
        write_access(accounts, actor, row, checked, time.time())
        return AccessChange(_reread(accounts, row), changed=True)


def clear_access(store: Store, actor: Actor, ref: str) -> AccessChange:
    """Lift `ref`'s own restriction (a key stays bound by its user's); `changed=False` when it had none."""
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        row = subject_row(accounts, ref)
        if row.model_access is None:
            return AccessChange(_access(row), changed=False)
        write_access(accounts, actor, row, None, time.time())
        return AccessChange(_reread(accounts, row), changed=True)


def subject_access(store: Store, actor: Actor, ref: str) -> SubjectAccess:
    """One user's or key's model access (restricted or not). Administrators only."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
        return _access(subject_row(accounts, ref))


def list_access(store: Store, actor: Actor, ref: str | None = None) -> list[SubjectAccess]:
    """Every restriction (users by name, then keys by owner), or one subject's whether restricted or
    not. Administrators only."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
        if ref is not None:
            return [_access(subject_row(accounts, ref))]
        found = [_of_user(u) for u in accounts.users() if u.model_access is not None]
        keyed = [_of_key(k) for k in accounts.keys(None) if k.model_access is not None]
        return found + sorted(keyed, key=lambda a: (a.owner.lower(), a.subject))
