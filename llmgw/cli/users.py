"""`llmgw user add|list|disable|enable|passwd|delete|role|set`: parsing and messages only; the rules
are `llmgw.services.users`'. The CLI acts as the local administrator (`Actor.cli()`, "cli:<login>").

Exit codes: 0 done (or nothing to do: already in that state), 1 refused (unknown user, bad name or
password, the last-admin guard), 2 configuration error."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TextIO

from llmgw.cli.tables import format_table, iso_time, store_of
from llmgw.errors import InvalidAccountInput
from llmgw.services import users
from llmgw.services.audit import Actor
from llmgw.services.database import Store, open_store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="manage the users of the gateway (admins and users)")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        p = user_sub.add_parser(name, help=help_)
        p.add_argument("--config", metavar="FILE")
        return p

    add = action("add", "create a user (password from a hidden prompt, or one line of stdin)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make the user an administrator")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    listing = action("list", "list the users")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    action("disable", "disable a user: their keys stop working").add_argument("name")
    action("enable", "enable a disabled user").add_argument("name")
    passwd = action("passwd", "set a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    action("delete", "delete a user with their keys").add_argument("name")
    role = action("role", "make a user an admin or a plain user")
    role.add_argument("name")
    role.add_argument("role", choices=["admin", "user"])
    setting = action("set", "change a user's settings")
    setting.add_argument("name")
    setting.add_argument(
        "--key-create",
        action=argparse.BooleanOptionalAction,
        help="whether the user may create their own keys (--no-key-create: only administrators can, "
        "so a limit on a key they made cannot be escaped by minting another)",
    )


def read_password(*, from_stdin: bool, stdin: TextIO, tty: bool) -> str:
    """One line of stdin (`--password-stdin`), or a hidden prompt asked twice. Never from argv."""
    if from_stdin:
        line = stdin.readline()
        return line[:-2] if line.endswith("\r\n") else line.removesuffix("\n")
    if not tty:
        raise InvalidAccountInput("no terminal to ask for the password on: pass --password-stdin")
    first = getpass.getpass("New password (input hidden): ")
    if getpass.getpass("The same again: ") != first:
        raise InvalidAccountInput("the two passwords differ; nothing changed")
    return first


def run(args: argparse.Namespace) -> int:
    if args.user_command == "set" and args.key_create is None:
        print("error: nothing to set: give --key-create or --no-key-create", file=sys.stderr)
        return 2
    if args.user_command == "list":
        with store_of(args.config, listing=True) as store:
            return _run(args, store, None)
    from llmgw.settings import load  # the whole configuration, checked (~190 ms: not for a listing)

    config = load(args.config).config
    password = None
    if args.user_command in ("add", "passwd"):
        password = read_password(from_stdin=args.password_stdin, stdin=sys.stdin, tty=sys.stdin.isatty())
    with open_store(config) as store:
        return _run(args, store, password)


def _run(args: argparse.Namespace, store: Store, password: str | None) -> int:
    actor = Actor.cli()
    command = args.user_command
    if command == "add":
        assert password is not None
        user = users.create_user(store, actor, args.name, password, role="admin" if args.admin else "user")
        print(f"created user {user.name!r} ({user.role})")
    elif command == "list":
        print_users(users.list_users(store, actor), as_json=args.json)
    elif command in ("disable", "enable"):
        change = (users.disable_user if command == "disable" else users.enable_user)(store, actor, args.name)
        done = f"{command}d user {change.user.name!r}"
        print(done if change.changed else f"user {change.user.name!r} is already {change.user.state}")
    elif command == "passwd":
        assert password is not None
        user = users.set_password(store, actor, args.name, password)
        print(f"password of {user.name!r} set; their portal sessions ended")
    elif command == "delete":
        deleted = users.delete_user(store, actor, args.name)
        print(f"deleted user {deleted.name!r} and their {deleted.keys} key(s)")
    elif command == "set":
        change = users.set_key_creation(store, actor, args.name, allowed=args.key_create)
        print(_key_creation_message(change))
    else:
        change = users.set_role(store, actor, args.name, args.role)
        print(f"{change.user.name!r} is {'now' if change.changed else 'already'} {change.user.role}")
    return 0


def _key_creation_message(change: users.UserChange) -> str:
    name = repr(change.user.name)
    if not change.changed:
        return f"{name} already may {'' if change.user.may_create_keys else 'not '}create their own keys"
    if change.user.may_create_keys:
        return f"{name} may create their own keys again"
    return f"{name} may no longer create their own keys (administrators still can, for them)"


def print_users(found: list[users.User], *, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "id": u.id,
                "name": u.name,
                "role": u.role,
                "state": u.state,
                "keys": u.keys,
                "may_create_keys": u.may_create_keys,
                "created": iso_time(u.created_at),
            }
            for u in found
        ]
        print(json.dumps(rows, indent=2))
    elif not found:
        print("no users (llmgw user add NAME --admin creates the first administrator)")
    else:
        table = [
            [
                u.name,
                u.role,
                u.state,
                str(u.keys),
                "on" if u.may_create_keys else "off",
                iso_time(u.created_at),
            ]
            for u in found
        ]
        print(format_table(("name", "role", "state", "keys", "own keys", "created"), table))
