"""Usage reports from the hourly rollups: totals, groups (by user, key, model, provider, hour, day,
month), zero-filled time series and the plain summary (`llmgw usage`), for the CLI, the portal's
dashboards and the TUI. Every number is a `UsageStats` (storage/rollups.py, the one declaration of the
usage counters); `csv_export.usage_csv` is the one CSV layout of a report.

Who sees what: an administrator (or the local administrator at the CLI) sees everyone and may narrow
to one `user`; anyone else sees only their own usage (`user` may only name themself).

Ranges are [since, until) in unix seconds and read whole UTC hours: the rollups are hourly, so an edge
inside an hour takes that whole hour (a report "since 14:30" counts from 14:00). Raw ledger rows are
never read, so reports keep working after retention purged the rows.
"""

from __future__ import annotations

import calendar
import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from llmgw.services import account_labels, audit
from llmgw.services.account_labels import AccountLabels
from llmgw.services.audit import Actor
from llmgw.storage import USAGE_SOURCES, Store, UsageStats

__all__ = [
    "Grain",
    "GroupBy",
    "SeriesPoint",
    "UsageGroup",
    "UsageReport",
    "UsageStats",
    "UsageSummary",
    "report",
    "series",
    "summary",
]

GroupBy = Literal["user", "key", "model", "provider", "hour", "day", "month"]
Grain = Literal["hour", "day", "month"]

# The rollup dimensions each grouping reads (the first ones name the group; the rest fill its ids).
_DIMS: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "key": ("key", "user"),
    "model": ("provider", "upstream_model", "model"),  # merged into one group per model (`_by_model`)
    "provider": ("provider",),
    "hour": ("hour",),
    "day": ("day",),
    "month": ("month",),
}
_TIME = ("hour", "day", "month")


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
    aliases: tuple[str, ...] = ()  # model groups: the other names requests used for it (an alias)


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Usage over a range: the total, and one group per line when grouped `by`."""

    since: float | None
    until: float | None
    by: GroupBy | None
    groups: list[UsageGroup]  # time groups oldest first; others by cost, then requests, descending
    total: UsageStats
    unpriced_models: list[str]  # "provider/model" of the requests without a known price


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket of one label of a time series."""

    bucket_start: float
    label: str
    stats: UsageStats


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """`llmgw usage` without options: the report by model (most requests first), the totals by where
    the token counts came from (`provider`, `estimated`, `none`: all three, always), and the requests
    refused for a missing or wrong key (they have no ledger rows: only this count)."""

    report: UsageReport
    by_source: dict[str, UsageStats]
    auth_failures: int


def _scope(store: Store, actor: Actor, user: str | None) -> tuple[int | None, AccountLabels]:
    """Whose rows the actor may read (a user id, or None: everyone) and the names to label them by."""
    with store.accounts(write=False) as accounts:
        row = audit.visible_user(accounts, actor, user, "usage")
        user_id = None if row is None else row.id
        names = account_labels.load(accounts, user_id)
    return user_id, names


def model_label(provider: str | None, model: str | None, upstream: str | None = None) -> str:
    """`provider/model`: the model a request was sent to (`upstream`, its provider's name for it), so
    an alias and the name it routes to are one model. A row without one (never routed: an unknown
    model; or summed before m015 recorded it) is the model as the request named it, prefixed with the
    provider that served it unless it already is (`oai/gpt-4o` stays; an alias `smart` served by `oai`
    is `oai/smart`)."""
    if provider and upstream:
        return f"{provider}/{upstream}"
    name = model or "(unknown model)"
    if not provider or name.startswith(f"{provider}/"):
        return name
    return f"{provider}/{name}"


