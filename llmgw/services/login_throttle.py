"""Login attempts limited per account and per client address, with growing delays.

After `free` failures for a key (an account name, or a client address), each further attempt must
wait `2 ** (failures - free)` seconds after the last failure, up to `MAX_DELAY`; an attempt made
sooner is refused without checking the password (so it costs no hash and cannot succeed). An attempt
counts as a failure from the moment it is let through (`failed` before the check), so parallel
attempts cannot all slip past one count; a success gives its address that failure back and clears
the account. Counts are forgotten after `FORGET_AFTER` without a failure: an office's occasional typos
never add up to a lockout. Held in memory, per process: a restart forgets it, which only gives an
attacker what the first `free` attempts give anyone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ACCOUNT_FREE", "ADDRESS_FREE", "FORGET_AFTER", "MAX_DELAY", "LoginThrottle"]

ACCOUNT_FREE = 5
ADDRESS_FREE = 20  # many people may share one address (NAT, an office proxy)
MAX_DELAY = 15 * 60.0
FORGET_AFTER = 24 * 3600.0
_MAX_ENTRIES = 50_000  # memory bound under a flood of names or addresses


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Failure counts by account and by address, with the delay each imposes."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._accounts: dict[str, _Failures] = {}
        self._addresses: dict[str, _Failures] = {}

    @staticmethod
    def _wait(f: _Failures | None, free: int, now: float) -> float:
        if f is None or f.count < free:
            return 0.0
        return max(0.0, f.last + min(2.0 ** (f.count - free), MAX_DELAY) - now)

    def allowed(self, account: str, address: str | None) -> bool:
        """Whether an attempt for `account` from `address` may be checked now."""
        now = self._clock()
        return (
            self._wait(self._accounts.get(account.lower()), ACCOUNT_FREE, now) == 0
            and self._wait(self._addresses.get(address or ""), ADDRESS_FREE, now) == 0
        )

    def failed(self, account: str, address: str | None) -> None:
        now = self._clock()
        for table, key in ((self._accounts, account.lower()), (self._addresses, address or "")):
            f = table.get(key)
            if f is not None and now - f.last > FORGET_AFTER:
                f.count = 0
            if f is None:
                if len(table) >= _MAX_ENTRIES:
                    self._prune(table, now)
                table[key] = _Failures(1, now)
            else:
                f.count += 1
                f.last = now

    def succeeded(self, account: str, address: str | None) -> None:
        """The attempt counted by `failed` was right after all."""
        self._accounts.pop(account.lower(), None)
        f = self._addresses.get(address or "")
        if f is not None:
            f.count = max(0, f.count - 1)

    @staticmethod
    def _prune(table: dict[str, _Failures], now: float) -> None:
        """Forget entries quiet for longer than the longest delay; if none are, the oldest half."""
        stale = [k for k, f in table.items() if now - f.last > MAX_DELAY]
        if not stale:
            stale = sorted(table, key=lambda k: table[k].last)[: len(table) // 2]
        for k in stale:
            del table[k]
