"""Upstream API keys of one provider, used in rotation, with cool-downs and exclusions.

A 429 cools a key for the upstream's Retry-After, or for an escalating default (1 s, 2 s, 4 s … 60 s).
A 401/403 takes the key out until its secret changes: `refresh` (fed by a periodic re-read of the
keyring) compares fingerprints, so a rotated secret is picked up without a restart and the old one is
never retried. The pool holds secrets in memory only; logs name keys by 1-based index.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

log = logging.getLogger("llmgw.keys")

BASE_COOLDOWN = 1.0
MAX_COOLDOWN = 60.0


def fingerprint(secret: str) -> str:
    """First 12 hex digits of the SHA-256 of `secret`: notices a changed secret without keeping it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


@dataclass(slots=True)
class _Key:
    secret: str
    fingerprint: str
    cool_until: float = 0.0
    strikes: int = 0  # consecutive 429s without a Retry-After, for escalation
    rejected: bool = False


class KeyPool:
    """Round-robin over the usable keys of one provider."""

    def __init__(self, provider: str, secrets: list[str]) -> None:
        self.provider = provider
        self._keys = [_Key(s, fingerprint(s)) for s in secrets]
        self._next = 0

    def __len__(self) -> int:
        return len(self._keys)

    def acquire(
        self, now: float | None = None, exclude: frozenset[int] = frozenset()
    ) -> tuple[int, str] | None:
        """The next usable key as (1-based index, secret), skipping `exclude`; None if there is none."""
        now = time.monotonic() if now is None else now
        n = len(self._keys)
        for step in range(n):
            i = (self._next + step) % n
            k = self._keys[i]
            if not k.rejected and k.cool_until <= now and (i + 1) not in exclude:
                self._next = (i + 1) % n
                return i + 1, k.secret
        return None

    def soonest(self, now: float | None = None) -> float | None:
        """Seconds until a cooling key is usable again; None if no key will ever be (all rejected)."""
        now = time.monotonic() if now is None else now
        waits = [max(0.0, k.cool_until - now) for k in self._keys if not k.rejected]
        return min(waits) if waits else None

    def rate_limited(self, index: int, retry_after: float | None, now: float | None = None) -> float:
        """Cool key `index`; returns the cool-down applied."""
        now = time.monotonic() if now is None else now
        k = self._keys[index - 1]
        if retry_after is not None and retry_after >= 0:
            wait = min(retry_after, 3600.0)
        else:
            wait = min(BASE_COOLDOWN * 2**k.strikes, MAX_COOLDOWN)
            k.strikes += 1
        k.cool_until = max(k.cool_until, now + wait)
        return wait

    def rejected(self, index: int, status: int) -> None:
        """The upstream refused key `index` (401/403): out until its secret changes. Logged once."""
        k = self._keys[index - 1]
        if not k.rejected:
            k.rejected = True
            log.warning(
                "provider %s key #%d rejected by upstream (HTTP %d); disabled until its secret changes",
                self.provider,
                index,
                status,
            )

    def succeeded(self, index: int) -> None:
        self._keys[index - 1].strikes = 0

    def refresh(self, secrets: list[str]) -> None:
        """Adopt a re-read key list; keys whose secret is unchanged keep their state."""
        old = {k.fingerprint: k for k in self._keys}
        fresh: list[_Key] = []
        for s in secrets:
            fp = fingerprint(s)
            fresh.append(old.get(fp) or _Key(s, fp))
        if [k.fingerprint for k in fresh] != [k.fingerprint for k in self._keys]:
            log.info("provider %s: key list changed (%d keys)", self.provider, len(fresh))
        self._keys = fresh
        self._next = self._next % len(fresh) if fresh else 0
