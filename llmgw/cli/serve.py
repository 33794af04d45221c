"""`llmgw serve`: run the gateway. `legacy` auth mode refuses to start without the proxy key; `both`
(the default) reads it if there is one; `users` never reads it. Without a user and a proxy key the
gateway starts anyway and its log says the two commands that let a first client in."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from typing import Any

from llmgw.services import credentials, production
from llmgw.settings import Config, ServerConfig, load


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve with N processes on the one port (PostgreSQL database only; default 1). Each worker "
        "serves its own /metrics on the metrics_listen port plus its index; a worker that dies is restarted",
    )
    serve.add_argument("--worker-fds", help=argparse.SUPPRESS)  # a worker of --workers: its sockets


def _with_server_overrides(config: Config, **overrides: Any) -> Config:
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return config
    server = ServerConfig.model_validate({**config.server.model_dump(), **given})
    return config.model_copy(update={"server": server})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_unsafe_production(config: Config, no_auth: bool) -> bool:
    """True (after naming every problem on stderr) when production mode refuses `config`; in
    development, its warnings are logged instead."""
    proxy_key = credentials.proxy_key() if config.server.production and not no_auth else None
    problems = production.production_problems(config, no_auth=no_auth, proxy_key=proxy_key)
    if problems:
        print(
            "llmgw: refusing to start in production mode ([server] env, LLMGW_ENV):\n"
            + "\n".join(f"  - {p}" for p in problems),
            file=sys.stderr,
        )
        return True
    for warning in production.start_warnings(config, no_auth=no_auth):
        logging.getLogger("llmgw").warning("%s", warning)
    return False


def run(args: argparse.Namespace) -> int:
    config = _with_server_overrides(
        load(args.config).config, host=args.host, port=args.port, log_level=args.log_level
    )
    # The server stack is only imported when serving.
    from llmgw.server.listeners import run as run_server
    from llmgw.server.listeners import setup_logging

    setup_logging(config.server.log_level, config.server.log_format)
    if refuse_unsafe_production(config, args.no_auth):
        return 2
    mode = config.server.auth_mode
    proxy_key: str | None = None
    if args.no_auth:
        if not is_loopback(config.server.host):
            print(
                f"llmgw: refusing --no-auth on {config.server.host}: without a key the gateway may only "
                "listen on a loopback address (127.0.0.1, ::1, localhost).",
                file=sys.stderr,
            )
            return 2
        # No key of any kind: `legacy` without a proxy key is authentication off.
        config = _with_server_overrides(config, auth_mode="legacy")
    elif mode != "users":  # `users` takes personal keys only: the proxy key is not even read
        proxy_key = credentials.proxy_key()
        if proxy_key is None and mode == "legacy":
            print(
                "llmgw: no proxy key configured, so clients could not authenticate (auth_mode 'legacy').\n"
                "  Set one:  llmgw secret set proxy-key   (or the LLMGW_PROXY_KEY environment variable)\n"
                '  or use personal API keys:  [server] auth_mode = "both" (LLMGW_AUTH_MODE=both)\n'
                "  or run without authentication on loopback:  llmgw serve --no-auth",
                file=sys.stderr,
            )
            return 2
    if not config.server.budget_alert_webhook and (webhook := credentials.budget_alert_webhook()):
        config = _with_server_overrides(config, budget_alert_webhook=webhook)  # the keyring's, a secret
    if args.worker_fds:  # started by `--workers`'s parent: serve the sockets it bound
        from llmgw.server.workers import WorkerSockets

        sockets = WorkerSockets.parse(args.worker_fds)
        return run_server(config, proxy_key, credentials.KeyringKeySource(), sockets)
    if args.workers != 1:
        from llmgw.server.workers import refusal, run_workers

        problem = refusal(config, args.workers)
        if problem:
            print(f"llmgw: {problem}", file=sys.stderr)
            return 2
        return run_workers(config, args.workers)
    return run_server(config, proxy_key, credentials.KeyringKeySource())
