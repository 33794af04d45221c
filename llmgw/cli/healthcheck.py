"""`llmgw healthcheck`: exit 0 when the configured gateway answers `GET /healthz` with 200, else 1.

For a container's HEALTHCHECK (packaging/Containerfile): the image has no curl, only the binary. The
listener is the configuration's `[server]` host and port (environment included), an any-address one
reached on loopback. One short request, no retry: the orchestrator retries. What failed is one line
on stderr (never a configuration value beyond the URL).
"""

from __future__ import annotations

import argparse
import http.client
import sys
import urllib.parse

from llmgw.errors import ConfigError
from llmgw.services.agent_launch import listen_url
from llmgw.settings import load

DEFAULT_TIMEOUT = 1.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser(
        "healthcheck",
        help="exit 0 if the configured gateway answers /healthz, else 1 (for container health checks)",
        description="GET /healthz of the configured listener ([server] host and port, LLMGW_HOST and "
        "LLMGW_PORT): exit 0 on 200, 1 otherwise.",
    )
    check.add_argument(
        "--config", metavar="FILE", help="config file (default: $LLMGW_CONFIG, then user config dir)"
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the answer (default {DEFAULT_TIMEOUT:g})",
    )


def probe(url: str, timeout: float) -> str | None:
    """None when `url`/healthz answers 200 within `timeout` seconds, else why not."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/healthz", headers={"Host": parts.netloc, "Connection": "close"})
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:  # refused, timed out, not HTTP
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        conn.close()
    return None if status == 200 else f"HTTP {status}"


def run(args: argparse.Namespace) -> int:
    if not args.timeout > 0:
        print("llmgw healthcheck: --timeout must be more than 0 seconds", file=sys.stderr)
        return 2
    try:
        server = load(args.config).config.server
    except ConfigError as exc:
        print(f"llmgw healthcheck: unhealthy: {exc}", file=sys.stderr)
        return 1
    url = listen_url(server.host, server.port)
    problem = probe(url, args.timeout)
    if problem is not None:
        print(f"llmgw healthcheck: {url}/healthz: unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0
