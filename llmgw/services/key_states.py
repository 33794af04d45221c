"""The upstream keys' states as the running gateway last published them (`relay/key_states.py`), for
the front ends: read them, tell whether they are fresh, and match them to the keyring's keys.

A published row names a key by provider, slot (`openai.N`) and display mask; a keyring or environment
secret is named `openai.N` too. Matching (`match`):

- same provider, slot and mask: the key the server used in that slot;
- else the one row of the provider with that mask: the keys were reordered (deleted, re-added) since
  the server's last re-read, so slots moved but the key is the same one. Masks show at most 7
  characters, and every key under 12 characters masks as `****`, so two keys can share one: when more
  than one row of the provider has the mask, slot order decides nothing and the key is left unmatched
  rather than shown with another key's state;
- else none: the server has not read this key (added or changed since its last re-read, every
  `key_refresh_interval` seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmgw.services.audit import Actor, require_admin
from llmgw.storage import KeyStateRow, Store

__all__ = ["STALE_AFTER", "KeyStateRow", "PublishedStates", "match", "published_states"]

# The gateway writes at least every 5 s while it runs: older than this, it has stopped (or cannot write).
STALE_AFTER = 10.0


@dataclass(frozen=True)
class PublishedStates:
    rows: tuple[KeyStateRow, ...]

    @property
    def updated_at(self) -> float | None:
        """When the gateway last wrote them (None: never)."""
        return max((r.updated_at for r in self.rows), default=None)

    def age(self, now: float) -> float | None:
        at = self.updated_at
        return None if at is None else max(0.0, now - at)

    def live(self, now: float) -> bool:
        """Whether a gateway is publishing now (its last write is recent)."""
        age = self.age(now)
        return age is not None and age <= STALE_AFTER

    def of(self, provider: str) -> list[KeyStateRow]:
        return [r for r in self.rows if r.provider == provider]


def published_states(store: Store, actor: Actor) -> PublishedStates:
    """Every published key state, by provider and slot. Administrators only."""
    with store.accounts(write=False) as accounts:
        require_admin(accounts, actor)
    return PublishedStates(tuple(store.key_states()))


def match(rows: Sequence[KeyStateRow], provider: str, slot: int, mask: str) -> KeyStateRow | None:
    """The published row of the key `provider.slot` whose display mask is `mask` (module doc)."""
    mine = [r for r in rows if r.provider == provider]
    exact = [r for r in mine if r.slot == slot and r.mask == mask]
    if exact:
        return exact[0]
    same_mask = [r for r in mine if r.mask == mask]
    return same_mask[0] if len(same_mask) == 1 else None
