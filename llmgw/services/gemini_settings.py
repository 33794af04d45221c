"""The system settings file `llmgw run gemini` starts Gemini CLI with (see `agent_launch`'s docstring
for why a system settings file): the administrator's system settings, if any, with the gateway's auth
type over them (`agent_launch.gemini_system_settings`), written 0600 to `gemini-settings.json` in the
user config dir, rewritten at each launch. The user's own `~/.gemini/settings.json` is never written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from llmgw.errors import LaunchError
from llmgw.services.agent_launch import (
    GEMINI_SETTINGS_ENV,
    gemini_system_settings,
    gemini_system_settings_path,
)
from llmgw.settings.server import APP_NAME
from llmgw.storage import file_modes

__all__ = ["prepare", "settings_file"]


def settings_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "gemini-settings.json"


def prepare(environ: Mapping[str, str], target: Path | None = None) -> dict[str, str]:
    """Write the settings file; the variable that points Gemini CLI at it."""
    target = settings_file() if target is None else target
    source = Path(gemini_system_settings_path(environ))
    existing = None  # none, or our own file from an earlier launch: made again from nothing
    if source.is_file() and source.resolve() != target.resolve():
        try:
            existing = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise LaunchError(
                f"cannot read Gemini CLI's system settings {source} ({exc}); set "
                'security.auth.selectedType = "gemini-api-key" in your settings and run gemini yourself'
            ) from None
        if not isinstance(existing, dict):
            raise LaunchError(f"Gemini CLI's system settings {source} are not a JSON object")
    file_modes.replace_private(target, json.dumps(gemini_system_settings(existing), indent=2) + "\n")
    return {GEMINI_SETTINGS_ENV: str(target)}
