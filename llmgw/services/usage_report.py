"""Usage reports from the hourly rollups: totals, groups (by user, key, model, provider, hour, day,
month) and zero-filled time series, for the CLI, the portal's dashboards and the TUI.

Who sees what: an administrator (or the local administrator at the CLI) sees everyone and may narrow
to one `user`; anyone else sees only their own usage (`user` may only name themself).

Ranges are [since, until) in unix seconds and read whole UTC hours: the rollups are hourly, so an edge
inside an hour takes that whole hour (a report "since 14:30" counts from 14:00). Raw ledger rows are
never read, so reports keep working after retention purged the rows.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from llmgw.errors import AccountNotFound, PermissionDenied
from llmgw.services import account_labels, audit
from llmgw.services.account_labels import AccountLabels
from llmgw.services.audit import Actor
from llmgw.storage import BOUNDS_MS, RollupTotals, Store

__all__ = [
    "Grain",
    "GroupBy",
    "SeriesPoint",
    "UsageGroup",
    "UsageReport",
    "UsageStats",
    "percentile",
    "report",
    "series",
]

GroupBy = Literal["user", "key", "model", "provider", "hour", "day", "month"]
Grain = Literal["hour", "day", "month"]

# The rollup dimensions each grouping reads (the first ones name the group; the rest fill its ids).
_DIMS: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "key": ("key", "user"),
    "model": ("provider", "model"),
    "provider": ("provider",),
    "hour": ("hour",),
    "day": ("day",),
    "month": ("month",),
}
_TIME = ("hour", "day", "month")


@dataclass(frozen=True, slots=True)
class UsageStats:
    """Totals over a set of requests, from the rollups. `cost_usd` sums the known costs only;
    `unpriced_requests` answered with tokens but had no price, so the true cost is higher when it is
    not 0. Percentiles are estimated from log-spaced buckets (None: no timings)."""

    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int
    cost_usd: float
    unpriced_requests: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None

    @property
    def error_rate(self) -> float:
        """Errors per request, 0.0 when there were none."""
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """One line of a grouped report: its label, its totals and what it is (the ids that apply).
    `deleted`: a user or key group of an account deleted since (its label says so)."""

    label: str
    stats: UsageStats
    user_id: int | None = None
    api_key_id: int | None = None
    provider: str | None = None
    model: str | None = None
    bucket_start: float | None = None  # hour, day or month groups: the bucket's start, unix seconds
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class UsageReport:
    since: float | None
    until: float | None
    by: GroupBy | None
    groups: list[UsageGroup]  # time groups oldest first; others by cost, then requests, descending
    total: UsageStats
    unpriced_models: list[str]  # "provider/model" of the requests without a known price


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    bucket_start: float
    label: str
    requests: int
    errors: int
    total_tokens: int
    cost_usd: float


def percentile(buckets: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram over `BOUNDS_MS` buckets, interpolated linearly inside
    its bucket; None for an empty histogram. Above the last bound: that bound."""
    n = sum(buckets)
    if n == 0:
        return None
    rank = q * n
    seen = 0
    for i, count in enumerate(buckets):
        if count and seen + count >= rank:
            if i >= len(BOUNDS_MS):
                return BOUNDS_MS[-1]
            low = BOUNDS_MS[i - 1] if i else 0.0
            return low + (BOUNDS_MS[i] - low) * max(rank - seen, 0.0) / count
        seen += count
    return BOUNDS_MS[-1]


def _stats(t: RollupTotals | None) -> UsageStats:
    if t is None:
        return UsageStats(0, 0, 0, 0, 0, 0, 0.0, 0, None, None, None, None)
    return UsageStats(
        requests=t.requests,
        errors=t.errors,
        prompt_tokens=t.prompt_tokens,
        completion_tokens=t.completion_tokens,
        total_tokens=t.total_tokens,
        cached_tokens=t.cached_tokens,
        cost_usd=t.cost_usd,
        unpriced_requests=t.unpriced,
        latency_p50_ms=percentile(t.latency_buckets, 0.50),
        latency_p95_ms=percentile(t.latency_buckets, 0.95),
        ttft_p50_ms=percentile(t.ttft_buckets, 0.50),
        ttft_p95_ms=percentile(t.ttft_buckets, 0.95),
    )


def _scope(store: Store, actor: Actor, user: str | None) -> tuple[int | None, AccountLabels]:
    """Whose rows the actor may read (a user id, or None: everyone) and the names to label them by."""
    with store.accounts(write=False) as accounts:
        me = audit.acting_user(accounts, actor)
        if me is not None and me.role != "admin":
            if user is not None and user.casefold() != me.name.casefold():
                raise PermissionDenied("you may see only your own usage")
            user_id: int | None = me.id
        elif user is None:
            user_id = None
        else:
            row = accounts.user_by_name(user)
            if row is None:
                raise AccountNotFound(f"no user {user!r}")
            user_id = row.id
        names = account_labels.load(accounts, user_id)
    return user_id, names


