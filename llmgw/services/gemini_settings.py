"""The system settings file `llmgw run gemini` starts Gemini CLI with (see `agent_launch`'s docstring
for why a system settings file): the administrator's system settings, if any, with the gateway's auth
type over them (`agent_launch.gemini_system_settings`), written 0600 to `gemini-settings.json` in the
user config dir, rewritten at each launch. The user's own `~/.gemini/settings.json` is never written.

Gemini CLI (0.61) reads a system settings file only when it and every directory above it belong to root
and no group or other user may write them; else it skips the file with a warning and, headless, stops at
"Invalid auth method selected". For anyone but root that is the rule, not the exception, so
`settings_warning` says so when the user's own settings do not choose the auth type either, and
`choose_api_key_auth` sets it in the user's own settings, only when the user says so (`llmgw run
--gemini-auth`, or yes at the prompt): the rest of that file is kept as it was.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from llmgw.errors import LaunchError
from llmgw.services.agent_launch import (
    GEMINI_AUTH_TYPE,
    GEMINI_SETTINGS_ENV,
    gemini_system_settings,
    gemini_system_settings_path,
)
from llmgw.settings import locations
from llmgw.storage import file_modes

__all__ = [
    "choose_api_key_auth",
    "heeded_by_gemini_cli",
    "prepare",
    "settings_file",
    "settings_warning",
    "user_settings_file",
]


def settings_file() -> Path:
    return locations.user_config_dir() / "gemini-settings.json"


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


def heeded_by_gemini_cli(path: Path) -> bool:
    """Whether Gemini CLI reads `path` as a system settings file: on POSIX, it and each directory above
    it owned by root and not writable by group or others (Windows: its ACL checks, not mirrored here)."""
    if os.name != "posix":
        return True
    path = Path(os.path.abspath(path))
    for item in (path, *path.parents):
        try:
            info = os.stat(item)
        except OSError:
            return False
        if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return True


def user_settings_file(environ: Mapping[str, str]) -> Path:
    """The user's own `~/.gemini/settings.json` (under GEMINI_CLI_HOME, if set)."""
    home = environ.get("GEMINI_CLI_HOME") or environ.get("HOME") or str(Path.home())
    return Path(home) / ".gemini" / "settings.json"


def choose_api_key_auth(environ: Mapping[str, str]) -> Path:
    """Set `security.auth.selectedType = "gemini-api-key"` in the user's own settings (created if
    missing), keeping everything else; `LaunchError` for a file that is not a plain JSON object (Gemini
    CLI allows comments, which this would lose: then the user edits it). The file it wrote."""
    path = user_settings_file(environ)
    settings: dict[str, object] = {}
    if path.exists():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise LaunchError(
                f"cannot read {path} as plain JSON ({exc}): add "
                f'"security": {{"auth": {{"selectedType": "{GEMINI_AUTH_TYPE}"}}}} to it yourself'
            ) from None
        if not isinstance(found, dict):
            raise LaunchError(f"{path} is not a JSON object")
        settings = found
    security = settings.get("security")
    security = dict(security) if isinstance(security, dict) else {}
    auth = security.get("auth")
    auth = dict(auth) if isinstance(auth, dict) else {}
    auth["selectedType"] = GEMINI_AUTH_TYPE
    security["auth"] = auth
    settings["security"] = security
    file_modes.replace_private(path, json.dumps(settings, indent=2) + "\n")
    return path


def _user_selects_api_key(environ: Mapping[str, str]) -> bool:
    """Whether the user's own `~/.gemini/settings.json` (GEMINI_CLI_HOME's, if set) chooses the auth type."""
    try:
        settings = json.loads(user_settings_file(environ).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    security = settings.get("security") if isinstance(settings, dict) else None
    auth = security.get("auth") if isinstance(security, dict) else None
    return isinstance(auth, dict) and auth.get("selectedType") == GEMINI_AUTH_TYPE


def settings_warning(environ: Mapping[str, str], target: Path | None = None) -> str | None:
    """What to tell the user when Gemini CLI will skip the settings file and theirs lacks the auth type."""
    target = settings_file() if target is None else target
    if heeded_by_gemini_cli(target) or _user_selects_api_key(environ):
        return None
    return (
        f"Gemini CLI reads {target} only if it and its directories belong to root (no group or other "
        f'write), so it stops at `Invalid auth method selected` unless your own settings choose "'
        f'{GEMINI_AUTH_TYPE}": run `llmgw run --gemini-auth -- gemini` once to set it in '
        f"{user_settings_file(environ)}"
    )
