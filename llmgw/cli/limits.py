"""`llmgw limit set|list|clear`: a user's or a personal key's rate limits and spend budget. Parsing and
messages only; the rules are `llmgw.services.limits`'. A running `llmgw serve` applies a change within
a second (it polls the database's `PRAGMA data_version`).

SUBJECT is a user's name or a key's id as `llmgw key list` shows it. `set` changes only the options it
is given; `off` removes one. Exit codes: 0 done (or nothing to change), 1 refused (unknown user or
key, a bad value), 2 configuration error."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TypeVar

from llmgw.cli.tables import format_table, iso_time, run_on_store
from llmgw.services import limits
from llmgw.services.audit import Actor
from llmgw.services.database import Store
from llmgw.services.limits import LimitRow, LimitUse, UserSpend
from llmgw.services.money import usd_amount

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
    listing = limit_sub.add_parser(
        "list", help="list the limits (all, or one subject's) with the spend against each budget"
    )
    listing.add_argument("subject", nargs="?", metavar="USER|KEY_ID")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    clear = limit_sub.add_parser("clear", help="remove every limit of a user or a key")
    clear.add_argument("subject", metavar="USER|KEY_ID")
    for p in (set_, listing, clear):
        p.add_argument("--config", metavar="FILE")


def run(args: argparse.Namespace) -> int:
    return run_on_store(args, _run, listing=args.limit_command == "list")


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
        print_limits(limits.limits_with_spend(store, actor, args.subject), as_json=args.json)
    else:
        change = limits.clear_limits(store, actor, args.subject)
        print(
            f"cleared the limits of {args.subject!r}" if change.changed else f"{args.subject!r} had no limits"
        )
    return 0


def _budget(use: LimitUse) -> str | None:
    budget = use.budget
    return None if budget is None else f"{usd_amount(budget)}/{use.values.period}"


def _spend_cells(use: LimitUse) -> list[str | None]:
    """spent (in the budget's period; the month's without one), remaining, used."""
    remaining = use.remaining
    return [
        usd_amount(use.spent),
        None if remaining is None else usd_amount(remaining),
        use.used_percent or None,
    ]


def _use_json(use: LimitUse) -> dict[str, object]:
    return {
        "scope": use.scope,
        "subject": use.subject,
        "owner": use.owner,
        "rpm": use.values.rpm,
        "tpm": use.values.tpm,
        "budget_usd": use.values.budget_usd,
        "period": use.values.period,
        "updated": iso_time(use.updated_at),
        "spent_today_usd": use.spent_day,
        "spent_this_month_usd": use.spent_month,
        "remaining_usd": use.remaining,
        "used": use.used,
        "resets": iso_time(use.resets_at) if use.budget is not None else None,
    }


def print_limits(found: list[LimitUse], *, as_json: bool) -> None:
    """The limits with their spend: `spent` is in the budget's period (this UTC day or month), this
    month's where there is no budget."""
    if as_json:
        print(json.dumps([_use_json(u) for u in found], indent=2))
    elif not found:
        print("no limits")
    else:
        table = [
            [
                u.scope,
                u.subject,
                u.owner,
                None if u.values.rpm is None else str(u.values.rpm),
                None if u.values.tpm is None else str(u.values.tpm),
                _budget(u),
                *_spend_cells(u),
                iso_time(u.updated_at),
            ]
            for u in found
        ]
        headers = (
            "scope",
            "subject",
            "owner",
            "rpm",
            "tpm",
            "budget usd",
            "spent",
            "remaining",
            "used",
            "updated",
        )
        print(format_table(headers, table))


def print_user_spend(spend: UserSpend) -> None:
    """A user's spend and what remains of each budget that binds them (`llmgw usage --user`)."""
    print(
        f"{spend.user} spent {usd_amount(spend.spent_day)} USD today and "
        f"{usd_amount(spend.spent_month)} USD this month (UTC)."
    )
    if not spend.limits:
        print("No limits apply to them or their keys.")
        return
    table = [
        [
            "user" if u.scope == "user" else f"key {u.subject} ({u.key_name})",
            limits.describe(u.values),
            *_spend_cells(u),
            iso_time(u.resets_at) if u.budget is not None else None,
        ]
        for u in spend.limits
    ]
    print(format_table(("limit of", "limits", "spent", "remaining", "used", "resets"), table))
