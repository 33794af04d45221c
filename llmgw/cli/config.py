"""`llmgw config check`: the effective configuration, secrets masked, or a located error."""

from __future__ import annotations

import argparse
import json
import sys

from llmgw.services import credentials, production
from llmgw.services.database import shown
from llmgw.services.masking import mask_secret
from llmgw.settings import Loaded, load
from llmgw.settings.environment import FILE_SUFFIX
from llmgw.settings.server import ENV_VARS

SENSITIVE_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie", "password")
SECRET_SETTINGS = frozenset({"budget_alert_webhook"})  # [server] settings shown masked


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser("check", help="validate and print the effective configuration")
    check.add_argument("--config", metavar="FILE")


def mask_header(name: str, value: str) -> str:
    return "****" if any(w in name.lower() for w in SENSITIVE_HEADER_WORDS) else value


def describe(loaded: Loaded) -> str:
    """The effective configuration as TOML, secrets masked, with where keys come from."""
    c = loaded.config
    lines = [f"# source: {loaded.source or 'built-in defaults (no config file)'}"]
    if loaded.env_overrides:
        names = [
            f"{v} (from {loaded.env_files[v]})" if v in loaded.env_files else v for v in loaded.env_overrides
        ]
        lines.append(f"# environment overrides: {', '.join(sorted(names))}")
    from_files = {name for name, var in ENV_VARS.items() if var in loaded.env_files}
    lines.append("[server]")
    for k, v in c.server.model_dump(exclude={"cookie_secure"}).items():
        if k in from_files:  # a file's content is never shown, whatever the setting
            masked = mask_secret(v if isinstance(v, str) else json.dumps(v))
            lines.append(
                f"{k} = {json.dumps(masked, ensure_ascii=False)}  # from {ENV_VARS[k]}{FILE_SUFFIX}, masked"
            )
        elif k in SECRET_SETTINGS and v:
            lines.append(f"{k} = {json.dumps(mask_secret(v), ensure_ascii=False)}  # a secret, masked")
        elif k == "database" and shown(v) != v:
            lines.append(f"{k} = {json.dumps(shown(v))}  # its password masked")
        else:
            lines.append(f"{k} = {json.dumps(v)}")
    if not c.server.budget_alert_webhook and credentials.budget_alert_webhook():
        lines.append("# budget_alert_webhook: from the keyring (budget-alert-webhook), masked")
    if c.server.cookie_secure is None and c.server.production:
        lines.append("# cookie_secure (auto) = true")
    elif c.server.cookie_secure is None:
        lines.append("# cookie_secure (auto) = true over HTTPS (direct, or from trusted_proxies), else false")
    else:
        lines.append(f"cookie_secure = {json.dumps(c.server.cookie_secure)}")
    keyless: list[str] = []
    for name, p in c.providers.items():
        keys = credentials.provider_keys(name)
        if p.is_implicit and not keys:
            keyless.append(name)
            continue
        mark = f"  # implicit: a key for {name} exists" if p.is_implicit else ""
        lines += ["", f"[providers.{name}]{mark}"]
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
        elif p.url != p.base_url:
            lines.append(f"# effective base_url = {json.dumps(p.url)} (completed)")
        lines.append(
            f"# api keys: {len(keys)}{_from_file_note(name, keys)}"
            if keys
            else f"# api keys: NONE (llmgw secret set {name}, or {credentials.env_var_name(name)})"
        )
    if keyless:
        lines += [
            "",
            f"# known by name, no key: {', '.join(keyless)} "
            "(llmgw secret set NAME, or LLMGW_NAME_API_KEY, serves one without a [providers] table)",
        ]
    if c.models:
        lines += ["", "[models]"]
        for alias, a in c.models.items():
            fb = f", fallbacks = {json.dumps(list(a.fallbacks))}" if a.fallbacks else ""
            lines.append(f"{json.dumps(alias)} = {{ model = {json.dumps(a.model)}{fb} }}")
    lines += ["", f"# proxy key: {'configured' if credentials.proxy_key() else 'NOT configured'}"]
    return "\n".join(lines)


def _from_file_note(provider: str, keys: list[str]) -> str:
    """Which of the keys in effect came from files (`LLMGW_*_FILE`), when the environment's are."""
    infos = credentials.env_secrets([provider])
    if [i.masked for i in infos] != [mask_secret(k) for k in keys]:
        return ""  # the keyring's keys are in effect
    files = [credentials.env_var_name(provider, n) for n, i in enumerate(infos, 1) if i.source == "file"]
    return f", from files ({', '.join(f + FILE_SUFFIX for f in files)})" if files else ""


def run(args: argparse.Namespace) -> int:
    loaded = load(args.config)
    print(describe(loaded))
    config = loaded.config
    # As `llmgw serve` (without --no-auth) would judge it: production refuses, development warns.
    problems = production.production_problems(config, no_auth=False, proxy_key=credentials.proxy_key())
    if problems:
        print(
            f"\nproduction mode: `llmgw serve` would refuse to start ({len(problems)} problems):\n"
            + "\n".join(f"  - {p}" for p in problems),
            file=sys.stderr,
        )
        return 2
    for warning in production.start_warnings(config, no_auth=False):
        print(f"warning: {warning}", file=sys.stderr)
    print("\nconfiguration OK", file=sys.stderr)
    return 0