def model_label(provider: str | None, model: str | None) -> str:
    """`provider/model`: the model as the request named it, prefixed with the provider that served it
    unless it already is (`oai/gpt-4o` stays; an alias `smart` served by `oai` is `oai/smart`)."""
    name = model or "(unknown model)"
    if not provider or name.startswith(f"{provider}/"):
        return name
    return f"{provider}/{name}"


def bucket_label(start: float, grain: str) -> str:
    """A bucket's start as people read it: `2026-11-01T14:00Z`, `2026-11-01`, `2026-11`."""
    fmt = {"hour": "%Y-%m-%dT%H:00Z", "day": "%Y-%m-%d", "month": "%Y-%m"}[grain]
    return datetime.fromtimestamp(start, UTC).strftime(fmt)


def _group(by: str, t: RollupTotals, names: AccountLabels) -> UsageGroup:
    stats = _stats(t)
    if by == "user":
        user_id = t.group[0]
        return UsageGroup(names.user(user_id), stats, user_id=user_id, deleted=names.user_deleted(user_id))
    if by == "key":
        key_id = t.group[0]
        deleted = names.key_deleted(key_id)
        return UsageGroup(names.key(key_id), stats, user_id=t.group[1], api_key_id=key_id, deleted=deleted)
    if by == "model":
        provider, model = t.group
        return UsageGroup(model_label(provider, model), stats, provider=provider, model=model)
    if by == "provider":
        return UsageGroup(t.group[0] or "(no provider)", stats, provider=t.group[0])
    return UsageGroup(bucket_label(t.group[0], by), stats, bucket_start=float(t.group[0]))


def report(
    store: Store,
    actor: Actor,
    *,
    since: float | None,
    until: float | None,
    by: GroupBy | None = None,
    user: str | None = None,
) -> UsageReport:
    """Usage over [since, until) (whole UTC hours; None: unbounded), in total and grouped `by`, of
    everyone the actor may see or of one `user`. Raises PermissionDenied (a user asking about someone
    else) or AccountNotFound (no such user)."""
    user_id, names = _scope(store, actor, user)
    totals = store.usage_rollups(since=since, until=until, user_id=user_id)
    by_model = store.usage_rollups(since=since, until=until, user_id=user_id, dims=_DIMS["model"])
    groups: list[UsageGroup] = []
    if by is not None:
        rows = (
            by_model
            if by == "model"
            else store.usage_rollups(since=since, until=until, user_id=user_id, dims=_DIMS[by])
        )
        groups = [_group(by, t, names) for t in rows]
        if by not in _TIME:
            groups.sort(key=lambda g: (-g.stats.cost_usd, -g.stats.requests, g.label))
    return UsageReport(
        since=since,
        until=until,
        by=by,
        groups=groups,
        total=_stats(totals[0] if totals else None),
        unpriced_models=sorted(model_label(*t.group) for t in by_model if t.unpriced),
    )


def bucket_starts(since: float, until: float, grain: Grain) -> list[float]:
    """The starts of the UTC hours, days or months that overlap [since, until)."""
    if grain in ("hour", "day"):
        step = 3600 if grain == "hour" else 86400
        first = math.floor(since / step) * step
        return [float(t) for t in range(first, math.ceil(until), step) if t < until]
    at = datetime.fromtimestamp(since, UTC)
    year, month = at.year, at.month
    out: list[float] = []
    while (start := float(calendar.timegm((year, month, 1, 0, 0, 0)))) < until:
        out.append(start)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def series(
    store: Store,
    actor: Actor,
    *,
    since: float,
    until: float,
    grain: Grain,
    split: Literal["model", "user"] | None = None,
    user: str | None = None,
) -> list[SeriesPoint]:
    """Requests, errors, tokens and cost per hour, day or month over [since, until), for every bucket
    (zero-filled), per label: one label "all" without `split`, else each model (`provider/model`) or
    user seen in the range, biggest first (by cost, then requests). Same rights as `report`."""
    user_id, names = _scope(store, actor, user)
    split_dims = () if split is None else _DIMS[split]
    rows = store.usage_rollups(since=since, until=until, user_id=user_id, dims=(grain, *split_dims))
    cells: dict[str, dict[float, RollupTotals]] = {}
    if split is None:
        cells["all"] = {}
    for t in rows:
        start, *rest = t.group
        label = names.user(rest[0]) if split == "user" else model_label(*rest) if split else "all"
        # Ids are never reused and a deleted user's label carries their id: one label per user.
        cells.setdefault(label, {})[float(start)] = t
    buckets = bucket_starts(since, until, grain)

    def weight(label: str) -> tuple[float, int, str]:
        ts = cells[label].values()
        return (-sum(t.cost_usd for t in ts), -sum(t.requests for t in ts), label)

    out = []
    for label in sorted(cells, key=weight):
        for start in buckets:
            cell = cells[label].get(start)
            out.append(
                SeriesPoint(
                    bucket_start=start,
                    label=label,
                    requests=cell.requests if cell else 0,
                    errors=cell.errors if cell else 0,
                    total_tokens=cell.total_tokens if cell else 0,
                    cost_usd=cell.cost_usd if cell else 0.0,
                )
            )
    return out
