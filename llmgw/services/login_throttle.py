"""Login attempts limited per (account, client address) and per client address, with growing delays;
an account failing from many addresses is guarded, never locked for everyone.

- One address, one account: after `PAIR_FREE` failures, each further attempt must wait
  `2 ** (failures - PAIR_FREE)` seconds after the last failure, up to `MAX_DELAY`.
- One address, any accounts: the same after `ADDRESS_FREE` failures (many people may share one
  address: NAT, an office proxy).
- One account, any addresses: after `ACCOUNT_FREE` failures the account is guarded for as long as the
  same formula says; while it is, an address that failed for it within `MAX_DELAY` is refused, and any
  other address is still checked. So guesses spread over many addresses cost one address each per
  `MAX_DELAY`, and an attacker can never keep the owner out: the right password from an address that
  has not been failing always gets in.

An attempt refused here is not checked (it costs no hash and cannot succeed). An attempt counts as a
failure from the moment it is let through (`failed` before the check), so parallel attempts cannot all
slip past one count; a success forgets its address's failures for the account and gives the attempt
back to the address and the account; an attempt never checked (the hashing pool was full) is given
back everywhere. Counts are forgotten after `FORGET_AFTER` without a failure. An IPv6 address counts
as its /64 (one host usually holds a whole /64). Held in memory, per process: a restart forgets it,
which only gives an attacker what the first free attempts give anyone. On PostgreSQL
(`SharedLoginThrottle`) the counts live in the database's `login_failures`, so every instance behind a
load balancer counts and refuses alike; each call is a round trip (one transaction for a count), so
the portal calls it in a worker thread.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from llmgw.storage.pg_store import PostgresStore

__all__ = [
    "ACCOUNT_FREE",
    "ADDRESS_FREE",
    "FORGET_AFTER",
    "MAX_DELAY",
    "PAIR_FREE",
    "LoginThrottle",
    "SharedLoginThrottle",
    "throttle_for",
]

PAIR_FREE = 5
ADDRESS_FREE = 20
ACCOUNT_FREE = 10
MAX_DELAY = 15 * 60.0
FORGET_AFTER = 24 * 3600.0
_MAX_ENTRIES = 50_000  # memory bound of each table under a flood of names or addresses

_K = TypeVar("_K", bound=Hashable)


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


def _address_key(address: str | None) -> str:
    """What an address is counted as: an IPv6 address as its /64, anything else as it is."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    """Failure counts by (account, address), by address and by account, and what each lets through."""

    blocking = False  # whether its calls wait on the database (then: a worker thread)

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._pairs: dict[tuple[str, str], _Failures] = {}
        self._addresses: dict[str, _Failures] = {}
        self._accounts: dict[str, _Failures] = {}

    @staticmethod
    def _wait(f: _Failures | None, free: int, now: float) -> float:
        if f is None or f.count < free:
            return 0.0
        return max(0.0, f.last + min(2.0 ** (f.count - free), MAX_DELAY) - now)

    def allowed(self, account: str, address: str | None) -> bool:
        """Whether an attempt for `account` from `address` may be checked now."""
        now = self._clock()
        acct, addr = account.lower(), _address_key(address)
        if self._wait(self._addresses.get(addr), ADDRESS_FREE, now) > 0:
            return False
        pair = self._pairs.get((acct, addr))
        if self._wait(pair, PAIR_FREE, now) > 0:
            return False
        failing_here = pair is not None and now - pair.last < MAX_DELAY
        return not (failing_here and self._wait(self._accounts.get(acct), ACCOUNT_FREE, now) > 0)

    def failed(self, account: str, address: str | None) -> None:
        """Count an attempt as failed; called before it is checked."""
        now = self._clock()
        acct, addr = account.lower(), _address_key(address)
        self._count(self._pairs, (acct, addr), now)
        self._count(self._addresses, addr, now)
        self._count(self._accounts, acct, now)

    def succeeded(self, account: str, address: str | None) -> None:
        """The attempt counted by `failed` was right after all: this address's failures for the account
        are forgotten; the address and the account get the attempt back (an attack on the account
        goes on being guarded when its owner logs in)."""
        acct, addr = account.lower(), _address_key(address)
        self._pairs.pop((acct, addr), None)
        self._give_back(self._addresses, addr)
        self._give_back(self._accounts, acct)

    def unchecked(self, account: str, address: str | None) -> None:
        """The attempt counted by `failed` was never checked: it is given back everywhere."""
        acct, addr = account.lower(), _address_key(address)
        self._give_back(self._pairs, (acct, addr))
        self._give_back(self._addresses, addr)
        self._give_back(self._accounts, acct)

    @classmethod
    def _count(cls, table: dict[_K, _Failures], key: _K, now: float) -> None:
        f = table.get(key)
        if f is None:
            if len(table) >= _MAX_ENTRIES:
                cls._prune(table, now)
            table[key] = _Failures(1, now)
            return
        f.count = 1 if now - f.last > FORGET_AFTER else f.count + 1
        f.last = now

    @staticmethod
    def _give_back(table: dict[_K, _Failures], key: _K) -> None:
        f = table.get(key)
        if f is not None:
            f.count -= 1
            if f.count <= 0:
                del table[key]

    @staticmethod
    def _prune(table: dict[_K, _Failures], now: float) -> None:
        """Forget entries quiet for longer than the longest delay; if none are, the oldest half."""
        stale = [k for k, f in table.items() if now - f.last > MAX_DELAY]
        if not stale:
            stale = sorted(table, key=lambda k: table[k].last)[: len(table) // 2]
        for k in stale:
            del table[k]


class SharedLoginThrottle(LoginThrottle):
    """The same rules over the counts every instance shares (PostgreSQL's `login_failures`)."""

    blocking = True

    def __init__(self, store: PostgresStore, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._store = store

    @staticmethod
    def _entries(account: str, address: str | None) -> list[tuple[str, str]]:
        acct, addr = account.lower(), _address_key(address)
        return [("pair", f"{acct}\n{addr}"), ("address", addr), ("account", acct)]

    def allowed(self, account: str, address: str | None) -> bool:
        now = self._clock()
        pair_e, addr_e, acct_e = entries = self._entries(account, address)
        found = {k: _Failures(*v) for k, v in self._store.login_failures(entries).items()}
        if self._wait(found.get(addr_e), ADDRESS_FREE, now) > 0:
            return False
        pair = found.get(pair_e)
        if self._wait(pair, PAIR_FREE, now) > 0:
            return False
        failing_here = pair is not None and now - pair.last < MAX_DELAY
        return not (failing_here and self._wait(found.get(acct_e), ACCOUNT_FREE, now) > 0)

    def failed(self, account: str, address: str | None) -> None:
        now = self._clock()
        self._store.count_login_failures(self._entries(account, address), now, FORGET_AFTER)
        if now - self._pruned > MAX_DELAY:  # quiet counts go now and then, as the in-memory tables' do
            self._pruned = now
            self._store.prune_login_failures(now - FORGET_AFTER)

    def succeeded(self, account: str, address: str | None) -> None:
        pair, addr, acct = self._entries(account, address)
        self._store.forget_login_failures(pair)
        self._store.give_back_login_failures([addr, acct])

    def unchecked(self, account: str, address: str | None) -> None:
        self._store.give_back_login_failures(self._entries(account, address))

    _pruned = 0.0


def throttle_for(store: object) -> LoginThrottle:
    """The login throttle of a store: shared through PostgreSQL, else this process's memory."""
    if getattr(store, "postgres", False):
        return SharedLoginThrottle(store)  # type: ignore[arg-type]
    return LoginThrottle()
