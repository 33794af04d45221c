"""The account listings read only the database's location (`settings/locations.database_path`, no
pydantic): over every source of that location it gives `load`'s answer, or None, and then the command
loads the whole configuration, which reports the problem as it always has."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmgw.errors import ConfigError
from llmgw.services.database import open_configured_store
from llmgw.settings import load
from llmgw.settings.locations import CONFIG_ENV, DATABASE_ENV, database_path
from llmgw.settings.server import ENV_VARS


@dataclass(frozen=True)
class Case:
    """One configuration: `named` is the --config file ("default": the user config dir's file; None:
    no flag), `toml` that file's text (None: no file), `env` the environment, `fast` whether the quick
    reading answers (False: it must give up, so the whole load decides)."""

    toml: str | bytes | None
    named: str | None = "flag"
    env: dict[str, str] = field(default_factory=dict)
    fast: bool = True


ABSOLUTE = "/srv/llmgw/ledger.db"
CASES = {
    "no file at all: the default": Case(None, named=None),
    "the user config dir's file": Case(f'[server]\ndatabase = "{ABSOLUTE}"\n', named="default"),
    "--config, absolute": Case(f'[server]\ndatabase = "{ABSOLUTE}"\n'),
    "--config, relative (kept as written)": Case('[server]\ndatabase = "data/llmgw.db"\n'),
    "--config, [server] without database": Case("[server]\nport = 4001\n"),
    "--config, no [server]": Case('[providers.openai]\ntype = "openai"\n'),
    "--config, empty file": Case(""),
    "$LLMGW_CONFIG names the file": Case(f'[server]\ndatabase = "{ABSOLUTE}"\n', named="env"),
    "--config wins over $LLMGW_CONFIG": Case(
        '[server]\ndatabase = "flag.db"\n', env={CONFIG_ENV: "/nonexistent/llmgw.toml"}
    ),
    "empty $LLMGW_CONFIG: the default file": Case(
        f'[server]\ndatabase = "{ABSOLUTE}"\n', named="default", env={CONFIG_ENV: ""}
    ),
    "$LLMGW_DATABASE wins over the file": Case(
        f'[server]\ndatabase = "{ABSOLUTE}"\n', env={DATABASE_ENV: "/env/llmgw.db"}
    ),
    "$LLMGW_DATABASE without a file": Case(None, named=None, env={DATABASE_ENV: "relative/env.db"}),
    "$LLMGW_DATABASE over a file without [server]": Case("", env={DATABASE_ENV: "/env/llmgw.db"}),
    "unicode and spaces in the path": Case('[server]\ndatabase = "/tmp/my ledgér/llmgw.db"\n'),
    # Not sure: the whole load decides (its answer, or its error).
    "empty database": Case('[server]\ndatabase = ""\n', fast=False),
    "empty $LLMGW_DATABASE": Case(None, named=None, env={DATABASE_ENV: ""}, fast=False),
    "database not a string": Case("[server]\ndatabase = 5\n", fast=False),
    "database a list": Case('[server]\ndatabase = ["a.db"]\n', fast=False),
    "[server] not a table": Case("server = 3\n", fast=False),
    "[server] not a table, $LLMGW_DATABASE set": Case("server = 3\n", env={DATABASE_ENV: "x.db"}, fast=False),
    "not TOML": Case("[server\ndatabase = 'x'\n", fast=False),
    "not UTF-8": Case(b'[server]\ndatabase = "\xff.db"\n', fast=False),
    "--config names no file": Case(None, fast=False),
    "$LLMGW_CONFIG names no file": Case(None, named="env", fast=False),
    "--config names a directory": Case(None, named="directory", fast=False),
}


def sources(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, dict[str, str]]:
    """Lay out `case` under tmp_path: (the --config argument, the environment)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # platformdirs' user dirs
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    env = dict(case.env)
    if case.named == "default":
        file = tmp_path / "config" / "llmgw" / "llmgw.toml"
    elif case.named == "directory":
        file = tmp_path / "a-directory"
        file.mkdir()
    else:
        file = tmp_path / "named.toml"
    if case.toml is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        data = case.toml if isinstance(case.toml, bytes) else case.toml.encode()
        file.write_bytes(data)
    if case.named == "env":
        env[CONFIG_ENV] = str(file)
    return (str(file) if case.named in ("flag", "directory") else None), env


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_quick_reading_gives_the_whole_loads_answer_or_none(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag, env = sources(case, tmp_path, monkeypatch)
    quick = database_path(flag, env)
    try:
        full: str | Exception = load(flag, env).config.server.database
    except Exception as exc:  # ConfigError, or what reading a file that is not UTF-8 raises
        full = exc
    if case.fast:
        assert quick is not None
        assert quick == full
    else:
        assert quick is None  # so the command loads the whole configuration, as it did
    if not case.fast and isinstance(full, str):
        assert full == "" or full == case.env.get(DATABASE_ENV)


def test_a_case_without_any_file_lands_in_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag, env = sources(CASES["no file at all: the default"], tmp_path, monkeypatch)
    assert database_path(flag, env) == str(tmp_path / "data" / "llmgw" / "llmgw.db")


def test_the_environment_names_are_the_models() -> None:
    assert ENV_VARS["database"] == DATABASE_ENV
    assert CONFIG_ENV not in ENV_VARS.values()  # it names the file, not a [server] setting


def test_a_location_problem_is_the_whole_loads_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`open_configured_store` falls back to `load`: the same error, word for word."""
    for name in ("database not a string", "not TOML", "--config names no file", "[server] not a table"):
        flag, env = sources(CASES[name], tmp_path / name.replace(" ", "-"), monkeypatch)
        monkeypatch.delenv(DATABASE_ENV, raising=False)
        for var, value in env.items():
            monkeypatch.setenv(var, value)
        with pytest.raises(ConfigError) as full:
            load(flag)
        with pytest.raises(ConfigError) as quick:
            open_configured_store(flag)
        assert str(quick.value) == str(full.value)


def test_a_listing_does_not_check_the_other_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """By design: a listing reads the database's location only, so a mistake elsewhere in the file
    (here a port out of range) is `llmgw serve`'s and `llmgw config`'s to report, not `user list`'s."""
    db = tmp_path / "llmgw.db"
    config = tmp_path / "llmgw.toml"
    config.write_text(f"[server]\ndatabase = '{db}'\nport = 99999\n", encoding="utf-8")
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    with pytest.raises(ConfigError, match="port"):
        load(str(config))
    with open_configured_store(str(config)) as store:
        assert store.path == db
