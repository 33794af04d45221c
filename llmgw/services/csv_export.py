"""The CSV export of a usage report: one layout, one writer, for every front end (`llmgw usage --csv`,
the portal's `.csv` pages, the TUI's `e`), so the same report is the same bytes wherever it is taken.
Pure. Cells are safe to open in a spreadsheet: a text cell (a user or model name) that starts with
`=`, `+`, `-`, `@` (or a tab or carriage return) would be read as a formula, so it gets a leading `'`
(OWASP, CSV injection); numbers are written as numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from llmgw.services.usage_report import UsageGroup, UsageReport, UsageStats

__all__ = ["USAGE_COLUMNS", "csv_document", "error_codes_text", "safe_cell", "usage_csv"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CsvValue = str | int | float | None

USAGE_COLUMNS = (
    "by",
    "label",
    "user_id",
    "api_key_id",
    "provider",
    "model",
    "aliases",
    "bucket_start",
    "requests",
    "errors",
    "error_rate",
    "errors_upstream",
    "upstream_error_rate",
    "errors_policy",
    "errors_client",
    "errors_unclassified",
    "error_codes",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unpriced_requests",
    "latency_p50_ms",
    "latency_p95_ms",
    "ttft_p50_ms",
    "ttft_p95_ms",
)


def safe_cell(value: CsvValue) -> str:
    """One cell's text: None empty, numbers as they are, text defused if a spreadsheet would run it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_document(header: Sequence[str], rows: Iterable[Sequence[CsvValue]]) -> str:
    """A header row and the rows, every cell through `safe_cell`, CRLF line ends (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def error_codes_text(s: UsageStats) -> str:
    """The error codes of each kind in one cell: `upstream:timeout=2 policy:rate_limited=5`
    (`unclassified:` for errors counted before kinds were recorded, `?` for no code)."""
    return " ".join(f"{e.kind or 'unclassified'}:{e.code or '?'}={e.count}" for e in s.error_codes)


def _row(by: str | None, g: UsageGroup) -> list[CsvValue]:
    s = g.stats
    bucket = None if g.bucket_start is None else datetime.fromtimestamp(g.bucket_start, UTC)
    return [
        by,
        g.label,
        g.user_id,
        g.api_key_id,
        g.provider,
        g.model,
        " ".join(g.aliases) or None,
        None if bucket is None else bucket.strftime("%Y-%m-%dT%H:%M:%SZ"),
        s.requests,
        s.errors,
        round(s.error_rate, 6),
        s.errors_upstream,
        round(s.upstream_error_rate, 6),
        s.errors_policy,
        s.errors_client,
        s.errors_unclassified,
        error_codes_text(s) or None,
        s.prompt_tokens,
        s.completion_tokens,
        s.total_tokens,
        s.cached_tokens,
        s.cache_write_tokens,
        s.reasoning_tokens,
        None if s.unpriced_requests and not s.cost_usd else s.cost_usd,
        s.unpriced_requests,
        # estimates from log-spaced buckets: more digits say nothing
        _round(s.latency_p50_ms, 1),
        _round(s.latency_p95_ms, 1),
        _round(s.ttft_p50_ms, 1),
        _round(s.ttft_p95_ms, 1),
    ]


def usage_csv(report: UsageReport) -> str:
    """A usage report as CSV: a header (`USAGE_COLUMNS`), then one row per group, or one `total` row
    for a report not grouped; no totals row under groups, which a spreadsheet's sum would count twice.
    CRLF line ends (RFC 4180), the last line's included; UTF-8 when encoded, no byte-order mark.

    The columns: `by` (the grouping: user, key, model, provider, hour, day, month; empty for the total
    row of a report not grouped), `label` (the group as the report names it: a user, a key as
    `name (public id)`, `provider/model`, a bucket), then what applies to the group, empty otherwise:
    `user_id`, `api_key_id`, `provider`, `model` (the provider's name of the model requests were sent
    to; a model never routed: as the request named it), `aliases` (the other names requests used for
    that model, space-separated), `bucket_start` (ISO-8601 UTC, `2026-11-01T00:00:00Z`). The counters:
    `requests`, `errors`, `error_rate` (errors per request, 6 digits), then the errors by kind:
    `errors_upstream` (the provider or the way to it failed) and `upstream_error_rate` (per request),
    `errors_policy` (refused by a rule of the gateway: a limit, a budget, an unknown model),
    `errors_client` (a bad request), `errors_unclassified` (counted before kinds were recorded), and
    `error_codes` (each kind's codes and counts, `upstream:timeout=2 policy:rate_limited=5`),
    `prompt_tokens` (every input token), `completion_tokens` (every output token),
    `total_tokens`, `cached_tokens` (the input read from a prompt cache), `cache_write_tokens` (the
    input written to one), `reasoning_tokens` (the output spent reasoning). `cost_usd`: the known
    costs; `unpriced_requests` marks it: not 0, some requests used tokens without a known price, so
    the cost is at least `cost_usd`, and empty (never 0) when no cost is known at all. Then the
    estimated latency and time to first token, p50 and p95 in ms to 0.1 ms (empty: no timings)."""
    groups = report.groups if report.by is not None else [UsageGroup("total", report.total)]
    return csv_document(USAGE_COLUMNS, (_row(report.by, g) for g in groups))