def _by_model(rows: dict[tuple[Any, ...], UsageStats]) -> dict[tuple[Any, ...], UsageGroup]:
    """Rollup groups keyed (…, provider, upstream model, requested model) merged into one group per
    model label, keyed (…, label): the names a request used other than the model's own (an alias) in
    its `aliases`."""
    out: dict[tuple[Any, ...], UsageGroup] = {}
    routed: set[tuple[Any, ...]] = set()  # groups whose provider and model come from a routed row
    for (*head, provider, upstream, requested), stats in rows.items():
        label = model_label(provider, requested, upstream)
        alias = (requested,) if upstream and requested not in (upstream, label) else ()
        key = (*head, label)
        found = out.get(key)
        group = UsageGroup(label, stats, provider=provider, model=upstream or requested, aliases=alias)
        if found is not None:
            # What a routed row says of the model wins over a row that only names it (no target).
            base = group if upstream and key not in routed else found
            group = dataclasses.replace(
                base, stats=found.stats + stats, aliases=tuple(sorted({*found.aliases, *alias}))
            )
        if upstream:
            routed.add(key)
        out[key] = group
    return out


def bucket_label(start: float, grain: str) -> str:
    """A bucket's start as people read it: `2026-11-01T14:00Z`, `2026-11-01`, `2026-11`."""
    fmt = {"hour": "%Y-%m-%dT%H:00Z", "day": "%Y-%m-%d", "month": "%Y-%m"}[grain]
    return datetime.fromtimestamp(start, UTC).strftime(fmt)


def _group(by: str, group: tuple[Any, ...], stats: UsageStats, names: AccountLabels) -> UsageGroup:
    if by == "user":
        user_id = group[0]
        return UsageGroup(names.user(user_id), stats, user_id=user_id, deleted=names.user_deleted(user_id))
    if by == "key":
        key_id = group[0]
        deleted = names.key_deleted(key_id)
        return UsageGroup(names.key(key_id), stats, user_id=group[1], api_key_id=key_id, deleted=deleted)
    if by == "provider":
        return UsageGroup(group[0] or "(no provider)", stats, provider=group[0])
    return UsageGroup(bucket_label(group[0], by), stats, bucket_start=float(group[0]))


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
    by_model = _by_model(store.usage_rollups(since=since, until=until, user_id=user_id, dims=_DIMS["model"]))
    groups: list[UsageGroup] = []
    if by == "model":
        groups = list(by_model.values())
    elif by is not None:
        rows = store.usage_rollups(since=since, until=until, user_id=user_id, dims=_DIMS[by])
        groups = [_group(by, group, stats, names) for group, stats in rows.items()]
    if by is not None and by not in _TIME:
        groups.sort(key=lambda g: (-g.stats.cost_usd, -g.stats.requests, g.label))
    return UsageReport(
        since=since,
        until=until,
        by=by,
        groups=groups,
        total=totals.get((), UsageStats()),
        unpriced_models=sorted(g.label for g in by_model.values() if g.stats.unpriced_requests),
    )


def summary(store: Store, actor: Actor, since: float | None) -> UsageSummary:
    """Everyone's usage since `since` (whole UTC hours; None: all time) by provider and model, by usage
    source, and the failed authentications. Administrators only (the local one at the CLI)."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
    rep = report(store, actor, since=since, until=None, by="model")
    groups = sorted(
        rep.groups,
        key=lambda g: (-g.stats.requests, g.provider is not None, g.provider or "", g.model or ""),
    )
    by_source = {name: UsageStats() for name in USAGE_SOURCES}
    for (source,), stats in store.usage_rollups(since=since, until=None, dims=("source",)).items():
        by_source[source] = stats
    return UsageSummary(dataclasses.replace(rep, groups=groups), by_source, store.auth_failure_count(since))


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
    cells: dict[str, dict[float, UsageStats]] = {}
    if split is None:
        cells["all"] = {}
    if split == "model":  # one label per model, as the report's rows: an alias inside its model
        labelled = {key: g.stats for key, g in _by_model(rows).items()}
    else:
        # Ids are never reused and a deleted user's label carries their id: one label per user.
        labelled = {(start, names.user(rest[0]) if split else "all"): t for (start, *rest), t in rows.items()}
    for (start, label), stats in labelled.items():
        cells.setdefault(label, {})[float(start)] = stats
    buckets = bucket_starts(since, until, grain)

    def weight(label: str) -> tuple[float, int, str]:
        ts = cells[label].values()
        return (-sum(t.cost_usd for t in ts), -sum(t.requests for t in ts), label)

    empty = UsageStats()
    return [
        SeriesPoint(start, label, cells[label].get(start, empty))
        for label in sorted(cells, key=weight)
        for start in buckets
    ]
