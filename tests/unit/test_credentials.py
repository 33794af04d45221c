"""Provider secrets: names, env fallback, masking, and the OS keyring for real: the Secret Service on Linux
(scripts/with-keyring), the Keychain on macOS, the Credential Locker on Windows."""

from __future__ import annotations

import io
import json
import logging
import os
import pathlib
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from keyring.errors import KeyringLocked, PasswordSetError

from llmgw.cli import main
from llmgw.cli.secret import cmd_secret_delete, cmd_secret_list, cmd_secret_set
from llmgw.services import credentials
from llmgw.services.credentials import (
    PROXY_KEY_NAME,
    SecretBackendUnavailable,
    SecretInfo,
    delete_secret,
    env_secrets,
    env_var_name,
    list_secrets,
    mask_secret,
    parse_secret_name,
    provider_keys,
    proxy_key,
    set_secret,
)
from tests.support.required import unavailable

SECRET_A = "sk-test-AAAA-0123456789-first"
SECRET_B = "sk-test-BBBB-0123456789-second"
SECRET_C = "sk-test-CCCC-0123456789-third"


# --- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "index", "expected"),
    [
        ("openai", 1, "LLMGW_OPENAI_API_KEY"),
        ("openai", 2, "LLMGW_OPENAI_API_KEY_2"),
        ("my-prov", 1, "LLMGW_MY_PROV_API_KEY"),
        ("my-prov", 3, "LLMGW_MY_PROV_API_KEY_3"),
        ("a_b-c9", 10, "LLMGW_A_B_C9_API_KEY_10"),
    ],
)
def test_env_var_name(provider: str, index: int, expected: str) -> None:
    assert env_var_name(provider, index) == expected


@pytest.mark.parametrize("bad", ["", "OpenAI", "open ai", "a/b", PROXY_KEY_NAME, "__index__"])
def test_env_var_name_rejects_bad_provider(bad: str) -> None:
    with pytest.raises(ValueError):
        env_var_name(bad)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai", ("openai", 1)),
        ("openai.2", ("openai", 2)),
        ("my-prov_2.13", ("my-prov_2", 13)),
        (PROXY_KEY_NAME, (PROXY_KEY_NAME, 1)),
    ],
)
def test_parse_secret_name(name: str, expected: tuple[str, int]) -> None:
    assert parse_secret_name(name) == expected


INVALID_NAMES = [
    "",
    "OpenAI",
    "open ai",
    "a/b",
    "openai.1",
    "openai.0",
    "openai.02",
    "openai.",
    ".2",
    "openai.2.3",
    "openai.x",
    "proxy-key.2",
    "__index__",
    "openai\n",
]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_names_rejected(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match=r"invalid secret name|reserved|first key"):
        parse_secret_name(name)
    with pytest.raises(ValueError):
        set_secret(name, SECRET_A)
    with pytest.raises(ValueError):
        delete_secret(name)
    assert cmd_secret_set(name, stdin=io.StringIO(SECRET_A), tty=False) == 1
    assert cmd_secret_delete(name, io.StringIO()) == 1
    captured = capsys.readouterr()
    assert "error:" in captured.err
    assert SECRET_A not in captured.out + captured.err


# --- masking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("", "****"),
        ("short", "****"),
        ("sk-12345678", "****"),  # 11 characters
        ("sk-123456789", "sk-…6789"),  # 12 characters
        ("sk-proj-0123456789abcdef3f9a", "sk-…3f9a"),
    ],
)
def test_mask_secret(value: str, masked: str) -> None:
    assert mask_secret(value) == masked


# --- no keyring backend -------------------------------------------------------------------------------


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """keyring's own "no backend" stand-in, as on a headless box with no D-Bus session."""
    monkeypatch.setattr(credentials, "_warned_unavailable", False)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.mark.usefixtures("no_keyring")
def test_env_fallback_in_order_and_stops_at_first_gap() -> None:
    environ = {
        "LLMGW_MY_PROV_API_KEY": SECRET_A,
        "LLMGW_MY_PROV_API_KEY_2": SECRET_B,
        "LLMGW_MY_PROV_API_KEY_4": SECRET_C,  # after the gap at _3: ignored
        "LLMGW_OTHER_API_KEY": "sk-other-0123456789",
    }
    assert provider_keys("my-prov", environ) == [SECRET_A, SECRET_B]
    assert provider_keys("nothing", environ) == []
    assert provider_keys("my-prov", {"LLMGW_MY_PROV_API_KEY_2": SECRET_B}) == []
    assert provider_keys("my-prov", {"LLMGW_MY_PROV_API_KEY": ""}) == []


