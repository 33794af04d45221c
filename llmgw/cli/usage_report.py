"""`llmgw usage --by … / --user / --until / --csv`: the report from the hourly rollups as a table, JSON
or CSV; and `llmgw usage purge`. A cost is never shown as 0 when prices were missing: it is marked
(`+`: at least this much; `?`: unknown) and the models without a price are named under the table."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from llmgw.cli.tables import iso_time
from llmgw.services.csv_export import usage_csv
from llmgw.services.retention import Purged
from llmgw.services.usage import UsageGroup, UsageReport, UsageStats

__all__ = ["error_counts", "error_notes", "format_purged", "print_csv", "report_json", "report_table"]

# errors in all, then by kind: the upstream's (and their rate), the gateway's refusals, bad requests
_NUMBERS = (
    "requests",
    "errors",
    "upstream",
    "upstr %",
    "policy",
    "client",
    "prompt",
    "completion",
    "total",
    "cached",
    "cost $",
)
_TIMINGS = ("p50 ms", "p95 ms", "ttft p50", "ttft p95")


def cost_text(stats: UsageStats) -> str:
    """The cost as people should read it: `+` when some requests had no price, `?` when none had."""
    if stats.unpriced_requests and not stats.cost_usd:
        return "?"
    return f"{stats.cost_usd:,.4f}" + ("+" if stats.unpriced_requests else "")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _cells(label: str, s: UsageStats) -> list[str]:
    return [
        label,
        f"{s.requests:,}",
        f"{s.errors:,}",
        f"{s.errors_upstream:,}",
        f"{100 * s.upstream_error_rate:.1f}",
        f"{s.errors_policy:,}",
        f"{s.errors_client:,}",
        f"{s.prompt_tokens:,}",
        f"{s.completion_tokens:,}",
        f"{s.total_tokens:,}",
        f"{s.cached_tokens:,}",
        cost_text(s),
        _ms(s.latency_p50_ms),
        _ms(s.latency_p95_ms),
        _ms(s.ttft_p50_ms),
        _ms(s.ttft_p95_ms),
    ]


_KIND_NAMES = {"upstream": "upstream errors", "policy": "policy refusals", "client": "client errors"}


def error_notes(s: UsageStats) -> list[str]:
    """Lines under a table: each kind's count, share of the requests and codes; the unclassified."""
    lines = []
    for kind, n in (
        ("upstream", s.errors_upstream),
        ("policy", s.errors_policy),
        ("client", s.errors_client),
    ):
        if n:
            codes = ", ".join(f"{e.code or '(no code)'} {e.count:,}" for e in s.codes_of(kind))
            share = 100 * n / s.requests if s.requests else 0.0
            lines.append(f"{_KIND_NAMES[kind]}: {n:,} ({share:.1f}% of requests): {codes}")
    if s.errors_unclassified:
        lines.append(
            f"unclassified errors: {s.errors_unclassified:,} (counted before error kinds were recorded)"
        )
    return lines


