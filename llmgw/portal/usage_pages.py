"""The usage dashboards: one's own (`/usage`, with one's newest requests), everyone's for an
administrator (`/admin/usage`, split by user and by model) and one user's as an administrator sees
it (`/admin/usage/users/{name}`, with their newest requests), and their CSV exports
(`csv_export.usage_csv`, the layout every front end writes). The numbers come from
`services.usage.report` and `series`, which show a user only their own rows whatever is asked; the
charts are `charts.py`'s SVG, inline (no JavaScript, nothing the CSP must allow)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from llmgw.portal import charts
from llmgw.portal.usage_ranges import RANGES, TimeRange, time_range
from llmgw.portal.web import (
    PREFIX,
    admin_session,
    backend,
    current_session,
    not_found,
    redirect,
    render,
)
from llmgw.services import usage
from llmgw.services.audit import Actor
from llmgw.services.csv_export import usage_csv
from llmgw.services.database import Store
from llmgw.services.sessions import Session
from llmgw.services.usage import GroupBy, UsageGroup, UsageStats

Split = Literal["model", "user"]
_USER_EXPORTS: tuple[GroupBy, ...] = ("model", "key", "provider", "day", "hour")
_ADMIN_EXPORTS: tuple[GroupBy, ...] = ("user", "model", "key", "provider", "day", "hour")


# How an error kind reads on a page (None: counted before kinds were recorded).
KIND_NAMES = {
    "upstream": "upstream error",
    "policy": "refused by policy",
    "client": "client error",
    None: "unclassified",
}


def cost_text(stats: UsageStats) -> str:
    """The cost as people should read it: never $0 for requests without a price."""
    if stats.unpriced_requests and not stats.cost_usd:
        return f"unknown ({stats.unpriced_requests} unpriced)"
    text = charts.format_value(stats.cost_usd, "usd")
    return f"{text} + {stats.unpriced_requests} unpriced" if stats.unpriced_requests else text


@dataclass(frozen=True, slots=True)
class Breakdown:
    """One table of groups (by model, key or user), with its bar chart."""

    title: str
    by: GroupBy
    groups: list[UsageGroup]
    chart: Markup
    links: dict[str, str] = field(default_factory=dict)  # label → drill-down page


@dataclass(frozen=True, slots=True)
class Dashboard:
    range: TimeRange
    total: UsageStats
    unpriced_models: list[str]
    charts: list[Markup]
    breakdowns: list[Breakdown]


def _time_charts(points: list[usage.SeriesPoint], rng: TimeRange, split: str) -> list[Markup]:
    def chart(title: str, y_title: str, unit: charts.Unit, value: str) -> Markup:
        data = [charts.Point(p.bucket_start, p.label, float(getattr(p.stats, value))) for p in points]
        svg = charts.time_chart(title, data, grain=rng.grain, y_title=y_title, unit=unit)
        return Markup(svg)  # safe: charts.py escapes every label itself

    return [
        chart(f"Requests by {split}", "Requests", "count", "requests"),
        chart(f"Tokens by {split}", "Tokens", "count", "total_tokens"),
        chart(f"Cost by {split} (priced requests)", "Cost (USD)", "usd", "cost_usd"),
    ]


def _breakdown(
    store: Store, actor: Actor, rng: TimeRange, by: GroupBy, title: str, user: str | None, link: bool = False
) -> Breakdown:
    found = usage.report(store, actor, since=rng.since, until=rng.until, by=by, user=user)
    bars = charts.bar_chart(
        f"Total requests by {title.lower()}",
        [(g.label, g.stats.requests) for g in found.groups],
        x_title="Requests",
    )
    links = {}
    if link:
        links = {
            g.label: f"{PREFIX}/admin/usage/users/{quote(g.label, safe='')}?range={rng.key}"
            for g in found.groups
            if g.user_id is not None and not g.deleted  # a deleted user has no page (their name is free)
        }
    return Breakdown(title, by, found.groups, Markup(bars), links)  # safe: charts.py escapes labels


def user_dashboard(store: Store, actor: Actor, rng: TimeRange, user: str) -> Dashboard:
    """One user's view (the actor's own, or another's for an administrator): over time by model,
    breakdowns by model and by key."""
    total = usage.report(store, actor, since=rng.since, until=rng.until, user=user)
    points = usage.series(
        store, actor, since=rng.since, until=rng.until, grain=rng.grain, split="model", user=user
    )
    return Dashboard(
        rng,
        total.total,
        total.unpriced_models,
        _time_charts(points, rng, "model"),
        [
            _breakdown(store, actor, rng, "model", "Model", user),
            _breakdown(store, actor, rng, "key", "Key", user),
        ],
    )


def everyone_dashboard(store: Store, actor: Actor, rng: TimeRange) -> Dashboard:
    """An administrator's view: over time by user and by model, breakdowns by user (with links to
    each one's page) and by model."""
    total = usage.report(store, actor, since=rng.since, until=rng.until)
    by_user = usage.series(store, actor, since=rng.since, until=rng.until, grain=rng.grain, split="user")
    by_model = usage.series(store, actor, since=rng.since, until=rng.until, grain=rng.grain, split="model")
    return Dashboard(
        rng,
        total.total,
        total.unpriced_models,
        _time_charts(by_user, rng, "user") + _time_charts(by_model, rng, "model")[:1],
        [
            _breakdown(store, actor, rng, "user", "User", None, link=True),
            _breakdown(store, actor, rng, "model", "Model", None),
        ],
    )


