"""`LLMGW_<NAME>_FILE`: the effective environment, and every reader of `LLMGW_*` variables seeing it
(the `[server]` overrides, the database's location, provider keys, the proxy key, `llmgw config check`,
`llmgw secret list`)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from llmgw.cli import main
from llmgw.cli.config import describe
from llmgw.cli.secret import cmd_secret_list
from llmgw.errors import ConfigError
from llmgw.services import credentials
from llmgw.services.credentials import (
    BUDGET_ALERT_WEBHOOK_ENV,
    PROXY_KEY_ENV,
    KeyringKeySource,
    SecretInfo,
    env_secrets,
    env_var_name,
    mask_secret,
    provider_keys,
    proxy_key,
)
from llmgw.settings import load
from llmgw.settings.environment import MAX_FILE_BYTES, Environment, effective_environment
from llmgw.settings.locations import database_path
from llmgw.settings.server import ENV_VARS

SECRET = "sk-from-a-file-0123456789-secret"
OTHER = "sk-from-the-env-0123456789-other"


def secret_file(tmp_path: Path, content: str | bytes, name: str = "secret") -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return str(path)


# --- the rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "value"),
    [
        ("abc", "abc"),
        ("abc\n", "abc"),
        ("abc\r\n", "abc"),
        ("abc\n\n", "abc\n"),  # one line break only: the rest is the value's
        ("abc\r\n\r\n", "abc\r\n"),
        ("  abc \n", "  abc "),  # spaces are the value's
        ("a\nb\n", "a\nb"),
        ("é-ü\n", "é-ü"),
        ("", None),  # an empty file counts as unset
        ("\n", None),
        ("\r\n", None),
    ],
)
def test_a_file_gives_its_content_less_one_line_break(
    tmp_path: Path, content: str, value: str | None
) -> None:
    path = secret_file(tmp_path, content)
    env = effective_environment({"LLMGW_OPENAI_API_KEY_FILE": path, "HOME": "/home/x"})
    assert env.get("LLMGW_OPENAI_API_KEY") == value
    assert "LLMGW_OPENAI_API_KEY_FILE" not in env  # resolved: readers see only the variable
    assert env["HOME"] == "/home/x"
    assert env.from_files == ({"LLMGW_OPENAI_API_KEY": "LLMGW_OPENAI_API_KEY_FILE"} if value else {})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {}),
        ({"LLMGW_PORT": "8080"}, {"LLMGW_PORT": "8080"}),
        # an empty `_FILE` counts as unset; the variable stays as it is
        ({"LLMGW_PORT": "8080", "LLMGW_PORT_FILE": ""}, {"LLMGW_PORT": "8080", "LLMGW_PORT_FILE": ""}),
        # an empty variable counts as unset: the file gives the value
        ({"LLMGW_PORT": "", "LLMGW_PORT_FILE": "{file}"}, {"LLMGW_PORT": "9001"}),
        # not llmgw's, or no name before the suffix: left alone
        ({"SSL_CERT_FILE": "/nonexistent"}, {"SSL_CERT_FILE": "/nonexistent"}),
        ({"LLMGW_FILE": "/nonexistent"}, {"LLMGW_FILE": "/nonexistent"}),
        ({"LLMGW__FILE": "/nonexistent"}, {"LLMGW__FILE": "/nonexistent"}),
        ({"llmgw_port_file": "/nonexistent"}, {"llmgw_port_file": "/nonexistent"}),
    ],
)
def test_which_variables_are_read_from_files(
    tmp_path: Path, environ: dict[str, str], expected: dict[str, str]
) -> None:
    path = secret_file(tmp_path, "9001\n")
    environ = {k: v.replace("{file}", path) for k, v in environ.items()}
    assert dict(effective_environment(environ)) == expected


def test_both_the_variable_and_its_file_is_an_error_naming_both(tmp_path: Path) -> None:
    path = secret_file(tmp_path, SECRET)
    with pytest.raises(ConfigError) as info:
        effective_environment({"LLMGW_PROXY_KEY": OTHER, "LLMGW_PROXY_KEY_FILE": path})
    message = str(info.value)
    assert "LLMGW_PROXY_KEY and LLMGW_PROXY_KEY_FILE" in message
    assert SECRET not in message and OTHER not in message


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: str(tmp / "missing"), "cannot read the file: No such file or directory"),
        (lambda tmp: str(tmp), "cannot read the file: Is a directory"),
        (lambda tmp: secret_file(tmp, b"sk-\xff\xfe-" + SECRET.encode()), "not UTF-8"),
        (lambda tmp: secret_file(tmp, SECRET * (MAX_FILE_BYTES // len(SECRET) + 1)), "larger than 64 KiB"),
    ],
)
def test_an_unreadable_file_is_an_error_naming_the_variable_and_the_path(
    tmp_path: Path, make: object, reason: str
) -> None:
    assert callable(make)
    path = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        effective_environment({"LLMGW_ANTHROPIC_API_KEY_FILE": path})
    message = str(info.value)
    assert message.startswith(f"LLMGW_ANTHROPIC_API_KEY_FILE={path}: ")
    assert reason in message
    assert SECRET not in message


@pytest.mark.posix_only(reason="POSIX file modes")
@pytest.mark.skipif(os.name == "posix" and os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission(tmp_path: Path) -> None:
    path = Path(secret_file(tmp_path, SECRET))
    path.chmod(0o000)
    with pytest.raises(
        ConfigError, match=r"LLMGW_PROXY_KEY_FILE=.*: cannot read the file: Permission denied"
    ):
        effective_environment({"LLMGW_PROXY_KEY_FILE": str(path)})


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = secret_file(tmp_path, SECRET)
    with pytest.raises(ConfigError) as info:
        effective_environment(
            {
                "LLMGW_PORT_FILE": str(tmp_path / "nope"),
                "LLMGW_OPENAI_API_KEY": OTHER,
                "LLMGW_OPENAI_API_KEY_FILE": path,
            }
        )
    assert str(info.value).splitlines() == [
        "both LLMGW_OPENAI_API_KEY and LLMGW_OPENAI_API_KEY_FILE are set: use one of them",
        f"LLMGW_PORT_FILE={tmp_path / 'nope'}: cannot read the file: No such file or directory",
    ]


def test_the_process_environment_is_never_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY_FILE", secret_file(tmp_path, SECRET))
    before = dict(os.environ)
    env = effective_environment()
    assert env["LLMGW_OPENAI_API_KEY"] == SECRET
    assert dict(os.environ) == before
    assert "LLMGW_OPENAI_API_KEY" not in os.environ
    assert effective_environment(env) is env  # resolving twice is resolving once


def test_no_variable_llmgw_reads_ends_in_the_suffix() -> None:
    """`LLMGW_X_FILE` always means "X from a file": no setting, key or secret may be named so."""
    names = [*ENV_VARS.values(), PROXY_KEY_ENV, BUDGET_ALERT_WEBHOOK_ENV, env_var_name("file", 2)]
    assert not [n for n in names if n.endswith("_FILE")]


def test_environment_source_names_the_file_variable() -> None:
    env = Environment({"LLMGW_A": "1", "LLMGW_B": "2"}, {"LLMGW_B": "LLMGW_B_FILE"})
    assert (env.source("LLMGW_A"), env.source("LLMGW_B")) == ("LLMGW_A", "LLMGW_B_FILE")


# --- the readers ----------------------------------------------------------------------------------


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(credentials, "_warned_unavailable", False)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_server_settings_from_files(tmp_path: Path) -> None:
    environ = {
        "LLMGW_PORT_FILE": secret_file(tmp_path, "9123\n", "port"),
        "LLMGW_BUDGET_ALERT_WEBHOOK_FILE": secret_file(
            tmp_path, "https://hooks.example/x?token=t0p\n", "hook"
        ),
        "LLMGW_HOST": "127.0.0.2",
    }
    (tmp_path / "llmgw.toml").write_text("", encoding="utf-8")
    loaded = load(str(tmp_path / "llmgw.toml"), environ)
    assert loaded.config.server.port == 9123
    assert loaded.config.server.budget_alert_webhook == "https://hooks.example/x?token=t0p"
    assert loaded.env_overrides.keys() == {"LLMGW_PORT", "LLMGW_BUDGET_ALERT_WEBHOOK", "LLMGW_HOST"}
    assert loaded.env_files == {
        "LLMGW_PORT": "LLMGW_PORT_FILE",
        "LLMGW_BUDGET_ALERT_WEBHOOK": "LLMGW_BUDGET_ALERT_WEBHOOK_FILE",
    }


def test_a_bad_value_from_a_file_is_located_at_the_file_variable(tmp_path: Path) -> None:
    (tmp_path / "llmgw.toml").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(str(tmp_path / "llmgw.toml"), {"LLMGW_PORT_FILE": secret_file(tmp_path, "not-a-port\n")})
    assert str(info.value).startswith("environment LLMGW_PORT_FILE: Input should be a valid integer")


@pytest.mark.parametrize(
    ("var", "content"),
    [
        ("LLMGW_ALLOWED_HOSTS_FILE", "https://hidden.example/\n"),
        ("LLMGW_ALLOWED_HOSTS_FILE", "ok.example, https://hidden.example/\n"),
        ("LLMGW_METRICS_LISTEN_FILE", "hidden.example\n"),
    ],
)
def test_a_bad_value_from_a_file_is_not_quoted_in_the_error(tmp_path: Path, var: str, content: str) -> None:
    (tmp_path / "llmgw.toml").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(str(tmp_path / "llmgw.toml"), {var: secret_file(tmp_path, content)})
    message = str(info.value)
    assert message.startswith(f"environment {var}: ") and "'****'" in message
    assert "hidden" not in message


@pytest.mark.usefixtures("no_keyring")
def test_config_check_masks_what_came_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LLMGW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LLMGW_CONFIG", str(tmp_path / "llmgw.toml"))
    (tmp_path / "llmgw.toml").write_text(f"[server]\ndatabase = '{tmp_path / 'db'}'\n", encoding="utf-8")
    monkeypatch.setenv("LLMGW_PUBLIC_URL_FILE", secret_file(tmp_path, "https://llm.example.org\n", "url"))
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY_FILE", secret_file(tmp_path, SECRET))
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY_2", OTHER)
    shown = describe(load())
    assert "LLMGW_PUBLIC_URL (from LLMGW_PUBLIC_URL_FILE)" in shown
    assert (
        f'public_url = "{mask_secret("https://llm.example.org")}"  # from LLMGW_PUBLIC_URL_FILE, masked'
        in shown
    )
    assert "llm.example.org" not in shown
    assert "# api keys: 2, from files (LLMGW_OPENAI_API_KEY_FILE)" in shown
    assert SECRET not in shown and OTHER not in shown


@pytest.mark.usefixtures("no_keyring")
def test_provider_keys_and_the_proxy_key_from_files(tmp_path: Path) -> None:
    environ = {
        "LLMGW_MY_PROV_API_KEY_FILE": secret_file(tmp_path, SECRET + "\n", "k1"),
        "LLMGW_MY_PROV_API_KEY_2": OTHER,
        "LLMGW_PROXY_KEY_FILE": secret_file(tmp_path, "llmgw-proxy-key-0123456789\n", "proxy"),
    }
    assert provider_keys("my-prov", environ) == [SECRET, OTHER]
    assert proxy_key(environ) == "llmgw-proxy-key-0123456789"
    assert env_secrets(["my-prov"], environ) == [
        SecretInfo("my-prov", "file", mask_secret(SECRET)),
        SecretInfo("my-prov.2", "env", mask_secret(OTHER)),
        SecretInfo("proxy-key", "file", mask_secret("llmgw-proxy-key-0123456789")),
    ]


@pytest.mark.usefixtures("no_keyring")
def test_a_bad_proxy_key_from_a_file_is_named_by_its_file_variable(tmp_path: Path) -> None:
    environ = {"LLMGW_PROXY_KEY_FILE": secret_file(tmp_path, "two words\n")}
    with pytest.raises(ConfigError) as info:
        proxy_key(environ)
    assert str(info.value).startswith("LLMGW_PROXY_KEY_FILE: ")
    assert "two words" not in str(info.value)


@pytest.mark.usefixtures("no_keyring")
def test_the_server_key_source_says_which_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY_FILE", secret_file(tmp_path, SECRET))
    monkeypatch.delenv("LLMGW_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY_2", OTHER)
    source = KeyringKeySource()
    assert source.keys("openai") == [SECRET, OTHER]
    assert source.origin("openai") == "LLMGW_OPENAI_API_KEY_FILE, LLMGW_OPENAI_API_KEY_2"
    # a rotated file is read again by the periodic re-read (no keyring: nothing better to keep)
    Path(os.environ["LLMGW_OPENAI_API_KEY_FILE"]).write_text("sk-rotated-0123456789\n", encoding="utf-8")
    assert source.reread("openai") == ["sk-rotated-0123456789", OTHER]


@pytest.mark.usefixtures("no_keyring")
def test_secret_list_says_from_a_file_and_masks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY_FILE", secret_file(tmp_path, SECRET))
    monkeypatch.delenv("LLMGW_OPENAI_API_KEY", raising=False)
    out = io.StringIO()
    with pytest.raises(credentials.SecretBackendUnavailable):
        cmd_secret_list(["openai"], out)
    assert out.getvalue().split() == ["openai", "file", mask_secret(SECRET)]


def test_database_path_from_a_file(tmp_path: Path) -> None:
    config = tmp_path / "llmgw.toml"
    config.write_text("", encoding="utf-8")
    db = tmp_path / "from-file.db"
    assert database_path(str(config), {"LLMGW_DATABASE_FILE": secret_file(tmp_path, f"{db}\n")}) == str(db)
    # unsure (the file cannot be read): None, and the whole `load` reports it
    assert database_path(str(config), {"LLMGW_DATABASE_FILE": str(tmp_path / "nope")}) is None


@pytest.mark.usefixtures("no_keyring")
@pytest.mark.parametrize("command", [["config", "check"], ["serve"]])
def test_serve_and_config_check_exit_2_naming_the_variable_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    (tmp_path / "llmgw.toml").write_text(f"[server]\ndatabase = '{tmp_path / 'db'}'\n", encoding="utf-8")
    monkeypatch.setenv("LLMGW_CONFIG", str(tmp_path / "llmgw.toml"))
    missing = tmp_path / "creds" / "openai-api-key"
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY_FILE", str(missing))
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err == (
        "llmgw: configuration error:\n"
        f"LLMGW_OPENAI_API_KEY_FILE={missing}: cannot read the file: No such file or directory\n"
    )


def test_database_url_is_the_database_setting_and_a_conflict_is_named() -> None:
    url = "postgresql://llmgw@db/llmgw"
    assert effective_environment({"LLMGW_DATABASE_URL": url})["LLMGW_DATABASE"] == url
    same = effective_environment({"LLMGW_DATABASE_URL": url, "LLMGW_DATABASE": url})
    assert same["LLMGW_DATABASE"] == url and "LLMGW_DATABASE_URL" not in same
    with pytest.raises(ConfigError, match="both LLMGW_DATABASE and LLMGW_DATABASE_URL"):
        effective_environment({"LLMGW_DATABASE_URL": url, "LLMGW_DATABASE": "/srv/llmgw.db"})


def test_database_url_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("postgresql://llmgw:s3cret@db/llmgw\n", encoding="utf-8")
    env = effective_environment({"LLMGW_DATABASE_URL_FILE": str(secret)})
    assert env["LLMGW_DATABASE"] == "postgresql://llmgw:s3cret@db/llmgw"
    assert env.from_files == {"LLMGW_DATABASE": "LLMGW_DATABASE_URL_FILE"}
