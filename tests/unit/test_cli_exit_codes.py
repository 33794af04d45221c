"""`llmgw`'s one table of exception → exit code and message (`llmgw/cli/exit_codes.py`), as `main`
applies it to whatever a command raised."""

from __future__ import annotations

import argparse

import pytest

from llmgw import cli
from llmgw.errors import (
    AccountNotFound,
    AgentNotFound,
    ConfigError,
    DatabaseInUse,
    InvalidAccountInput,
    LaunchError,
    SecretBackendUnavailable,
    UpstreamUnavailable,
)

IN_USE = "another llmgw serve (pid 7, http://127.0.0.1:4000) is already using g.db; stop it or give this one"
NO_KEYRING = "no OS keyring backend is available (no D-Bus); or set X"


@pytest.mark.parametrize(
    ("exc", "code", "stderr"),
    [
        (ConfigError("a.toml: bad port"), 2, "llmgw: configuration error:\na.toml: bad port\n"),
        (AccountNotFound("no user 'x'"), 1, "error: no user 'x'\n"),
        (InvalidAccountInput("the two passwords differ"), 1, "error: the two passwords differ\n"),
        (SecretBackendUnavailable("no D-Bus", "or set X"), 2, f"error: {NO_KEYRING}\n"),
        (DatabaseInUse("g.db", 7, "http://127.0.0.1:4000"), 2, f"llmgw: {IN_USE} another database\n"),
        (LaunchError("no key"), 2, "llmgw run: no key\n"),
        (AgentNotFound("no codex"), 127, "llmgw run: no codex\n"),
        (KeyboardInterrupt(), 130, ""),
    ],
)  # fmt: skip
def test_main_turns_what_a_command_raised_into_its_exit_code(
    exc: BaseException,
    code: int,
    stderr: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def command(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr("llmgw.cli.audit.run", command)
    assert cli.main(["audit"]) == code
    assert capsys.readouterr() == ("", stderr)


@pytest.mark.parametrize("exc", [UpstreamUnavailable("x"), ValueError("x"), SystemExit(3)])
def test_what_the_table_does_not_know_goes_through(
    exc: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    def command(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr("llmgw.cli.audit.run", command)
    with pytest.raises(type(exc)):
        cli.main(["audit"])
