"""Usage over the ledger, for the CLI, the portal and the TUI: one's newest requests, the TUI
dashboard's activity and live tail (raw ledger rows). The reports from the hourly rollups (`report`,
`series`, `summary` and their dataclasses) live in `usage_report.py`, re-exported here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from llmgw.errors import PermissionDenied
from llmgw.services import account_labels, audit
from llmgw.services.account_labels import deleted_user_label, key_label
from llmgw.services.audit import Actor
from llmgw.services.usage_report import (
    Grain,
    GroupBy,
    SeriesPoint,
    UsageGroup,
    UsageReport,
    UsageStats,
    UsageSummary,
    report,
    series,
    summary,
)
from llmgw.storage import Store

__all__ = [
    "ActivityBucket",
    "Grain",
    "GroupBy",
    "LiveRequest",
    "RequestLine",
    "SeriesPoint",
    "UsageGroup",
    "UsageReport",
    "UsageStats",
    "UsageSummary",
    "activity",
    "live_tail",
    "my_recent_requests",
    "recent_requests",
    "report",
    "series",
    "summary",
]

RECENT_DAYS = 7
RECENT_ROWS = 50


@dataclass(frozen=True, slots=True)
class RequestLine:
    """One request as its user sees it in the portal."""

    at: float
    endpoint: str
    model: str | None
    provider: str | None
    status: int
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float | None
    streamed: bool
    request_id: str = ""  # the `x-request-id` its client got
    key: str | None = None  # `name (public id)` of the key that made it; None: no key
    error_code: str | None = None  # `error_type`, e.g. `budget_exceeded`
    error_kind: str | None = None  # client, policy or upstream


def my_recent_requests(store: Store, actor: Actor, *, now: float | None = None) -> list[RequestLine]:
    """The acting user's own newest requests (at most `RECENT_ROWS`, within `RECENT_DAYS`), newest
    first: never anyone else's. Only for a portal user (the CLI has `llmgw usage`)."""
    return recent_requests(store, actor, None, now=now)


def recent_requests(
    store: Store, actor: Actor, user: str | None, *, now: float | None = None
) -> list[RequestLine]:
    """One user's newest requests (at most `RECENT_ROWS`, within `RECENT_DAYS`), newest first: the
    acting user's own (`user` None), or the named user's for an administrator (anyone else naming
    another user: PermissionDenied; no such user: AccountNotFound)."""
    with store.accounts(write=False) as accounts:
        target = audit.visible_user(accounts, actor, user, "requests", own_by_default=True)
        if target is None:
            raise PermissionDenied("recent usage is per user: use `llmgw usage` at the CLI")
        names = account_labels.load(accounts, target.id)
    since = (time.time() if now is None else now) - RECENT_DAYS * 86400
    return [
        RequestLine(
            r["created_at"],
            r["endpoint"],
            r["model_requested"],
            r["provider"],
            r["status"],
            r["prompt_tokens"],
            r["completion_tokens"],
            r["latency_ms"],
            r["streamed"],
            r["request_id"],
            None if r["api_key_id"] is None else names.key(r["api_key_id"]),
            r["error_type"],
            r["error_kind"],
        )
        for r in store.recent_requests_of(target.id, since, RECENT_ROWS)
    ]


@dataclass(frozen=True, slots=True)
class ActivityBucket:
    """What happened in one time bucket: `start` (unix seconds) up to `start` + the bucket's width."""

    start: float
    requests: int
    errors: int
    tokens: int
    cost_usd: float
    errors_upstream: int = 0  # of `errors`: the provider, or the way to it, failed

    @property
    def error_rate(self) -> float:
        """Errors per request, 0.0 without requests."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def upstream_error_rate(self) -> float:
        """Upstream errors per request, 0.0 without requests."""
        return self.errors_upstream / self.requests if self.requests else 0.0


def activity(
    store: Store, actor: Actor, *, buckets: int, width: int, now: float | None = None
) -> list[ActivityBucket]:
    """The last `buckets` buckets of `width` seconds, the current one last (it is still filling), every
    bucket present (empty ones as zeros): the TUI dashboard's charts. Administrators only. Reads one
    range of the `created_at` index."""
    if buckets < 1 or width < 1:
        raise ValueError("buckets and width must be at least 1")
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
    current = int((time.time() if now is None else now) // width)
    first = current - buckets + 1
    found = {row["bucket"]: row for row in store.request_activity(first * width, width)}
    out = []
    for bucket in range(first, current + 1):
        row = found.get(bucket)
        out.append(
            ActivityBucket(
                float(bucket * width),
                row["requests"] if row else 0,
                row["errors"] if row else 0,
                row["tokens"] if row else 0,
                float(row["cost_usd"]) if row else 0.0,
                row["errors_upstream"] if row else 0,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class LiveRequest:
    """One request in the administrators' live tail."""

    request_id: str
    at: float
    user: str | None  # None: the legacy proxy key; "deleted user NAME (#id)" for a user deleted since
    model: str | None
    provider: str | None
    status: int
    tokens: int | None
    latency_ms: float | None
    key: str | None = None  # `name (public id)` of the key that made it; None: the proxy key
    error_code: str | None = None  # `error_type`, e.g. `upstream_error`
    error_kind: str | None = None  # client, policy or upstream


def _key_label(r: dict[str, Any]) -> str | None:
    if r["api_key_id"] is None:
        return None
    live = f"{r['key_name']} ({r['key_public_id']})" if r["key_name"] is not None else None
    gone = (
        f"{r['deleted_key_name']} ({r['deleted_key_public_id']})"
        if r["deleted_key_name"] is not None
        else None
    )
    return key_label(r["api_key_id"], live, gone)


def _user_label(r: dict[str, Any]) -> str | None:
    if r["user_id"] is None:
        return None
    return r["user_name"] or deleted_user_label(r["user_id"], r["deleted_user_name"])


def live_tail(store: Store, actor: Actor, limit: int = 20) -> list[LiveRequest]:
    """The newest `limit` requests of everyone, newest first. Administrators only."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
    return [
        LiveRequest(
            r["request_id"],
            r["created_at"],
            _user_label(r),
            r["model_requested"],
            r["provider"],
            r["status"],
            r["total_tokens"],
            r["latency_ms"],
            _key_label(r),
            r["error_type"],
            r["error_kind"],
        )
        for r in store.recent_requests_with_users(limit)
    ]
