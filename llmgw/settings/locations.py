"""Where the configuration and the database are, without the configuration models: the few names the
account listings need (`llmgw user list` reads only `[server] database`), importable without pydantic
(tests/process/test_import_hygiene.py). The loader and `ServerConfig` take their defaults from here.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from llmgw.errors import ConfigError
from llmgw.settings.environment import effective_environment

APP_NAME = "llmgw"
CONFIG_ENV = "LLMGW_CONFIG"
# `[server] database`'s environment variable, as `ServerConfig`'s field names it (a test keeps them equal).
DATABASE_ENV = "LLMGW_DATABASE"


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "llmgw.toml"


def default_database() -> str:
    """Where the ledger lives unless `database` says otherwise: the user data dir."""
    return str(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "llmgw.db")


def config_path(cli_path: str | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The file to read, and whether it was named explicitly (then it must exist)."""
    if cli_path:
        return Path(cli_path), True
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]), True
    return default_config_file(), False


def database_path(cli_path: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """`load(cli_path, environ).config.server.database` read without validating the configuration, or
    None whenever this reading is not sure to give that (the file missing, unreadable, not TOML,
    `[server]` not a table, `database` not a string or empty, a `LLMGW_*_FILE` that cannot be read):
    the caller then loads the whole
    configuration, which reports the problem as it always does. Settings other than the database's
    location are not read here, so their mistakes are not reported by a command that uses only this."""
    try:
        env = effective_environment(os.environ if environ is None else environ)
    except ConfigError:  # a `_FILE` variable that cannot be read: `load` reports it
        return None
    path, explicit = config_path(cli_path, env)
    server: object = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            return None
    except (OSError, UnicodeDecodeError):
        return None
    else:
        try:
            server = tomllib.loads(text).get("server", {})
        except tomllib.TOMLDecodeError:
            return None
    if not isinstance(server, dict):
        return None
    value = env[DATABASE_ENV] if DATABASE_ENV in env else server.get("database", None)
    if value is None:  # TOML has no null: the setting is absent
        return default_database()
    return value if isinstance(value, str) and value else None
