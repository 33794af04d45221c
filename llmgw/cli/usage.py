"""`llmgw usage`: the ledger summarised by provider and model (`services.usage.summary`), as a table
or JSON; with `--by`, `--user`, `--until` or `--csv`, the report from the hourly rollups
(`cli/usage_report.py`); `llmgw usage purge`."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from llmgw.cli.limits import print_user_spend
from llmgw.cli.usage_report import (
    error_counts,
    error_notes,
    format_purged,
    print_csv,
    report_json,
    report_table,
)
from llmgw.services import limits, retention
from llmgw.services import usage as usage_service
from llmgw.services.audit import Actor
from llmgw.services.database import open_store
from llmgw.services.usage import UsageGroup, UsageStats, UsageSummary
from llmgw.settings import Config, load


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("usage", help="summarise the usage ledger")
    add_report_options(parser)
    add_rollup_options(parser)
    actions = parser.add_subparsers(dest="usage_command", metavar="ACTION")
    purge = actions.add_parser(
        "purge", help="delete ledger rows, rollups and stored responses past their retention now"
    )
    purge.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS)


def add_rollup_options(parser: argparse.ArgumentParser) -> None:
    """The report from the hourly rollups: any of these options asks for it."""
    parser.add_argument("--until", help="end of the range (exclusive): a duration back from now, or a date")
    parser.add_argument("--by", choices=["user", "key", "model", "provider", "hour", "day", "month"])
    parser.add_argument("--user", metavar="NAME", help="only this user's usage")
    parser.add_argument("--csv", action="store_true", help="one CSV row per group, for a spreadsheet")


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that report over time (`usage`, `audit`)."""
    parser.add_argument("--since", help="a duration (30m, 24h, 7d) or a date/time (2026-11-01)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--config", metavar="FILE")


def run(args: argparse.Namespace) -> int:
    config = load(args.config).config
    if args.usage_command == "purge":
        return run_purge(config)
    try:
        since = parse_since(args.since, time.time()) if args.since else None
    except ValueError as exc:
        print(f"llmgw: --since: {exc}", file=sys.stderr)
        return 2
    if args.by or args.user or args.until or args.csv:
        return run_report(config, args, since)
    with open_store(config) as store:
        summary = usage_service.summary(store, Actor.cli(), since)
    print(summary_json(summary) if args.json else format_usage_table(summary))
    return 0


def run_report(config: Config, args: argparse.Namespace, since: float | None) -> int:
    """The report from the hourly rollups (`--by`, `--user`, `--until`, `--csv`)."""
    try:
        until = parse_since(args.until, time.time()) if args.until else None
    except ValueError as exc:
        print(f"llmgw: --until: {exc}", file=sys.stderr)
        return 2
    with open_store(config) as store:
        rep = usage_service.report(store, Actor.cli(), since=since, until=until, by=args.by, user=args.user)
        # A user's report ends with their spend against their budgets (cli/limits.py prints it).
        spend = (
            limits.user_spend(store, Actor.cli(), args.user)
            if args.user and not (args.csv or args.json)
            else None
        )
    if args.csv:
        print_csv(rep)
    elif args.json:
        print(report_json(rep, args.user))
    else:
        print(report_table(rep, args.user))
        if spend is not None:
            print()
            print_user_spend(spend)
    return 0


def run_purge(config: Config) -> int:
    """`llmgw usage purge`: what retention removes, removed now."""
    with open_store(config) as store:
        purged = retention.purge(store, Actor.cli(), config.server, time.time())
    print(format_purged(purged))
    return 0


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float) -> float:
    """Turn a `--since` value into unix seconds: a duration back from `now` or an ISO-8601 date/datetime.

    Durations: `90s`, `30m`, `24h`, `7d`. Dates and datetimes: `2026-11-01`, `2026-11-01T12:00:00`,
    with or without `Z` or an offset; a naive value is taken as UTC. Raises ValueError otherwise.
    """
    value = text.strip()
    if match := _DURATION.fullmatch(value.lower()):
        return now - float(match[1]) * _UNIT_SECONDS[match[2]]
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"invalid since value {text!r}: expected a duration (90s, 30m, 24h, 7d) "
            "or an ISO-8601 date or datetime (2026-11-01, 2026-11-01T12:00:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


