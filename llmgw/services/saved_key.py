"""The user's own gateway key, saved on their machine for `llmgw run` (`llmgw key save`): one file,
`api-key` in the user config dir (beside `llmgw.toml`), 0600 in a 0700 directory whatever the umask
(`storage.file_modes`). `LLMGW_API_KEY` wins over it. A file found with wider modes is still used and
named with the fix, never changed (the project's rule for files it did not just create).

The key is a personal token or the proxy key: visible ASCII, as it travels in a header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from llmgw.settings import locations
from llmgw.storage import file_modes

__all__ = ["FoundKey", "check_key", "find_key", "key_file", "remove_key", "save_key"]

KEY_ENV = "LLMGW_API_KEY"


@dataclass(frozen=True, slots=True)
class FoundKey:
    value: str
    source: str  # `LLMGW_API_KEY` or the file's path, for messages
    warning: str | None = None  # the file's modes let others read it


def key_file() -> Path:
    return locations.user_config_dir() / "api-key"


def check_key(value: str) -> str:
    """`value` without surrounding whitespace; ValueError if empty or not visible ASCII."""
    value = value.strip()
    if not value:
        raise ValueError("the key is empty")
    if not all("!" <= c <= "~" for c in value):
        raise ValueError("a key is visible ASCII only (letters, digits, punctuation; no spaces)")
    return value


def save_key(value: str, path: Path | None = None) -> Path:
    """Write the key (checked) to the key file, replacing any, 0600; the file's path."""
    value = check_key(value)
    path = key_file() if path is None else path
    file_modes.replace_private(path, value + "\n")
    return path


def remove_key(path: Path | None = None) -> bool:
    """Delete the key file; whether there was one."""
    path = key_file() if path is None else path
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def find_key(environ: Mapping[str, str], path: Path | None = None) -> FoundKey | None:
    """The key `llmgw run` uses: `LLMGW_API_KEY`, else the key file; None without either. ValueError
    (naming the source, never the value) for a key that is empty or not visible ASCII."""
    if environ.get(KEY_ENV):
        try:
            return FoundKey(check_key(environ[KEY_ENV]), KEY_ENV)
        except ValueError as exc:
            raise ValueError(f"{KEY_ENV}: {exc}") from None
    path = key_file() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the key: {exc}") from None
    try:
        value = check_key(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    loose = file_modes.loose_modes([path])
    warning = file_modes.warning(*loose[0]) if loose else None
    return FoundKey(value, str(path), warning)
