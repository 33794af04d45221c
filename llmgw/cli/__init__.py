"""The `llmgw` command line: one module per command group (serve, healthcheck, config, secret, usage,
user, key, access, audit, limit, backup and db, tui, run, install-service), each with `add_parser` and
`run`. Argument parsing and messages only: the rules live in `llmgw.services`. A command raises; `main`
turns what it raised into an exit code and a message through the one table in `cli/exit_codes.py`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from llmgw import version
from llmgw.cli import exit_codes

# Each command word and the module of its group, in `llmgw --help`'s order. A command imports only its
# own module (and so only what that needs): `llmgw user list` never loads the server, the keyring or
# the password hasher (tests/process/test_import_hygiene.py).
MODULES: dict[str, str] = {
    "serve": "serve",
    "healthcheck": "healthcheck",
    "config": "config",
    "secret": "secret",
    "usage": "usage",
    "user": "users",
    "key": "keys",
    "access": "access",
    "audit": "audit",
    "limit": "limits",
    "backup": "db",
    "db": "db",
    "tui": "tui",
    "run": "run",
    "install-service": "install_service",
}
RUNS: dict[str, str] = {"backup": "run_backup"}  # the group's `run` otherwise


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"llmgw.cli.{name}")


def _command_word(argv: Sequence[str]) -> str | None:
    """The command named by `argv` (the first word not an option), if it is one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in MODULES else None


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or (`only`) of that command's group alone: enough to parse it."""
    p = argparse.ArgumentParser(prog="llmgw", description="A self-hosted LLM gateway.")
    p.add_argument("--version", action=version.VersionAction)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [MODULES[only]] if only else list(dict.fromkeys(MODULES.values()))
    for name in names:
        _module(name).add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(_command_word(argv)).parse_args(argv)
    try:
        run = getattr(_module(MODULES[args.command]), RUNS.get(args.command, "run"))
        code: int = run(args)
        return code
    except exit_codes.HANDLED as exc:
        return exit_codes.exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
