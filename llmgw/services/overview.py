"""The administrators' overview, where they land in the portal: today's requests, spend and errors by
kind (the UTC day, from the ledger's rows), the users and keys at or past `NEAR_BUDGET` of a day's or
a month's budget (`limits.limits_with_spend`), and the upstream keys' states the running gateway
publishes (`key_states.published_states`). Administrators only."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final

from llmgw.errors import ErrorKind
from llmgw.services import audit, key_states, limits
from llmgw.services.audit import Actor
from llmgw.services.limits import LimitUse
from llmgw.storage import Store

__all__ = ["ERROR_KINDS", "NEAR_BUDGET", "Overview", "ProviderKeys", "Today", "admin_overview"]

NEAR_BUDGET: Final = 0.8  # a budget used this much or more is worth an administrator's look
ERROR_KINDS: Final[tuple[ErrorKind, ...]] = ("client", "policy", "upstream")


@dataclass(frozen=True, slots=True)
class Today:
    """The UTC day so far: [start, start + 1 day)."""

    start: float
    requests: int
    errors: int
    errors_by_kind: dict[str, int]  # every kind of `ERROR_KINDS`, 0 included; "" for rows without one
    tokens: int
    cost_usd: float  # the priced requests' cost
    unpriced: int  # requests that used tokens without a known price: the cost is a lower bound

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(self.start))


@dataclass(frozen=True, slots=True)
class ProviderKeys:
    """One provider's upstream keys by state, as the gateway last published them."""

    provider: str
    ok: int = 0
    cooling: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)  # the last refusals of keys not ok


@dataclass(frozen=True, slots=True)
class Overview:
    today: Today
    near_budget: list[LimitUse]  # the most used first
    providers: list[ProviderKeys]  # empty: nothing published yet
    keys_live: bool  # a gateway published the states within the last seconds
    keys_age: float | None  # seconds since it last did (None: never)


def _day_start(now: float) -> float:
    return float(int(now // 86400) * 86400)  # UTC days are whole multiples of 86400 unix seconds


def _providers(states: key_states.PublishedStates) -> list[ProviderKeys]:
    counts: dict[str, dict[str, int]] = {}
    reasons: dict[str, list[str]] = {}
    for row in states.rows:
        counts.setdefault(row.provider, {"ok": 0, "cooling": 0, "rejected": 0})[row.state] += 1
        if row.state != "ok" and row.reason:
            reasons.setdefault(row.provider, []).append(f"{row.mask}: {row.reason}")
    return [ProviderKeys(name, **c, reasons=reasons.get(name, [])) for name, c in sorted(counts.items())]


def admin_overview(store: Store, actor: Actor, *, now: float | None = None) -> Overview:
    """What an administrator sees first. PermissionDenied for anyone else."""
    at = time.time() if now is None else now
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
    start = _day_start(at)
    counts = store.request_counts(start, start + 86400)
    by_kind = {kind: 0 for kind in ERROR_KINDS} | counts["errors_by_kind"]
    today = Today(
        start,
        counts["requests"],
        counts["errors"],
        by_kind,
        counts["tokens"],
        counts["cost_usd"],
        counts["unpriced"],
    )
    uses = limits.limits_with_spend(store, actor, now=at)
    near = sorted(
        (u for u in uses if u.used is not None and u.used >= NEAR_BUDGET),
        key=lambda u: u.used or 0.0,
        reverse=True,
    )
    states = key_states.published_states(store, actor)
    return Overview(today, near, _providers(states), states.live(at), states.age(at))
