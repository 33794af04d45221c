"""Who a personal API token belongs to, answered from memory: the running gateway's key index.

The index is every key's record (`Store.api_key_records`: owner, role, state) by public id. A request
costs a dict lookup, a SHA-256 and the state checks; no query. The gateway calls `refresh` a few times
a second from a worker thread: it reads SQLite's `PRAGMA data_version`, which moves only when another
connection (the CLI, the TUI, the portal in another process) has committed, and reloads the records
then. So a key revoked, expired, or whose user is disabled or deleted, is refused within one refresh,
whoever changed it; a change of the models a user or key may call (`Principal.access`) applies as soon.
Last use is kept in memory and written in batches (`take_last_used`, `write_last_used`), never once
per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from llmgw.services.model_patterns import UNRESTRICTED, ModelAccess
from llmgw.services.tokens import ParsedToken, secret_matches
from llmgw.storage import ApiKeyRecord, Store

__all__ = ["ANONYMOUS", "LEGACY", "KeyIndex", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is made by, as its ledger row records it."""

    user_id: int | None
    api_key_id: int | None
    user_name: str
    role: str  # "admin" or "user" for a personal key; "legacy" / "anonymous" for the built-ins
    access: ModelAccess = UNRESTRICTED  # the models it may call: its user's list and its key's
    key_public_id: str | None = None  # the key's public id (never its secret), for the JSON request log

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# The shared proxy key (`legacy` and `both` modes): no user behind it, so no admin rights anywhere and
# nothing to log in as. Its ledger rows have no user_id.
LEGACY = Principal(None, None, "legacy", "legacy")
# Authentication off (`--no-auth`, loopback only).
ANONYMOUS = Principal(None, None, "anonymous", "anonymous")


class KeyIndex:
    """Personal keys by public id, in memory. `identify` runs on the event loop; `load`, `refresh`
    and `write_last_used` do I/O and belong in a worker thread (each swaps whole objects, so the
    event loop never sees a half-built index)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._keys: dict[str, tuple[ApiKeyRecord, Principal]] = {}
        self._version: int | None = None
        self._last_used: dict[int, float] = {}

    @property
    def key_count(self) -> int:
        return len(self._keys)

    @property
    def user_count(self) -> int:
        return len({record.user_id for record, _ in self._keys.values()})

    def load(self) -> None:
        """Read every key now. The version is read first: a commit landing in between moves it
        again, so the next `refresh` reloads rather than missing it."""
        self._version = self._store.data_version()
        records = self._store.api_key_records()
        self._keys = {
            r.public_id: (
                r,
                Principal(
                    r.user_id,
                    r.key_id,
                    r.user_name,
                    r.role,
                    ModelAccess(r.user_access, r.key_access),
                    key_public_id=r.public_id,
                ),
            )
            for r in records
        }

    def refresh(self) -> bool:
        """Reload if another connection has committed since the last load; whether it reloaded."""
        if self._store.data_version() == self._version:
            return False
        self.load()
        return True

    def invalidate(self) -> None:
        """Make the next `refresh` reload: for a change committed through the gateway's own
        connection, which `data_version` does not count."""
        self._version = None

    def identify(self, token: ParsedToken) -> Principal | str:
        """The principal of a well-formed token, or why it is refused (for a debug log line only:
        the client is told the same thing whatever the reason)."""
        found = self._keys.get(token.public_id)
        if found is None:
            return "unknown key"
        record, principal = found
        if not secret_matches(token, record.secret_hash):
            return "wrong secret"
        if record.revoked_at is not None:
            return "revoked"
        if record.user_disabled:
            return "user disabled"
        now = self._clock()
        if record.expires_at is not None and record.expires_at <= now:
            return "expired"
        self._last_used[record.key_id] = now
        return principal

    def take_last_used(self) -> dict[int, float]:
        """The last uses recorded since the previous call (key id → unix seconds), handed over."""
        pending, self._last_used = self._last_used, {}
        return pending

    def write_last_used(self, pending: dict[int, float]) -> None:
        """Write what `take_last_used` returned, in one transaction (blocking)."""
        self._store.touch_api_keys(pending)
