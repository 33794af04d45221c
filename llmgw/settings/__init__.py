"""Configuration: every setting declared once, as a field of the configuration model (default, bounds,
help, and for `[server]` its `LLMGW_*` environment variable), loaded from TOML with environment
overrides; docs/CONFIGURATION.md's settings tables are generated from those fields (`scripts/config-doc`).

- `locations.py`  where the configuration and the database are, without the models (no pydantic)
- `environment.py` the effective environment: `LLMGW_<NAME>_FILE` read into `LLMGW_<NAME>` (no pydantic)
- `fields.py`     what a settings table is made of: the strict base model, `Shown`, `EnvName`
- `server.py`     `[server]`: `ServerConfig`
- `addresses.py`  the addresses `[server]` holds: origins, host names, networks, the metrics listener
- `providers.py`  `[providers.NAME]`: `ProviderConfig`, provider types, default and completed base URLs
- `config.py`     the whole file, `Config`; `[models]` aliases and `[prices."PROVIDER/MODEL"]`
- `loader.py`     `load`: file < environment, located errors, checks across tables
- `reference.py`  the settings tables of docs/CONFIGURATION.md (`python -m llmgw.settings.reference`)

The names below are imported on first use (PEP 562): importing `llmgw.settings.locations` must not
build the pydantic models (an account listing needs only the database's path: ~190 ms saved).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmgw.settings.addresses import metrics_address
    from llmgw.settings.config import AliasConfig, Config, PriceConfig
    from llmgw.settings.loader import Loaded, load, with_implicit_providers
    from llmgw.settings.providers import (
        DEFAULT_BASE_URLS,
        WELL_KNOWN_PROVIDERS,
        ProviderConfig,
        ProviderType,
        effective_base_url,
    )
    from llmgw.settings.server import ServerConfig

# Each exported name and the module that defines it.
_HOMES = {
    "metrics_address": "addresses",
    "AliasConfig": "config",
    "Config": "config",
    "PriceConfig": "config",
    "Loaded": "loader",
    "load": "loader",
    "with_implicit_providers": "loader",
    "DEFAULT_BASE_URLS": "providers",
    "WELL_KNOWN_PROVIDERS": "providers",
    "ProviderConfig": "providers",
    "ProviderType": "providers",
    "effective_base_url": "providers",
    "ServerConfig": "server",
}

__all__ = [
    "DEFAULT_BASE_URLS",
    "WELL_KNOWN_PROVIDERS",
    "AliasConfig",
    "Config",
    "Loaded",
    "PriceConfig",
    "ProviderConfig",
    "ProviderType",
    "ServerConfig",
    "effective_base_url",
    "load",
    "metrics_address",
    "with_implicit_providers",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # once: later lookups are plain module attributes
    return value
