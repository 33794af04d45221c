"""How reports name the user or key behind ledger rows: by name while the account exists, as
"deleted user NAME (#id)" / "deleted key NAME (public id)" once it is gone (ids are never handed out
again, so the rows stay theirs), "deleted user #id" when even the name is unknown. One rule for the
CLI, the portal, the TUI and every CSV export."""

from __future__ import annotations

from dataclasses import dataclass, field

from llmgw.storage import Accounts

__all__ = ["NO_KEY", "NO_USER", "AccountLabels", "deleted_user_label", "key_label", "load"]

NO_USER = "(no user)"  # rows of the legacy proxy key (or --no-auth): no user behind them
NO_KEY = "(no key)"


def deleted_user_label(user_id: int, name: str | None) -> str:
    """`deleted user ada (#7)`, or `deleted user #7` when the name is not known."""
    return f"deleted user {name} (#{user_id})" if name else f"deleted user #{user_id}"


def key_label(key_id: int, live: str | None, deleted: str | None) -> str:
    """A key as reports name it: `laptop (lk_…)` (`live`, its name and public id), `deleted key laptop
    (lk_…)` once it is gone, `deleted key #7` when even that is not known. Never its token."""
    if live is not None:
        return live
    return f"deleted key {deleted}" if deleted else f"deleted key #{key_id}"


@dataclass(frozen=True, slots=True)
class AccountLabels:
    """Names of users and keys by id: live ones, and deleted ones as they were called."""

    users: dict[int, str] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)  # "name (public id)"
    deleted_users: dict[int, str] = field(default_factory=dict)
    deleted_keys: dict[int, str] = field(default_factory=dict)

    def user(self, user_id: int | None) -> str:
        if user_id is None:
            return NO_USER
        live = self.users.get(user_id)
        return live if live is not None else deleted_user_label(user_id, self.deleted_users.get(user_id))

    def key(self, key_id: int | None) -> str:
        if key_id is None:
            return NO_KEY
        return key_label(key_id, self.keys.get(key_id), self.deleted_keys.get(key_id))

    def user_deleted(self, user_id: int | None) -> bool:
        return user_id is not None and user_id not in self.users

    def key_deleted(self, key_id: int | None) -> bool:
        return key_id is not None and key_id not in self.keys


def load(accounts: Accounts, user_id: int | None = None) -> AccountLabels:
    """The labels of everyone (`user_id` None) or of one user's keys, read in the caller's transaction."""
    return AccountLabels(
        users={u.id: u.name for u in accounts.users()},
        keys={k.id: f"{k.name} ({k.public_id})" for k in accounts.keys(user_id)},
        deleted_users=accounts.deleted_user_names(),
        deleted_keys={k.id: f"{k.name} ({k.public_id})" for k in accounts.deleted_keys(user_id)},
    )
