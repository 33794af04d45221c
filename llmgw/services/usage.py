"""Usage reports over the ledger, for the CLI, the portal (and later the TUI). The reports from the
hourly rollups (`report`, `series` and their dataclasses) live in `usage_report.py`, re-exported here."""

from __future__ import annotations

import time
from dataclasses import dataclass

from llmgw.errors import PermissionDenied
from llmgw.services import audit
from llmgw.services.audit import Actor
from llmgw.services.usage_report import (
    Grain,
    GroupBy,
    SeriesPoint,
    UsageGroup,
    UsageReport,
    UsageStats,
    report,
    series,
)
from llmgw.settings import Config
from llmgw.storage import ModelUsage, Store, Totals, UsageSummary

__all__ = [
    "Grain",
    "GroupBy",
    "ModelUsage",
    "RequestLine",
    "SeriesPoint",
    "Totals",
    "UsageGroup",
    "UsageReport",
    "UsageStats",
    "UsageSummary",
    "my_recent_requests",
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


def my_recent_requests(store: Store, actor: Actor, *, now: float | None = None) -> list[RequestLine]:
    """The acting user's own newest requests (at most `RECENT_ROWS`, within `RECENT_DAYS`), newest
    first: never anyone else's. Only for a portal user (the CLI has `llmgw usage`)."""
    with store.accounts(write=False) as accounts:
        me = audit.acting_user(accounts, actor)
    if me is None:
        raise PermissionDenied("recent usage is per user: use `llmgw usage` at the CLI")
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
        )
        for r in store.recent_requests_of(me.id, since, RECENT_ROWS)
    ]


def summary(config: Config, since: float | None) -> UsageSummary:
    """Requests, errors and tokens since `since` (unix seconds, whole UTC hours: read from the hourly
    rollups; None = all time), by provider and model, and how many requests failed authentication."""
    with Store.open(config.server.database) as store:
        out = store.usage_summary(since)
        out.auth_failures = store.auth_failure_count(since)
        return out