_HEADERS = (
    "provider",
    "model",
    "requests",
    "errors",
    "upstream",
    "policy",
    "client",
    "prompt",
    "completion",
    "total",
    "cached",
    "cost",
)
UNPRICED = "?"  # a cost that is unknown in part or in full: never shown as 0


def _cost(cost_usd: float, unpriced_requests: int) -> str:
    """`$1.2345`; `?` when nothing of it is known, `$1.2345+?` when part is."""
    if not unpriced_requests:
        return f"${cost_usd:,.4f}"
    return f"${cost_usd:,.4f}+{UNPRICED}" if cost_usd else UNPRICED


def _counts(s: UsageStats) -> dict[str, int]:
    """The counters the plain summary shows, in its columns' order."""
    return {
        "requests": s.requests,
        "errors": s.errors,
        "errors_upstream": s.errors_upstream,
        "errors_policy": s.errors_policy,
        "errors_client": s.errors_client,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "total_tokens": s.total_tokens,
        "cached_tokens": s.cached_tokens,
    }


def _model_cell(g: UsageGroup) -> str:
    """The model, with the aliases requests reached it by: `claude-sonnet-4 (via smart)`."""
    via = f" (via {', '.join(g.aliases)})" if g.aliases else ""
    return f"{g.model or '-'}{via}"


def _cells(provider: str, model: str, usage: UsageStats, cost: str) -> list[str]:
    return [provider, model, *(f"{n:,}" for n in _counts(usage).values()), cost]


def summary_json(summary: UsageSummary) -> str:
    """`llmgw usage --json`: the total's counters, `since` (ISO-8601 UTC or null), `by_model` (each
    with `priced`: no request that used tokens lacked a price), the costs and `by_source`."""
    rep = summary.report
    since = None if rep.since is None else datetime.fromtimestamp(rep.since, UTC).isoformat()
    data: dict[str, Any] = {
        **_counts(rep.total),
        **error_counts(rep.total),
        "upstream_error_rate": rep.total.upstream_error_rate,
        "auth_failures": summary.auth_failures,
        "since": since,
        "by_model": [
            {
                "provider": g.provider,
                "model": g.model,
                "aliases": list(g.aliases),
                **_counts(g.stats),
                "errors_unclassified": g.stats.errors_unclassified,
                "error_codes": error_counts(g.stats)["error_codes"],
                "cost_usd": g.stats.cost_usd,
                "priced": not g.stats.unpriced_requests,
                "unpriced_requests": g.stats.unpriced_requests,
            }
            for g in rep.groups
        ],
        "cost_usd": rep.total.cost_usd,
        "unpriced_requests": rep.total.unpriced_requests,
        "by_source": {name: _counts(stats) for name, stats in summary.by_source.items()},
    }
    return json.dumps(data, indent=2)


def format_usage_table(summary: UsageSummary) -> str:
    """Render a summary as aligned columns, one line per (provider, model) and a totals line; below, a
    note naming the models whose cost is unknown (used tokens, no price)."""
    rep = summary.report
    body = [
        _cells(g.provider or "-", _model_cell(g), g.stats, _cost(g.stats.cost_usd, g.stats.unpriced_requests))
        for g in rep.groups
    ]
    total = _cells("total", "", rep.total, _cost(rep.total.cost_usd, rep.total.unpriced_requests))
    table = [list(_HEADERS), *body, total]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEADERS))]

    def line(row: list[str]) -> str:
        # Text columns left-aligned, numbers right-aligned.
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [line(table[0]), rule, *(line(r) for r in body), rule, line(total)]
    notes = error_notes(rep.total)
    if notes:
        lines += ["", *notes]
    unpriced = [g for g in rep.groups if g.stats.unpriced_requests]
    if unpriced:
        named = ", ".join(f"{g.label} ({g.stats.unpriced_requests:,})" for g in unpriced)
        lines += [
            "",
            f"{UNPRICED} no price for {named} requests: their cost is unknown, not 0. "
            'Price a model with [prices."provider/model"] in the config (docs/CONFIGURATION.md).',
        ]
    return "\n".join(lines)
