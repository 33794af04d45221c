"""Production mode (`[server] env = "production"`, `LLMGW_ENV`): the settings `llmgw serve` refuses to
start with, and what development mode only warns about. Pure: the caller reads the proxy key.

Each problem is one sentence naming the setting (or flag) and how to put it right; the CLI prints every
one, so a deployment is fixed in one pass, not one refusal at a time.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from llmgw.settings import Config

# 32 characters of a random key are far past guessing online; shorter ones are typed, reused or guessable.
MIN_PROXY_KEY_CHARS = 32
_NEW_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))" | llmgw secret set proxy-key'


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or "a socket"


def _database_in_clear(database: str) -> str | None:
    """The `sslmode` of a PostgreSQL URL that may speak to a server on another machine in clear
    (`disable`, `allow`), else None (a file, a socket or loopback, or a mode that requires TLS)."""
    if not database.startswith(("postgresql://", "postgres://")):
        return None
    parts = urllib.parse.urlsplit(database)
    mode = urllib.parse.parse_qs(parts.query).get("sslmode", [""])[-1]
    if mode not in ("disable", "allow"):
        return None
    host = parts.hostname or ""
    if host in ("", "localhost") or host.startswith("/"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return mode


def production_problems(config: Config, *, no_auth: bool, proxy_key: str | None) -> list[str]:
    """Why `config` must not serve in production (empty in development, or when nothing is wrong).

    `proxy_key` is the configured one (None: none); it is measured, never quoted."""
    server = config.server
    if not server.production:
        return []
    problems: list[str] = []
    if no_auth:
        problems.append(
            "--no-auth: production mode requires clients to authenticate; drop --no-auth and set a proxy "
            f"key of at least {MIN_PROXY_KEY_CHARS} characters ({_NEW_KEY})"
        )
    elif server.auth_mode in ("legacy", "both"):
        if proxy_key is None and server.auth_mode == "legacy":
            problems.append(
                f'auth_mode = "legacy" with no proxy key: set one of at least {MIN_PROXY_KEY_CHARS} '
                f"characters ({_NEW_KEY}, or LLMGW_PROXY_KEY)"
            )
        elif proxy_key is not None and len(proxy_key) < MIN_PROXY_KEY_CHARS:
            problems.append(
                f"the proxy key has {len(proxy_key)} characters; at least {MIN_PROXY_KEY_CHARS} are required "
                f'with auth_mode = "{server.auth_mode}" in production: {_NEW_KEY}'
            )
    if server.cookie_secure is False and not server.trusted_proxies:
        problems.append(
            "cookie_secure = false: production mode sends the portal's session cookies over HTTPS only; "
            "remove cookie_secure, or name the TLS-terminating reverse proxy in front of the gateway in "
            "trusted_proxies"
        )
    if server.public_url.startswith("http://"):
        problems.append(
            f'public_url = "{server.public_url}": production mode serves the portal over HTTPS only (its '
            "session cookie is Secure); give the https:// address browsers use"
        )
    if (unsafe := _database_in_clear(server.database)) is not None:
        problems.append(
            f"database: sslmode={unsafe} to {_host(server.database)} sends the gateway's database traffic "
            "(key hashes, sessions, the ledger) over the network in clear; use sslmode=verify-full (or "
            "require), or a server on this machine"
        )
    if "*" in server.cors_origins:
        problems.append(
            'cors_origins = ["*"]: production mode does not let every web site call /v1/* from a browser; '
            'list the exact origins (cors_origins = ["https://app.example.com"]), or none to keep CORS off'
        )
    return problems


def start_warnings(config: Config, *, no_auth: bool) -> list[str]:
    """What is accepted but worth a warning at start (in production these are refused instead)."""
    server = config.server
    warnings: list[str] = []
    if "*" in server.cors_origins and not server.production:
        warnings.append(
            'cors_origins = ["*"]: any web page may call /v1/* from a browser (production mode refuses '
            "this; list the exact origins instead)"
        )
    if no_auth and (foreign := [o for o in server.cors_origins if o != "*" and not _loopback_origin(o)]):
        warnings.append(
            f"cors_origins lists {', '.join(foreign)}, but with --no-auth the gateway refuses every "
            "request whose Origin is not a loopback one"
        )
    if not server.public_url and not server.allowed_hosts and (server.production or _wildcard(server.host)):
        warnings.append(
            "public_url is not set: the portal (/ui) answers only requests addressed to localhost, "
            "127.0.0.1 or [::1]; set public_url to the address browsers use "
            '(public_url = "https://llm.example.com"), or list names in allowed_hosts'
        )
    return warnings


def _wildcard(host: str) -> bool:
    """A listen address of every interface (0.0.0.0, ::): which name browsers use is not known."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _loopback_origin(origin: str) -> bool:
    """As relay/guard.py judges an Origin without auth (the services may not import the relay)."""
    host = urllib.parse.urlsplit(origin).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
