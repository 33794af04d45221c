"""`llmgw secret set|list|delete`: provider keys and the proxy key in the OS keyring. Parsing and
messages only; the rules are `llmgw.services.credentials`'. A change that succeeded is then written to
the audit log of the configured database (the secret's name, never its value)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterable
from typing import Literal, TextIO

from llmgw.errors import ConfigError
from llmgw.services import audit, credentials
from llmgw.services.database import open_store
from llmgw.settings import load


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    secret = sub.add_parser("secret", help="manage provider keys and the proxy key in the OS keyring")
    secret_sub = secret.add_subparsers(dest="secret_command", required=True, metavar="ACTION")
    s_set = secret_sub.add_parser("set", help="store a secret (value read from a hidden prompt or stdin)")
    s_set.add_argument(
        "name", help="PROVIDER, PROVIDER.2 … for more keys, proxy-key, or budget-alert-webhook"
    )
    s_set.add_argument("--config", metavar="FILE", help="whose database's audit log records the change")
    s_list = secret_sub.add_parser("list", help="list stored secrets, masked")
    s_list.add_argument("--config", metavar="FILE")
    s_del = secret_sub.add_parser("delete", help="delete a secret")
    s_del.add_argument("name")
    s_del.add_argument("--config", metavar="FILE", help="whose database's audit log records the change")


def run(args: argparse.Namespace) -> int:
    if args.secret_command == "set":
        code = cmd_secret_set(args.name, stdin=sys.stdin, tty=sys.stdin.isatty())
        return _audited(code, args.config, args.name, "set")
    if args.secret_command == "delete":
        code = cmd_secret_delete(args.name, out=sys.stdout)
        return _audited(code, args.config, args.name, "deleted")
    try:
        providers = list(load(args.config).config.providers)
    except ConfigError:
        providers = []  # listing secrets should not need a valid config
    return cmd_secret_list(providers, out=sys.stdout)


def _audited(code: int, config_path: str | None, name: str, change: Literal["set", "deleted"]) -> int:
    """After a keyring change that succeeded (`code` 0), its audit entry. The change has happened
    whatever follows, so failing to record it is a warning and the exit code stays 0."""
    if code != 0:
        return code
    try:
        config = load(config_path).config
        with open_store(config) as store:
            audit.record_secret_change(store, audit.Actor.cli(), name, change)
    except Exception as exc:  # a bad config, an unwritable or locked database: say so, keep the result
        print(f"warning: the change was not written to the audit log: {exc}", file=sys.stderr)
    return code


def _print_table(infos: list[credentials.SecretInfo], out: TextIO) -> None:
    width = max(len(info.name) for info in infos)
    for info in infos:
        print(f"{info.name:<{width}}  {info.source:<7}  {info.masked}", file=out)


def cmd_secret_set(name: str, *, stdin: TextIO, tty: bool, out: TextIO | None = None) -> int:
    """`llmgw secret set NAME`: read the value (hidden prompt on a TTY, else stdin), store it.

    The value never comes from argv. Exit codes: 0 stored, 1 bad name or empty/invalid value; without
    a usable keyring it raises SecretBackendUnavailable (exit code 2, `cli/exit_codes.py`).
    """
    out = sys.stdout if out is None else out
    try:
        credentials.parse_secret_name(name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if tty:
        try:
            value = getpass.getpass(f"Secret for {name!r} (input hidden): ")
        except EOFError:
            value = ""
    else:
        value = stdin.read()
        value = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    try:
        credentials.set_secret(name, value)
    except ValueError as exc:
        print(f"error: {exc}; nothing stored", file=sys.stderr)
        return 1
    print(
        f"stored {name!r} ({credentials.mask_secret(value)}) in the OS keyring, "
        f"service {credentials.SERVICE!r}",
        file=out,
    )
    return 0


def cmd_secret_list(providers: Iterable[str], out: TextIO) -> int:
    """`llmgw secret list`: name, source and masked value of each secret in effect; never a value.

    Without a usable keyring, the environment's secrets are still listed, then SecretBackendUnavailable
    raised (exit code 2).
    """
    providers = list(providers)
    env_infos = credentials.env_secrets(providers)
    try:
        infos = credentials.effective_secrets(credentials.list_secrets(providers), env_infos)
    except credentials.SecretBackendUnavailable:
        if env_infos:  # what the environment supplies still shows; `main` reports the keyring
            _print_table(env_infos, out)
        raise
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if infos:
        _print_table(infos, out)
    else:
        print(f"no secrets in the OS keyring (service {credentials.SERVICE!r}) or the environment", file=out)
    return 0


def cmd_secret_delete(name: str, out: TextIO) -> int:
    """`llmgw secret delete NAME`. Exit codes: 0 deleted, 1 bad name or not found; without a usable
    keyring it raises SecretBackendUnavailable (exit code 2)."""
    try:
        provider, index = credentials.parse_secret_name(name)
        existed = credentials.delete_secret(name)
        special = (credentials.PROXY_KEY_NAME, credentials.BUDGET_ALERT_WEBHOOK_NAME)
        orphan = provider not in special and credentials.has_secret(
            credentials.secret_name(provider, index + 1)
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not existed:
        print(f"no secret {name!r} in the OS keyring (service {credentials.SERVICE!r})", file=out)
        return 1
    print(f"deleted {name!r} from the OS keyring", file=out)
    if orphan:
        print(
            f"note: {credentials.secret_name(provider, index + 1)!r} and later keys are now ignored "
            f"until {name!r} is set again",
            file=out,
        )
    return 0
