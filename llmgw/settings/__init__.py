"""Configuration: every setting declared once, as a field of the configuration model (default, bounds,
help, and for `[server]` its `LLMGW_*` environment variable), loaded from TOML with environment
overrides; docs/CONFIGURATION.md's settings tables are generated from those fields (`scripts/config-doc`).

- `fields.py`     what a settings table is made of: the strict base model, `Shown`, `EnvName`
- `server.py`     `[server]`: `ServerConfig`
- `addresses.py`  the addresses `[server]` holds: origins, host names, networks, the metrics listener
- `providers.py`  `[providers.NAME]`: `ProviderConfig`, provider types, default and completed base URLs
- `config.py`     the whole file, `Config`; `[models]` aliases and `[prices."PROVIDER/MODEL"]`
- `loader.py`     `load`: file < environment, located errors, checks across tables
- `reference.py`  the settings tables of docs/CONFIGURATION.md (`python -m llmgw.settings.reference`)
"""

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
