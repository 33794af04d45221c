"""`llmgw key create|list|revoke`: personal API keys; `llmgw key save`: the user's own key saved on this
machine for `llmgw run` (`services.saved_key`: read from a hidden prompt or stdin, never an argument;
`--remove` deletes it; no database involved). Parsing and messages only; the rules are
`llmgw.services.keys`'. `key create` prints the token, and nothing else, on stdout (the rest goes to
stderr), so `TOKEN=$(llmgw key create ada)` works; it cannot be shown again.

A key is named by its id as listed (its public id: 16 hex digits, also the token's middle part), or its
number (`--json`'s `id`), or the token itself. Exit codes: 0 done (revoking a revoked key included),
1 refused (unknown user or key, a disabled owner, a bad name or expiry), 2 configuration error."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import timedelta

from llmgw.cli.tables import format_table, iso_time, run_on_store
from llmgw.services import keys, saved_key
from llmgw.services.audit import Actor
from llmgw.services.database import Store


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None
    if not 1 <= days <= 36500:
        raise argparse.ArgumentTypeError("between 1 and 36500 days")
    return days


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    key = sub.add_parser("key", help="manage personal API keys")
    key_sub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    create = key_sub.add_parser("create", help="create a key for USER; prints only the token")
    create.add_argument("user")
    create.add_argument("--name", help=f"a label for the key (default {keys.DEFAULT_KEY_NAME!r})")
    create.add_argument("--expires-in", type=_days, metavar="DAYS", help="expire after DAYS days")
    create.add_argument(
        "--models",
        nargs="+",
        metavar="PATTERN",
        help="only these models (provider/model, an alias, or a glob: openai/*); see `llmgw access`",
    )
    listing = key_sub.add_parser("list", help="list keys (all, or USER's); never a secret")
    listing.add_argument("user", nargs="?")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    revoke = key_sub.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the id `llmgw key list` shows, or the token")
    for p in (create, listing, revoke):
        p.add_argument("--config", metavar="FILE")
    save = key_sub.add_parser(
        "save", help="save your own key for `llmgw run` (read from a hidden prompt or stdin)"
    )
    save.add_argument("--remove", action="store_true", help="delete the saved key")


def run(args: argparse.Namespace) -> int:
    if args.key_command == "save":
        return run_save(args.remove)
    return run_on_store(args, _run, listing=args.key_command == "list")


def run_save(remove: bool) -> int:
    """`llmgw key save [--remove]`. Exit codes: 0 saved or removed, 1 an empty or invalid key, or
    nothing to remove."""
    path = saved_key.key_file()
    if remove:
        if saved_key.remove_key(path):
            print(f"removed the saved key {path}")
            return 0
        print(f"no saved key at {path}", file=sys.stderr)
        return 1
    if sys.stdin.isatty():
        try:
            value = getpass.getpass("Your llmgw key (input hidden): ")
        except EOFError:
            value = ""
    else:
        value = sys.stdin.readline()
    try:
        saved_key.save_key(value, path)
    except ValueError as exc:
        print(f"error: {exc}; nothing saved", file=sys.stderr)
        return 1
    print(f"saved your key to {path} (mode 600); `llmgw run` uses it unless {saved_key.KEY_ENV} is set")
    return 0


def _run(args: argparse.Namespace, store: Store) -> int:
    actor = Actor.cli()
    if args.key_command == "create":
        expires_in = timedelta(days=args.expires_in) if args.expires_in else None
        new = keys.create_key(store, actor, args.user, args.name, expires_in, models=args.models)
        print(new.token, flush=True)
        expiry = f", expires {iso_time(new.key.expires_at)}" if new.key.expires_at else ""
        if new.key.model_access is not None:
            expiry += f", models {', '.join(new.key.model_access)}"
        print(
            f"created key {new.key.public_id} ({new.key.name!r}) for {new.key.owner!r}{expiry}; "
            "the token is shown only this once",
            file=sys.stderr,
        )
    elif args.key_command == "list":
        print_keys(keys.list_keys(store, actor, args.user), as_json=args.json)
    else:
        change = keys.revoke_key(store, actor, args.key_id)
        k = change.key
        if change.changed:
            print(f"revoked key {k.public_id} ({k.name!r} of {k.owner!r})")
        else:
            print(
                f"key {k.public_id} ({k.name!r} of {k.owner!r}) was already revoked {iso_time(k.revoked_at)}"
            )
    return 0


def print_keys(found: list[keys.Key], *, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "id": k.id,
                "public_id": k.public_id,
                "name": k.name,
                "owner": k.owner,
                "created": iso_time(k.created_at),
                "last_used": iso_time(k.last_used_at),
                "expires": iso_time(k.expires_at),
                "revoked": iso_time(k.revoked_at),
                "state": k.state,
                "models": None if k.model_access is None else list(k.model_access),
            }
            for k in found
        ]
        print(json.dumps(rows, indent=2))
    elif not found:
        print("no keys")
    else:
        table = [
            [
                k.public_id,
                k.name,
                k.owner,
                iso_time(k.created_at),
                iso_time(k.last_used_at),
                iso_time(k.expires_at),
                k.state,
            ]
            for k in found
        ]
        print(format_table(("id", "name", "owner", "created", "last used", "expires", "state"), table))