@pytest.mark.usefixtures("no_keyring")
def test_no_backend_warns_once_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"LLMGW_OPENAI_API_KEY": SECRET_A, "LLMGW_PROXY_KEY": SECRET_B}
    with caplog.at_level(logging.WARNING, logger="llmgw.credentials"):
        assert provider_keys("openai", environ) == [SECRET_A]
        assert provider_keys("openai", environ) == [SECRET_A]
        assert proxy_key(environ) == SECRET_B
    records = [r for r in caplog.records if r.name == "llmgw.credentials"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "keyring unavailable" in records[0].getMessage()
    assert SECRET_A not in caplog.text
    assert SECRET_B not in caplog.text
    assert proxy_key({}) is None


@pytest.mark.usefixtures("no_keyring")
def test_a_keyring_turned_off_on_purpose_is_no_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The container image sets PYTHON_KEYRING_BACKEND to keyring's `fail` backend: one INFO line says
    where secrets come from, and writing one says why it cannot (never a warning at every start)."""
    monkeypatch.setenv(credentials.KEYRING_BACKEND_ENV, credentials.KEYRING_OFF)
    with caplog.at_level(logging.INFO, logger="llmgw.credentials"):
        assert provider_keys("openai", {"LLMGW_OPENAI_API_KEY": SECRET_A}) == [SECRET_A]
        assert proxy_key({}) is None
    records = [r for r in caplog.records if r.name == "llmgw.credentials"]
    assert [r.levelno for r in records] == [logging.INFO]
    assert "(turned off by PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring)" in records[0].getMessage()
    with pytest.raises(SecretBackendUnavailable, match="turned off") as info:
        set_secret("openai", SECRET_A)
    assert "LLMGW_OPENAI_API_KEY" in str(info.value) and SECRET_A not in str(info.value)


@pytest.mark.parametrize("value", ["", "keyring.backends.null.Keyring", "keyring.backends.fail"])
def test_only_the_fail_backend_turns_the_keyring_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(credentials.KEYRING_BACKEND_ENV, value)
    assert not credentials.keyring_turned_off()
    monkeypatch.setenv(credentials.KEYRING_BACKEND_ENV, f" {credentials.KEYRING_OFF}\n")
    assert credentials.keyring_turned_off()


@pytest.mark.usefixtures("no_keyring")
def test_no_backend_set_delete_list_raise() -> None:
    with pytest.raises(SecretBackendUnavailable) as info:
        set_secret("openai", SECRET_A)
    message = str(info.value)
    assert "no OS keyring backend is available" in message
    assert "LLMGW_OPENAI_API_KEY" in message
    assert "_2" in message
    assert SECRET_A not in message

    with pytest.raises(SecretBackendUnavailable, match="LLMGW_PROXY_KEY"):
        set_secret(PROXY_KEY_NAME, SECRET_A)
    with pytest.raises(SecretBackendUnavailable, match="LLMGW_MY_PROV_API_KEY"):
        delete_secret("my-prov.2")
    with pytest.raises(SecretBackendUnavailable):
        list_secrets(["openai"])


@pytest.mark.usefixtures("no_keyring")
def test_no_backend_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET_A + "\n"))
    assert main(["secret", "set", "openai"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: no OS keyring backend is available")
    assert "LLMGW_OPENAI_API_KEY" in captured.err
    assert SECRET_A not in captured.out + captured.err

    assert main(["secret", "delete", "openai"]) == 2
    assert "LLMGW_OPENAI_API_KEY" in capsys.readouterr().err

    # list still shows what the environment supplies, masked, then raises (`main` exits 2)
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY", SECRET_A)
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY_2", SECRET_B)
    out = io.StringIO()
    with pytest.raises(SecretBackendUnavailable, match="no OS keyring backend is available"):
        cmd_secret_list(["openai"], out)
    assert "openai.2" in out.getvalue()
    assert mask_secret(SECRET_B) in out.getvalue()
    assert SECRET_A not in out.getvalue()
    assert SECRET_B not in out.getvalue()


def test_env_secrets_masked() -> None:
    environ = {"LLMGW_PROXY_KEY": "tiny", "LLMGW_OPENAI_API_KEY": SECRET_A}
    assert env_secrets(["openai", "absent"], environ) == [
        SecretInfo("openai", "env", mask_secret(SECRET_A)),
        SecretInfo(PROXY_KEY_NAME, "env", "****"),
    ]


class _RaisingBackend:
    """Stands in for a keyring backend whose every call fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_password(self, service: str, username: str) -> str | None:
        raise self.error

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.error

    def delete_password(self, service: str, username: str) -> None:
        raise self.error


def _use_backend(monkeypatch: pytest.MonkeyPatch, backend: Any) -> None:
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    monkeypatch.setattr(credentials, "_warned_unavailable", False)


def test_locked_collection_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_backend(monkeypatch, _RaisingBackend(KeyringLocked("Failed to unlock the collection!")))
    with pytest.raises(SecretBackendUnavailable, match="locked"):
        set_secret("openai", SECRET_A)
    assert provider_keys("openai", {"LLMGW_OPENAI_API_KEY": SECRET_B}) == [SECRET_B]


def test_backend_error_message_never_echoes_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    class Backend(_RaisingBackend):
        def get_password(self, service: str, username: str) -> str | None:
            return None

    _use_backend(monkeypatch, Backend(PasswordSetError(f"cannot store {SECRET_A}")))
    with pytest.raises(SecretBackendUnavailable) as info:
        set_secret("openai", SECRET_A)
    assert SECRET_A not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("value", ["", "   ", "two\nlines", "cr\rhere"])
def test_set_secret_rejects_bad_values(value: str) -> None:
    with pytest.raises(ValueError):
        set_secret("openai", value)


# --- the real Secret Service --------------------------------------------------------------------------


def _os_keyring_skip_reason() -> str | None:
    """Why the OS's own keyring is not in use here, or None: the Secret Service on Linux (under
    scripts/with-keyring), the Keychain on macOS, the Credential Locker on Windows."""
    backend = keyring.get_keyring()
    if sys.platform == "darwin":
        from keyring.backends import macOS

        wanted: type = macOS.Keyring
    elif sys.platform == "win32":
        from keyring.backends import Windows

        wanted = Windows.WinVaultKeyring
    else:
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            return "DBUS_SESSION_BUS_ADDRESS is unset: no D-Bus session (run under scripts/with-keyring)"
        from keyring.backends import SecretService

        wanted = SecretService.Keyring
    if not isinstance(backend, wanted):
        return f"keyring backend is {backend!r}, not {wanted.__module__}.{wanted.__name__}"
    return None


@pytest.fixture
def secret_service(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _os_keyring_skip_reason()
    if reason:
        unavailable("LLMGW_REQUIRE_KEYRING", reason)
    monkeypatch.setattr(credentials, "_warned_unavailable", False)


@pytest.fixture
def provider(secret_service: None) -> Iterator[str]:
    """A provider name no other test (or real entry) uses; its keyring entries are removed afterwards."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    yield name
    for index in range(1, 6):
        delete_secret(credentials.secret_name(name, index))


def _index() -> list[str]:
    raw = keyring.get_password(credentials.SERVICE, "__index__")
    names = json.loads(raw) if raw else []
    assert isinstance(names, list)
    return names


@pytest.mark.keyring
def test_round_trip(provider: str) -> None:
    set_secret(provider, SECRET_A)
    assert keyring.get_password("llmgw", provider) == SECRET_A  # one entry per key, service "llmgw"
    assert provider_keys(provider, environ={}) == [SECRET_A]
    assert SecretInfo(provider, "keyring", mask_secret(SECRET_A)) in list_secrets()
    set_secret(provider, SECRET_B)  # replaces
    assert provider_keys(provider, environ={}) == [SECRET_B]
    assert delete_secret(provider) is True
    assert delete_secret(provider) is False
    assert provider_keys(provider, environ={}) == []
    assert provider not in [info.name for info in list_secrets()]


@pytest.mark.keyring
def test_multiple_keys_in_order(provider: str) -> None:
    set_secret(provider, SECRET_A)
    set_secret(f"{provider}.2", SECRET_B)
    set_secret(f"{provider}.3", SECRET_C)
    assert provider_keys(provider, environ={}) == [SECRET_A, SECRET_B, SECRET_C]
    with pytest.raises(ValueError, match=rf"set '{provider}\.4' first"):
        set_secret(f"{provider}.5", SECRET_A)

    out = io.StringIO()
    assert cmd_secret_delete(f"{provider}.2", out) == 0
    assert f"'{provider}.3' and later keys are now ignored" in out.getvalue()
    assert provider_keys(provider, environ={}) == [SECRET_A]


@pytest.mark.keyring
def test_keyring_beats_env(provider: str) -> None:
    environ = {env_var_name(provider): "sk-from-the-environment", env_var_name(provider, 2): "sk-env-2"}
    assert provider_keys(provider, environ) == ["sk-from-the-environment", "sk-env-2"]
    set_secret(provider, SECRET_A)
    assert provider_keys(provider, environ) == [SECRET_A]

    out = io.StringIO()
    assert cmd_secret_list([provider], out) == 0
    lines = [line for line in out.getvalue().splitlines() if line.startswith(provider)]
    assert len(lines) == 1  # the shadowed environment keys are not in effect, so not listed
    assert "keyring" in lines[0]


@pytest.mark.keyring
def test_index_updated_with_names_only(provider: str) -> None:
    set_secret(provider, SECRET_A)
    set_secret(f"{provider}.2", SECRET_B)
    assert {provider, f"{provider}.2"} <= set(_index())
    raw = keyring.get_password("llmgw", "__index__") or ""
    assert SECRET_A not in raw
    assert SECRET_B not in raw
    delete_secret(f"{provider}.2")
    assert provider in _index()
    assert f"{provider}.2" not in _index()
    delete_secret(provider)
    assert provider not in _index()


@pytest.mark.keyring
def test_list_probes_entries_made_by_other_tools(provider: str) -> None:
    keyring.set_password("llmgw", provider, SECRET_A)  # bypasses the index
    keyring.set_password("llmgw", f"{provider}.2", SECRET_B)
    assert provider not in [info.name for info in list_secrets()]
    assert [info for info in list_secrets([provider]) if info.name.startswith(provider)] == [
        SecretInfo(provider, "keyring", mask_secret(SECRET_A)),
        SecretInfo(f"{provider}.2", "keyring", mask_secret(SECRET_B)),
    ]


@pytest.mark.keyring
def test_values_never_in_list_output(provider: str) -> None:
    set_secret(provider, SECRET_A)
    set_secret(f"{provider}.2", SECRET_B)
    out = io.StringIO()
    assert cmd_secret_list([provider], out) == 0
    text = out.getvalue()
    assert provider in text
    assert f"{provider}.2" in text
    assert mask_secret(SECRET_A) in text
    assert SECRET_A not in text
    assert SECRET_B not in text
    assert SECRET_A not in repr(list_secrets([provider]))


@pytest.mark.keyring
def test_cmd_secret_set_from_non_tty_stdin(provider: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert cmd_secret_set(provider, stdin=io.StringIO(SECRET_A + "\n"), tty=False, out=out) == 0
    assert provider_keys(provider, environ={}) == [SECRET_A]  # exactly one trailing newline stripped
    assert SECRET_A not in out.getvalue()
    assert f"stored '{provider}'" in out.getvalue()

    assert cmd_secret_set(f"{provider}.2", stdin=io.StringIO(SECRET_B + "\r\n"), tty=False, out=out) == 0
    assert provider_keys(provider, environ={}) == [SECRET_A, SECRET_B]

    assert cmd_secret_set(provider, stdin=io.StringIO("\n"), tty=False, out=out) == 1
    assert "empty" in capsys.readouterr().err
    assert provider_keys(provider, environ={}) == [SECRET_A, SECRET_B]


@pytest.mark.keyring
def test_cmd_secret_delete_missing(provider: str) -> None:
    out = io.StringIO()
    assert cmd_secret_delete(provider, out) == 1
    assert "no secret" in out.getvalue()


@pytest.mark.keyring
@pytest.mark.skipif(
    os.environ.get("LLMGW_KEYRING_SESSION") != "1",
    reason="touches the shared 'proxy-key' entry: only in the throwaway keyring of scripts/with-keyring",
)
def test_proxy_key(secret_service: None) -> None:
    environ = {"LLMGW_PROXY_KEY": "sk-proxy-from-env"}
    delete_secret(PROXY_KEY_NAME)
    assert proxy_key(environ) == "sk-proxy-from-env"
    assert proxy_key({}) is None
    set_secret(PROXY_KEY_NAME, SECRET_A)
    try:
        assert proxy_key(environ) == SECRET_A
        assert SecretInfo(PROXY_KEY_NAME, "keyring", mask_secret(SECRET_A)) in list_secrets()
    finally:
        assert delete_secret(PROXY_KEY_NAME) is True
    assert proxy_key(environ) == "sk-proxy-from-env"


@pytest.mark.keyring
def test_keyring_source_reread_raises_on_a_blip_of_the_real_secret_service(
    provider: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """The gateway's refresh must tell "cannot read the keyring now" from "no keys": a Secret Service
    gone for a moment raises (the gateway keeps its keys) instead of giving the environment's."""
    set_secret(provider, SECRET_A)
    monkeypatch.setenv(env_var_name(provider), "sk-from-the-environment")
    source = credentials.KeyringKeySource()
    assert source.keys(provider) == [SECRET_A]
    bus = os.environ["DBUS_SESSION_BUS_ADDRESS"]
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'gone'}")  # the bus is away
    with pytest.raises(SecretBackendUnavailable):
        source.reread(provider)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
    assert source.reread(provider) == [SECRET_A]
