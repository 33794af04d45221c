"""The effective environment: `LLMGW_*` variables as every reader of them sees them, with each
`LLMGW_<NAME>_FILE=/path` replaced by `LLMGW_<NAME>` holding that file's content. Docker and Kubernetes
mount secrets as files, and systemd passes credentials as files (`LoadCredential=`, `%d/name`), so a
secret need not sit in the process environment, where `/proc/PID/environ`, `systemctl show` and child
processes can read it.

Rules, the same for every variable (the `[server]` overrides, provider keys, the proxy key, the webhook):
- the value is the file's content (UTF-8) with one trailing line break (`\\n` or `\\r\\n`) removed;
- an empty file counts as unset, as an empty variable does;
- `LLMGW_<NAME>` and `LLMGW_<NAME>_FILE` both set is an error naming both;
- a file that cannot be read is an error naming the variable and the path, never any content.

No variable llmgw reads ends in `_FILE` itself (tests/unit/test_environment.py keeps it so), so the
suffix is never ambiguous. Pure apart from reading the files; no pydantic (`settings.locations` uses it).
The result is a new mapping: `os.environ` is never changed, so a child process (`llmgw run`'s agent)
never inherits a secret read from a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Final

from llmgw.errors import ConfigError

__all__ = ["FILE_SUFFIX", "MAX_FILE_BYTES", "Environment", "effective_environment"]

PREFIX: Final = "LLMGW_"
FILE_SUFFIX: Final = "_FILE"
# A secret or a setting is small; the cap keeps a path like /dev/zero from reading forever.
MAX_FILE_BYTES: Final = 64 * 1024


class Environment(Mapping[str, str]):
    """Environment variables with the `_FILE` ones resolved; `from_files` names, for each variable
    whose value came from a file, the `_FILE` variable that named it (never its content)."""

    __slots__ = ("_values", "from_files")

    def __init__(self, values: Mapping[str, str], from_files: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.from_files: dict[str, str] = dict(from_files)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, var: str) -> str:
        """Where `var`'s value came from, for messages: `LLMGW_X_FILE` or `LLMGW_X` itself."""
        return self.from_files.get(var, var)


def effective_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """`environ` (default: `os.environ`) with every non-empty `LLMGW_<NAME>_FILE` read into
    `LLMGW_<NAME>` and removed. Raises ConfigError (every problem, one per line) for a variable given
    both ways or a file that cannot be read. An `Environment` is returned as it is."""
    env = os.environ if environ is None else environ
    if isinstance(env, Environment):
        return env
    values = dict(env)
    from_files: dict[str, str] = {}
    problems: list[str] = []
    for file_var in sorted(env):
        if not _is_file_var(file_var) or not env[file_var]:
            continue  # an empty `_FILE` variable counts as unset, as an empty variable does
        var = file_var.removesuffix(FILE_SUFFIX)
        del values[file_var]
        if env.get(var):
            problems.append(f"both {var} and {file_var} are set: use one of them")
            continue
        try:
            content = _read(env[file_var])
        except ValueError as exc:  # why the file gives no value, never its content
            problems.append(f"{file_var}={env[file_var]}: {exc}")
            continue
        values.pop(var, None)
        if content:
            values[var] = content
            from_files[var] = file_var
    # `LLMGW_DATABASE_URL`, the name hosting platforms give a database's URL, is `LLMGW_DATABASE`.
    alias, var = "LLMGW_DATABASE_URL", "LLMGW_DATABASE"
    if values.get(alias):
        if values.get(var) and values[var] != values[alias]:
            problems.append(f"both {var} and {alias} are set, to different databases: use one of them")
        else:
            values[var] = values.pop(alias)
            if alias in from_files:
                from_files[var] = from_files.pop(alias)
    if problems:
        raise ConfigError("\n".join(problems))
    return Environment(values, from_files)


def _is_file_var(name: str) -> bool:
    return name.startswith(PREFIX) and name.endswith(FILE_SUFFIX) and len(name) > len(PREFIX + FILE_SUFFIX)


def _read(path: str) -> str:
    """The file's text less one trailing line break; ValueError saying why not (never with content)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read the file: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text") from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")
