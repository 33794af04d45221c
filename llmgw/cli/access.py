"""`llmgw access set|list|clear`: which models a user or a personal key may call. Parsing and messages
only; the rules are `llmgw.services.model_access`' (the patterns: `services/model_patterns.py`). A
running `llmgw serve` applies a change within a second (it polls the database's `PRAGMA data_version`).

SUBJECT is a user's name or a key's id as `llmgw key list` shows it. `set` replaces the subject's list
with the patterns given (`provider/model`, an alias, `*` for any characters: `openai/*`); `clear`
lifts the restriction. A key is held to its user's list and its own. Exit codes: 0 done (or nothing to
change), 1 refused (unknown user or key, a bad pattern), 2 configuration error."""

from __future__ import annotations

import argparse
import json

from llmgw.cli.tables import format_table, run_on_store
from llmgw.services import model_access
from llmgw.services.audit import Actor
from llmgw.services.database import Store
from llmgw.services.model_access import SubjectAccess
from llmgw.services.model_patterns import describe


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    access = sub.add_parser("access", help="which models users and keys may call")
    access_sub = access.add_subparsers(dest="access_command", required=True, metavar="ACTION")
    set_ = access_sub.add_parser(
        "set", help="allow a user or a key only the models its patterns match (replaces its list)"
    )
    set_.add_argument("subject", metavar="USER|KEY_ID")
    set_.add_argument(
        "patterns", nargs="+", metavar="PATTERN", help="provider/model, an alias, or a glob: openai/*"
    )
    listing = access_sub.add_parser("list", help="list the restrictions (all, or one subject's)")
    listing.add_argument("subject", nargs="?", metavar="USER|KEY_ID")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    clear = access_sub.add_parser("clear", help="lift a user's or a key's own restriction")
    clear.add_argument("subject", metavar="USER|KEY_ID")
    for p in (set_, listing, clear):
        p.add_argument("--config", metavar="FILE")


def run(args: argparse.Namespace) -> int:
    return run_on_store(args, _run)


def _name(a: SubjectAccess) -> str:
    return f"user {a.subject!r}" if a.scope == "user" else f"key {a.subject} (of {a.owner!r})"


def _run(args: argparse.Namespace, store: Store) -> int:
    actor = Actor.cli()
    if args.access_command == "set":
        change = model_access.set_access(store, actor, args.subject, args.patterns)
        verb = "set" if change.changed else "unchanged"
        print(f"{_name(change.access)} may call: {change.access.shown} ({verb})")
        if change.access.owner_patterns is not None:
            print(f"and is held to its user's list too: {describe(change.access.owner_patterns)}")
    elif args.access_command == "list":
        print_access(model_access.list_access(store, actor, args.subject), as_json=args.json)
    else:
        change = model_access.clear_access(store, actor, args.subject)
        if not change.changed:
            print(f"{_name(change.access)} had no model restriction of its own")
        else:
            rest = change.access.owner_patterns
            tail = f" (still held to its user's: {describe(rest)})" if rest is not None else ""
            print(f"{_name(change.access)} may call any model{tail}")
    return 0


def print_access(found: list[SubjectAccess], *, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "scope": a.scope,
                "subject": a.subject,
                "owner": a.owner,
                "models": None if a.patterns is None else list(a.patterns),
                "owner_models": None if a.owner_patterns is None else list(a.owner_patterns),
            }
            for a in found
        ]
        print(json.dumps(rows, indent=2))
    elif not found:
        print("no model restrictions: every user and key may call any model")
    else:
        table = [
            [
                a.scope,
                a.subject,
                a.owner,
                a.shown,
                None if a.scope == "user" else describe(a.owner_patterns),
            ]
            for a in found
        ]
        print(format_table(("scope", "subject", "owner", "models", "user's models"), table))
