"""How values look on screen: times in UTC (as the `llmgw` commands print them), counts, money."""

from __future__ import annotations

from datetime import UTC, datetime

from llmgw.services.usage import UsageStats


def clock_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def date_time(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")


def count(n: int | None) -> str:
    """1234 -> 1,234; None -> -."""
    return "-" if n is None else f"{n:,}"


def money(usd: float) -> str:
    return f"${usd:,.4f}" if usd < 1 else f"${usd:,.2f}"


def latency(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:,.0f} ms"


def percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def error_split(s: UsageStats) -> str:
    """Errors by kind, the upstream's first: what the providers did apart from the gateway's refusals
    and bad requests."""
    text = (
        f"{count(s.errors_upstream)} upstream errors ({percent(s.upstream_error_rate)}) · "
        f"{count(s.errors_policy)} refused by policy · {count(s.errors_client)} client errors"
    )
    return text + (f" · {count(s.errors_unclassified)} unclassified" if s.errors_unclassified else "")


def error_codes(s: UsageStats) -> str:
    """Each kind's codes and counts, upstream first: `upstream: upstream_error 6, timeout 1 · policy:
    budget_exceeded 4`; empty without errors."""
    parts = []
    for kind in ("upstream", "policy", "client", None):
        found = s.codes_of(kind)
        if found:
            codes = ", ".join(f"{e.code or '(no code)'} {count(e.count)}" for e in found)
            parts.append(f"{kind or 'unclassified'}: {codes}")
    return " · ".join(parts)


def ago(seconds: float) -> str:
    """How long ago, in its largest whole unit: 3 s ago, 5 min ago, 2 h ago, 4 d ago."""
    return f"{duration(seconds)} ago"


def duration(seconds: float) -> str:
    s = max(0, round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s // size} {unit}"
    return f"{s} s"
