"""Loading the configuration: the TOML file, `LLMGW_*` environment overrides of `[server]`, validation
with every problem located (`file: [providers.x] base_url: …`, `environment LLMGW_PORT: …`), and the
checks across tables (aliases that point nowhere, provider names).

Precedence: built-in default < config file < environment, the effective one
(`environment.effective_environment`: `LLMGW_<NAME>_FILE` gives `LLMGW_<NAME>` from a file). The
config file is `--config FILE`, else `$LLMGW_CONFIG`, else `llmgw.toml` in the user config dir (absent
is fine: the defaults run a gateway on loopback with no providers).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmgw.errors import ConfigError
from llmgw.settings.config import Config
from llmgw.settings.environment import Environment, effective_environment
from llmgw.settings.locations import config_path, default_config_file
from llmgw.settings.providers import WELL_KNOWN_PROVIDERS, ProviderConfig
from llmgw.settings.server import ENV_VARS

__all__ = ["Loaded", "config_path", "default_config_file", "load", "with_implicit_providers"]

PROVIDER_NAME = re.compile(r"^[a-z0-9_-]+$")
RESERVED_PROVIDER_NAMES = frozenset({"proxy-key"})


@dataclass(slots=True)
class Loaded:
    """A validated configuration and where it came from."""

    config: Config
    source: Path | None
    env_overrides: dict[str, str] = field(default_factory=dict)
    # Each override whose value came from a file: its `_FILE` variable (the value is never shown).
    env_files: dict[str, str] = field(default_factory=dict)


def load(cli_path: str | None = None, environ: Mapping[str, str] | None = None) -> Loaded:
    """Read, merge and validate the configuration; raise ConfigError with every problem located."""
    env = effective_environment(os.environ if environ is None else environ)
    path, explicit = config_path(cli_path, env)
    raw: dict[str, Any] = {}
    source: Path | None = None
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        source = path
    elif explicit:
        raise ConfigError(f"{path}: config file not found")

    overrides = {var: env[var] for var in ENV_VARS.values() if var in env}
    if overrides:
        server = raw.setdefault("server", {})
        if not isinstance(server, dict):
            raise ConfigError(f"{path}: [server] must be a table")
        for name, var in ENV_VARS.items():
            if var in overrides:
                server[name] = overrides[var]

    where = str(source) if source else "defaults"
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_located(where, err, env) for err in exc.errors())) from None
    configured = set(config.providers)
    config = with_implicit_providers(config)
    problems = _cross_check(config, configured)
    if problems:
        raise ConfigError("\n".join(f"{where}: {p}" for p in problems))
    files = {var: env.from_files[var] for var in overrides if var in env.from_files}
    return Loaded(config, source, overrides, files)


def with_implicit_providers(config: Config) -> Config:
    """`config` with every well-known provider it has no table for, marked implicit (after its own)."""
    missing = [name for name in WELL_KNOWN_PROVIDERS if name not in config.providers]
    if not missing:
        return config
    implicit = {name: ProviderConfig.implicit(name) for name in missing}
    return config.model_copy(update={"providers": {**config.providers, **implicit}})


def _located(where: str, err: Mapping[str, Any], env: Environment) -> str:
    loc = [str(p) for p in err["loc"]]
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        msg = "unknown setting"
    elif err["type"] == "literal_error" and "type" in loc[-1:]:
        msg = (
            f"unknown provider type {err.get('input')!r}; "
            "expected openai, openrouter, openai-compatible, anthropic or gemini"
        )
    key = ".".join(loc)
    if len(loc) == 2 and loc[0] == "server" and (var := ENV_VARS.get(loc[1], "")) in env:
        return f"environment {env.source(var)}: {msg}"
    if loc and loc[0] == "providers" and len(loc) >= 2:
        key = f"[providers.{loc[1]}]" + (f" {'.'.join(loc[2:])}" if len(loc) > 2 else "")
    elif loc and loc[0] == "prices" and len(loc) >= 2:
        key = f'[prices."{loc[1]}"]' + (f" {'.'.join(loc[2:])}" if len(loc) > 2 else "")
    elif loc and loc[0] in ("server", "models") and len(loc) >= 2:
        key = f"[{loc[0]}] {'.'.join(loc[1:])}"
    return f"{where}: {key}: {msg}"


def _cross_check(config: Config, configured: set[str]) -> list[str]:
    problems: list[str] = []
    for name, p in config.providers.items():
        if not PROVIDER_NAME.match(name) or name in RESERVED_PROVIDER_NAMES:
            problems.append(
                f"[providers.{name}]: provider names must match [a-z0-9_-]+ and not be 'proxy-key'"
            )
        if p.type == "openai-compatible" and not p.base_url:
            problems.append(f"[providers.{name}] base_url: required for type 'openai-compatible'")
        if p.type != "openrouter" and (p.http_referer or p.x_title):
            problems.append(f"[providers.{name}]: http_referer and x_title apply to type 'openrouter' only")
    default = config.server.default_provider
    if default and default not in config.providers:
        problems.append(f"[server] default_provider: {default!r} is not a provider")
    for alias, target in config.models.items():
        # An alias named like an implicit provider's model wins over it (routes that name elsewhere).
        if "/" in alias and alias.split("/", 1)[0] in configured:
            problems.append(f"[models] {alias}: an alias may not shadow provider {alias.split('/', 1)[0]!r}")
        for ref in (target.model, *target.fallbacks):
            prov, _, upstream = ref.partition("/")
            if prov not in config.providers or not upstream:
                problems.append(f"[models] {alias}: {ref!r} points nowhere (expected PROVIDER/model)")
            elif (allowed := config.providers[prov].models) is not None and upstream not in allowed:
                problems.append(f"[models] {alias}: {upstream!r} is not in [providers.{prov}] models")
    return problems
