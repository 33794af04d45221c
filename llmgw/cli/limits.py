"""`llmgw limit set|list|clear`: a user's or a personal key's rate limits and spend budget. Parsing and
messages only; the rules are `llmgw.services.limits`'. A running `llmgw serve` applies a change within
a second (it polls the database's `PRAGMA data_version`).

SUBJECT is a user's name or a key's id as `llmgw key list` shows it. `set` changes only the options it
is given; `off` removes one. Exit codes: 0 done (or nothing to change), 1 refused (unknown user or
key, a bad value), 2 configuration error."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TypeVar

from llmgw.cli.tables import format_table, iso_time
from llmgw.errors import AccountError
from llmgw.services import limits
from llmgw.services.audit import Actor
from llmgw.services.database import Store, open_store
from llmgw.services.limits import LimitRow
from llmgw.settings import load

T = TypeVar("T", int, float)


def _or_off(kind: Callable[[str], T], what: str) -> Callable[[str], T | None]:
    def parse(text: str) -> T | None:
        if text.strip().lower() == "off":
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what} (or off): {text!r}") from None

    return parse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    limit = sub.add_parser("limit", help="rate limits and spend budgets of users and keys")
    limit_sub = limit.add_subparsers(dest="limit_command", required=True, metavar="ACTION")
    set_ = limit_sub.add_parser("set", help="set limits of a user or a key (only the options given)")
    set_.add_argument("subject", metavar="USER|KEY_ID")
    set_.add_argument(
        "--rpm", type=_or_off(int, "a whole number"), default=limits.KEEP, help="requests per minute"
    )
    set_.add_argument(
        "--tpm", type=_or_off(int, "a whole number"), default=limits.KEEP, help="tokens per minute"
    )
    set_.add_argument(
        "--budget-usd", type=_or_off(float, "a number"), default=limits.KEEP, help="spend per period, in USD"
    )
    set_.add_argument("--period", choices=limits.PERIODS, default=limits.KEEP, help="the budget's UTC period")
    listing = limit_sub.add_parser("list", help="list the limits (all, or one subject's)")
    listing.add_argument("subject", nargs="?", metavar="USER|KEY_ID")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    clear = limit_sub.add_parser("clear", help="remove every limit of a user or a key")
    clear.add_argument("subject", metavar="USER|KEY_ID")
    for p in (set_, listing, clear):
        p.add_argument("--config", metavar="FILE")


def run(args: argparse.Namespace) -> int:
    config = load(args.config).config
    try:
        with open_store(config) as store:
            return _run(args, store)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _name(row: LimitRow) -> str:
    return f"user {row.subject!r}" if row.scope == "user" else f"key {row.subject} (of {row.owner!r})"


def _run(args: argparse.Namespace, store: Store) -> int:
    actor = Actor.cli()
    if args.limit_command == "set":
        change = limits.set_limits(
            store,
            actor,
            args.subject,
            rpm=args.rpm,
            tpm=args.tpm,
            budget_usd=args.budget_usd,
            period=args.period,
        )
        if change.limit is None:
            print(f"{args.subject!r} has no limits")
        else:
            verb = "set" if change.changed else "unchanged"
            print(f"{_name(change.limit)}: {limits.describe(change.limit.values)} ({verb})")
    elif args.limit_command == "list":
        print_limits(limits.list_limits(store, actor, args.subject), as_json=args.json)
    else:
        change = limits.clear_limits(store, actor, args.subject)
        print(
            f"cleared the limits of {args.subject!r}" if change.changed else f"{args.subject!r} had no limits"
        )
    return 0


def print_limits(found: list[LimitRow], *, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "scope": r.scope,
                "subject": r.subject,
                "owner": r.owner,
                "rpm": r.values.rpm,
                "tpm": r.values.tpm,
                "budget_usd": r.values.budget_usd,
                "period": r.values.period,
                "updated": iso_time(r.updated_at),
            }
            for r in found
        ]
        print(json.dumps(rows, indent=2))
    elif not found:
        print("no limits")
    else:
        table = [
            [
                r.scope,
                r.subject,
                r.owner,
                None if r.values.rpm is None else str(r.values.rpm),
                None if r.values.tpm is None else str(r.values.tpm),
                None if r.values.budget_usd is None else f"{r.values.budget_usd:.2f}/{r.values.period}",
                iso_time(r.updated_at),
            ]
            for r in found
        ]
        print(format_table(("scope", "subject", "owner", "rpm", "tpm", "budget usd", "updated"), table))