def _aligned(rows: Sequence[list[str]], rules: Sequence[int]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        if n in rules:
            lines.append("  ".join("-" * w for w in widths))
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    return "\n".join(lines)


def report_table(rep: UsageReport, user: str | None) -> str:
    """One line per group and a totals line; then the range and the unpriced models."""
    headers = [rep.by or "", *_NUMBERS, *_TIMINGS]
    body = [
        _cells(g.label + (f" (via {', '.join(g.aliases)})" if g.aliases else ""), g.stats) for g in rep.groups
    ]
    table = _aligned([headers, *body, _cells("total", rep.total)], rules=(1, len(body) + 1))
    notes = [
        f"from {iso_time(rep.since) or 'the start'} to {iso_time(rep.until) or 'now'}"
        + (f", user {user}" if user else "")
        + " (whole UTC hours)"
    ]
    notes += error_notes(rep.total)
    if rep.total.unpriced_requests:
        notes.append(
            f"cost: {rep.total.unpriced_requests:,} request(s) had no known price and are not in it "
            f"(+ at least, ? unknown): {', '.join(rep.unpriced_models)}"
        )
    return "\n".join([table, "", *notes])


def _round(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)  # estimates from buckets: more digits say nothing


def error_counts(s: UsageStats) -> dict[str, Any]:
    """The errors by kind and their codes, as JSON fields (`llmgw usage --json` and the report's)."""
    return {
        "errors_upstream": s.errors_upstream,
        "errors_policy": s.errors_policy,
        "errors_client": s.errors_client,
        "errors_unclassified": s.errors_unclassified,
        "error_codes": [{"kind": e.kind, "code": e.code, "count": e.count} for e in s.error_codes],
    }


def _stats_json(s: UsageStats) -> dict[str, Any]:
    return {
        "requests": s.requests,
        "errors": s.errors,
        "error_rate": s.error_rate,
        "upstream_error_rate": s.upstream_error_rate,
        **error_counts(s),
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "total_tokens": s.total_tokens,
        "cached_tokens": s.cached_tokens,
        "cache_write_tokens": s.cache_write_tokens,
        "reasoning_tokens": s.reasoning_tokens,
        "cost_usd": s.cost_usd,
        "unpriced_requests": s.unpriced_requests,
        "latency_p50_ms": _round(s.latency_p50_ms),
        "latency_p95_ms": _round(s.latency_p95_ms),
        "ttft_p50_ms": _round(s.ttft_p50_ms),
        "ttft_p95_ms": _round(s.ttft_p95_ms),
    }


def _group_json(g: UsageGroup) -> dict[str, Any]:
    return {
        "label": g.label,
        "user_id": g.user_id,
        "api_key_id": g.api_key_id,
        "provider": g.provider,
        "model": g.model,
        "aliases": list(g.aliases),
        "bucket_start": iso_time(g.bucket_start),
        **_stats_json(g.stats),
    }


def report_json(rep: UsageReport, user: str | None) -> str:
    """The total's counters at the top level (the names `llmgw usage --json` uses), the range, and
    `groups` when grouped."""
    data: dict[str, Any] = {
        **_stats_json(rep.total),
        "since": iso_time(rep.since),
        "until": iso_time(rep.until),
        "user": user,
        "by": rep.by,
        "unpriced_models": rep.unpriced_models,
    }
    if rep.by is not None:
        data["groups"] = [_group_json(g) for g in rep.groups]
    return json.dumps(data, indent=2)


def print_csv(rep: UsageReport) -> None:
    """The report as the one CSV layout (`csv_export.usage_csv`), its bytes as they are: CRLF line
    ends and UTF-8 whatever the platform's newline or the locale's encoding."""
    sys.stdout.flush()
    sys.stdout.buffer.write(usage_csv(rep).encode("utf-8"))
    sys.stdout.buffer.flush()


def format_purged(purged: Purged) -> str:
    """What `llmgw usage purge` removed, and the retention it applied."""
    lines = []
    if purged.requests_before is None:
        lines.append("ledger rows: kept forever (usage_retention_days = 0)")
    else:
        lines.append(
            f"ledger rows: {purged.requests:,} purged, created before {iso_time(purged.requests_before)}"
        )
    if purged.rollups_before is None:
        lines.append("hourly rollups: kept forever (rollup_retention_days = 0)")
    else:
        lines.append(
            f"hourly rollups: {purged.rollups:,} purged, hours ended by {iso_time(purged.rollups_before)}"
        )
    if purged.responses_before is None:
        lines.append("stored responses: kept forever (response_retention_days = 0)")
    else:
        lines.append(
            f"stored responses: {purged.responses:,} purged (with the records of which upstream key made "
            f"one), created before {iso_time(purged.responses_before)}"
        )
    return "\n".join(lines)
