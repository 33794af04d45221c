"""The `llmgw` command line: serve, config check, secret, usage."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from llmgw import version
from llmgw.errors import ConfigError
from llmgw.services import credentials
from llmgw.settings import Config, Loaded, ServerConfig, load

SENSITIVE_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie", "password")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmgw", description="A self-hosted LLM gateway.")
    p.add_argument("--version", action=version.VersionAction)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument(
        "--config", metavar="FILE", help="config file (default: $LLMGW_CONFIG, then user config dir)"
    )
    serve.add_argument("--host", help="listen address (overrides [server] host)")
    serve.add_argument("--port", type=int, help="listen port (overrides [server] port)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--no-auth", action="store_true", help="accept clients without a key (only on a loopback address)"
    )

    config = sub.add_parser("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser("check", help="validate and print the effective configuration")
    check.add_argument("--config", metavar="FILE")

    secret = sub.add_parser("secret", help="manage provider keys and the proxy key in the OS keyring")
    secret_sub = secret.add_subparsers(dest="secret_command", required=True, metavar="ACTION")
    s_set = secret_sub.add_parser("set", help="store a secret (value read from a hidden prompt or stdin)")
    s_set.add_argument("name", help="PROVIDER, PROVIDER.2 … for more keys, or proxy-key")
    s_list = secret_sub.add_parser("list", help="list stored secrets, masked")
    s_list.add_argument("--config", metavar="FILE")
    s_del = secret_sub.add_parser("delete", help="delete a secret")
    s_del.add_argument("name")

    usage = sub.add_parser("usage", help="summarise the usage ledger")
    usage.add_argument("--since", help="a duration (30m, 24h, 7d) or a date/time (2026-11-01)")
    usage.add_argument("--json", action="store_true", help="machine-readable output")
    usage.add_argument("--config", metavar="FILE")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "config":
            return _config_check(args)
        if args.command == "secret":
            return _secret(args)
        return _usage(args)
    except ConfigError as exc:
        print(f"llmgw: configuration error:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _with_server_overrides(loaded: Loaded, **overrides: Any) -> Config:
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return loaded.config
    server = ServerConfig.model_validate({**loaded.config.server.model_dump(), **given})
    return loaded.config.model_copy(update={"server": server})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace) -> int:
    config = _with_server_overrides(
        load(args.config), host=args.host, port=args.port, log_level=args.log_level
    )
    from llmgw.relay.server import run, setup_logging  # the server stack is only imported when serving

    setup_logging(config.server.log_level)
    if args.no_auth:
        if not is_loopback(config.server.host):
            print(
                f"llmgw: refusing --no-auth on {config.server.host}: without a key the gateway may only "
                "listen on a loopback address (127.0.0.1, ::1, localhost).",
                file=sys.stderr,
            )
            return 2
        proxy_key = None
    else:
        proxy_key = credentials.proxy_key()
        if proxy_key is None:
            print(
                "llmgw: no proxy key configured, so clients could not authenticate.\n"
                "  Set one:  llmgw secret set proxy-key   (or the LLMGW_PROXY_KEY environment variable)\n"
                "  or run without authentication on loopback:  llmgw serve --no-auth",
                file=sys.stderr,
            )
            return 2
    return run(config, proxy_key, credentials.KeyringKeySource())


def mask_header(name: str, value: str) -> str:
    return "****" if any(w in name.lower() for w in SENSITIVE_HEADER_WORDS) else value


def describe(loaded: Loaded) -> str:
    """The effective configuration as TOML, secrets masked, with where keys come from."""
    c = loaded.config
    lines = [f"# source: {loaded.source or 'built-in defaults (no config file)'}"]
    if loaded.env_overrides:
        lines.append(f"# environment overrides: {', '.join(sorted(loaded.env_overrides))}")
    lines.append("[server]")
    lines += [f"{k} = {json.dumps(v)}" for k, v in c.server.model_dump().items()]
    for name, p in c.providers.items():
        lines += ["", f"[providers.{name}]"]
        for k, v in p.model_dump(exclude_none=True).items():
            if k == "headers":
                v = {h: mask_header(h, hv) for h, hv in v.items()}
                lines.append(
                    f"headers = {{{', '.join(f'{json.dumps(h)} = {json.dumps(hv)}' for h, hv in v.items())}}}"
                )
            else:
                lines.append(f"{k} = {json.dumps(list(v) if isinstance(v, tuple) else v)}")
        if p.base_url is None:
            lines.append(f"# base_url (default) = {json.dumps(p.url)}")
        keys = credentials.provider_keys(name)
        lines.append(
            f"# api keys: {len(keys)}"
            if keys
            else f"# api keys: NONE (llmgw secret set {name}, or {credentials.env_var_name(name)})"
        )
    if c.models:
        lines += ["", "[models]"]
        for alias, a in c.models.items():
            fb = f", fallbacks = {json.dumps(list(a.fallbacks))}" if a.fallbacks else ""
            lines.append(f"{json.dumps(alias)} = {{ model = {json.dumps(a.model)}{fb} }}")
    lines += ["", f"# proxy key: {'configured' if credentials.proxy_key() else 'NOT configured'}"]
    return "\n".join(lines)


def _config_check(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    print(describe(loaded))
    print("\nconfiguration OK", file=sys.stderr)
    return 0


def _secret(args: argparse.Namespace) -> int:
    if args.secret_command == "set":
        return credentials.cmd_secret_set(args.name, stdin=sys.stdin, tty=sys.stdin.isatty())
    if args.secret_command == "delete":
        return credentials.cmd_secret_delete(args.name, out=sys.stdout)
    try:
        providers = list(load(args.config).config.providers)
    except ConfigError:
        providers = []  # listing secrets should not need a valid config
    return credentials.cmd_secret_list(providers, out=sys.stdout)


def _usage(args: argparse.Namespace) -> int:
    from llmgw.storage.requests import Store
    from llmgw.storage.writer import format_usage_table, parse_since

    config = load(args.config).config
    try:
        since = parse_since(args.since, time.time()) if args.since else None
    except ValueError as exc:
        print(f"llmgw: --since: {exc}", file=sys.stderr)
        return 2
    with Store.open(config.server.database) as store:
        summary = store.usage_summary(since)
    print(json.dumps(summary.to_json(), indent=2) if args.json else format_usage_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
