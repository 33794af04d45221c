"""The `llmgw` command line: one module per command group (serve, config, secret, usage, user, key,
access, audit, limit, backup and db, tui, run), each with `add_parser` and `run`. Argument parsing and
messages only: the rules live in `llmgw.services`. A command raises; `main` turns what it raised into an
exit code and a message through the one table in `cli/exit_codes.py`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from llmgw import version
from llmgw.cli import (
    access,
    audit,
    config,
    db,
    exit_codes,
    keys,
    limits,
    run,
    secret,
    serve,
    tui,
    usage,
    users,
)

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": serve.run,
    "config": config.run,
    "secret": secret.run,
    "usage": usage.run,
    "user": users.run,
    "key": keys.run,
    "access": access.run,
    "audit": audit.run,
    "limit": limits.run,
    "backup": db.run_backup,
    "db": db.run,
    "tui": tui.run,
    "run": run.run,
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmgw", description="A self-hosted LLM gateway.")
    p.add_argument("--version", action=version.VersionAction)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (serve, config, secret, usage, users, keys, access, audit, limits, db, tui, run):
        group.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except exit_codes.HANDLED as exc:
        return exit_codes.exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