def _range(request: Request) -> TimeRange:
    return time_range(request.query_params.get("range"), time.time())


def _page(
    request: Request,
    session: Session,
    board: Dashboard,
    *,
    heading: str,
    here: str,
    csv: str,
    **extra: object,
) -> Response:
    context = {
        "board": board,
        "heading": heading,
        "here": here,
        "ranges": RANGES,
        "csv": csv,
        "exports": _ADMIN_EXPORTS if csv.startswith(f"{PREFIX}/admin/") else _USER_EXPORTS,
        "cost_text": cost_text,
        "kind_names": KIND_NAMES,
        **extra,
    }
    return render(request, "usage_dashboard.html", session, context)


async def my_usage(request: Request) -> Response:
    """One's own dashboard and newest requests."""
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    store, rng = backend(request).store, _range(request)
    # named: an administrator's own page is theirs too, not everyone's
    board = await asyncio.to_thread(user_dashboard, store, session.actor, rng, session.user_name)
    lines = await asyncio.to_thread(usage.my_recent_requests, store, session.actor)
    extra = {"lines": lines, "days": usage.RECENT_DAYS, "rows": usage.RECENT_ROWS, "whose": None}
    return _page(
        request,
        session,
        board,
        heading="My usage",
        here=f"{PREFIX}/usage",
        csv=f"{PREFIX}/usage.csv",
        **extra,
    )


async def everyone_usage(request: Request) -> Response:
    session = await admin_session(request)
    board = await asyncio.to_thread(
        everyone_dashboard, backend(request).store, session.actor, _range(request)
    )
    here = f"{PREFIX}/admin/usage"
    return _page(request, session, board, heading="Usage of everyone", here=here, csv=f"{here}.csv")


async def user_usage(request: Request) -> Response:
    """One user's dashboard as an administrator sees it (an unknown name: 404)."""
    session = await admin_session(request)
    name = request.path_params["name"]
    store = backend(request).store
    board = await asyncio.to_thread(user_dashboard, store, session.actor, _range(request), name)
    lines = await asyncio.to_thread(usage.recent_requests, store, session.actor, name)
    here = f"{PREFIX}/admin/usage/users/{quote(name, safe='')}"
    return _page(
        request,
        session,
        board,
        heading=f"Usage of {name}",
        here=here,
        csv=f"{PREFIX}/admin/usage.csv",
        user=name,
        lines=lines,
        days=usage.RECENT_DAYS,
        rows=usage.RECENT_ROWS,
        whose=name,
    )


def _csv_response(text: str, rng: TimeRange, by: GroupBy) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="llmgw-usage-{rng.key}-by-{by}.csv"'},
    )


def _by(request: Request, allowed: tuple[GroupBy, ...]) -> GroupBy:
    by = request.query_params.get("by", "model")
    for choice in allowed:
        if by == choice:
            return choice
    raise not_found()


async def my_usage_csv(request: Request) -> Response:
    """One's own usage as CSV, grouped by `?by=`."""
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    rng, by = _range(request), _by(request, _USER_EXPORTS)
    found = await asyncio.to_thread(
        usage.report,
        backend(request).store,
        session.actor,
        since=rng.since,
        until=rng.until,
        by=by,
        user=session.user_name,
    )
    return _csv_response(usage_csv(found), rng, by)


async def everyone_usage_csv(request: Request) -> Response:
    """Everyone's usage as CSV (or one user's, `?user=`), grouped by `?by=`."""
    session = await admin_session(request)
    rng, by = _range(request), _by(request, _ADMIN_EXPORTS)
    user = request.query_params.get("user") or None
    found = await asyncio.to_thread(
        usage.report,
        backend(request).store,
        session.actor,
        since=rng.since,
        until=rng.until,
        by=by,
        user=user,
    )
    return _csv_response(usage_csv(found), rng, by)
