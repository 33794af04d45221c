"""Setting providers up: the well-known ones by name without a `[providers]` table, the start-up line
that says what each provider has, what a request for a provider without a key is told, and base URLs
as the providers' SDKs spell them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from keyring.errors import NoKeyringError

from llmgw.relay.runtime import KeySource
from llmgw.server.app import create_app
from llmgw.services import credentials
from llmgw.settings import Config, load
from tests.conftest import PROXY_KEY
from tests.inprocess.test_relay_inprocess import (
    Keys,
    Running,
    Upstreams,
    anthropic_err,
    openai_chat,
    openai_err,
)
from tests.support.fakes.anthropic_upstream import FakeAnthropic
from tests.support.gateway_process import GatewayProcess

USER = [{"role": "user", "content": "Hello"}]


class MemoryKeyring:
    """A keyring backend over a dict."""

    def __init__(self, entries: dict[str, str]) -> None:
        self.entries = entries

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get(username)


class NoKeyring:
    def get_password(self, service: str, username: str) -> str | None:
        raise NoKeyringError("no backend")


def loaded(tmp_path: Path, toml: str = "") -> Config:
    path = tmp_path / "llmgw.toml"
    path.write_text(toml, encoding="utf-8")
    env = {"LLMGW_DATABASE": str(tmp_path / "llmgw.db"), "LLMGW_KEY_REFRESH_INTERVAL": "0"}
    return load(str(path), env).config


@asynccontextmanager
async def serving(tmp_path: Path, config: Config, source: KeySource) -> AsyncIterator[Running]:
    upstreams = Upstreams(lambda request: openai_chat())
    app = create_app(config, PROXY_KEY, source, transport=httpx.MockTransport(upstreams))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://llmgw.test") as client,
    ):
        yield Running(client, upstreams, tmp_path / "llmgw.db", app)


async def chat(gw: Running, model: str) -> httpx.Response:
    body = {"model": model, "messages": USER}
    return await gw.client.post(
        "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {PROXY_KEY}"}
    )


async def message(gw: Running, model: str) -> httpx.Response:
    headers = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01"}
    body = {"model": model, "max_tokens": 64, "messages": USER}
    return await gw.client.post("/v1/messages", json=body, headers=headers)


# -- the well-known providers by name --------------------------------------------------------------


@pytest.mark.anyio
async def test_a_well_known_provider_is_served_by_name_without_a_table(tmp_path: Path) -> None:
    config = loaded(tmp_path)  # no [providers] at all
    async with serving(tmp_path, config, Keys({"openai": ["sk-openai-only"]})) as gw:
        r = await chat(gw, "openai/gpt-4o-mini")
    assert r.status_code == 200, r.text
    (sent,) = gw.upstreams.sent
    assert str(sent.url) == "https://api.openai.com/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-openai-only"


def test_the_well_known_providers_are_implicit_and_a_table_needs_no_type(tmp_path: Path) -> None:
    config = loaded(
        tmp_path, '[providers.openrouter]\nx_title = "Our team"\n[models]\nsmart = "openai/gpt-4o"\n'
    )
    providers = config.providers
    assert {n: (p.type, p.url, p.is_implicit) for n, p in providers.items()} == {
        "openrouter": ("openrouter", "https://openrouter.ai/api/v1", False),  # type from its name
        "openai": ("openai", "https://api.openai.com/v1", True),
        "anthropic": ("anthropic", "https://api.anthropic.com/v1", True),
        "gemini": ("gemini", "https://generativelanguage.googleapis.com/v1beta", True),
    }
    assert config.models["smart"].model == "openai/gpt-4o"  # an alias may point at an implicit provider


def test_an_alias_may_take_a_well_known_name_that_is_not_configured(tmp_path: Path) -> None:
    config = loaded(tmp_path, '[providers.groq]\ntype = "openai-compatible"\nbase_url = "http://g.test/v1"\n'
                    '[models]\n"openai/gpt-4o" = "groq/llama"\n')  # fmt: skip
    assert config.models["openai/gpt-4o"].model == "groq/llama"


@pytest.mark.anyio
@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_a_provider_without_a_key_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The administrator's log says what to run; the client is told to ask, never where keys live."""
    caplog.set_level(logging.WARNING, "llmgw")
    monkeypatch.setattr(credentials, "_keyring", lambda: MemoryKeyring({}))
    monkeypatch.delenv("LLMGW_ANTHROPIC_API_KEY", raising=False)
    config = loaded(tmp_path)
    async with serving(tmp_path, config, credentials.KeyringKeySource()) as gw:
        if dialect == "openai":
            r = await chat(gw, "anthropic/claude-sonnet-4-5")
            err = openai_err(r, 503)
            assert err["code"] == "no_usable_upstream_key"
        else:
            r = await message(gw, "anthropic/claude-sonnet-4-5")
            err = anthropic_err(r, 503)
    assert (
        err["message"] == "The provider `anthropic` is not configured on this gateway: ask its administrator."
    )
    assert "LLMGW_" not in r.text and "secret" not in r.text
    assert (
        "a request for provider anthropic was refused: it has no API key; "
        "run `llmgw secret set anthropic` or set LLMGW_ANTHROPIC_API_KEY"
    ) in caplog.text
    assert gw.upstreams.sent == []
    assert gw.row(r)["error_type"] == "no_usable_upstream_key"


@pytest.mark.anyio
async def test_a_configured_provider_without_a_key_says_the_same(tmp_path: Path) -> None:
    config = loaded(tmp_path, '[providers.groq]\ntype = "openai-compatible"\nbase_url = "http://g.test/v1"\n')
    async with serving(tmp_path, config, Keys({})) as gw:
        r = await chat(gw, "groq/llama")
    err = openai_err(r, 503)
    assert err["message"] == "The provider `groq` is not configured on this gateway: ask its administrator."


@pytest.mark.anyio
async def test_start_up_says_per_provider_how_many_keys_and_from_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    backend = MemoryKeyring({"openai": "sk-openai-a-000000", "openai.2": "sk-openai-b-000000"})
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    for name in ("OPENAI", "ANTHROPIC", "GEMINI", "OPENROUTER", "GROQ"):
        monkeypatch.delenv(f"LLMGW_{name}_API_KEY", raising=False)
    config = loaded(tmp_path, '[providers.groq]\ntype = "openai-compatible"\nbase_url = "http://g.test/v1"\n')
    caplog.set_level(logging.INFO, "llmgw")
    async with serving(tmp_path, config, credentials.KeyringKeySource()):
        pass
    lines = {r.getMessage(): r.levelno for r in caplog.records if r.getMessage().startswith("provider ")}
    assert lines == {
        "provider groq (openai-compatible): no key: run `llmgw secret set groq` or set LLMGW_GROQ_API_KEY "
        "(or LLMGW_GROQ_API_KEY_FILE)": (
            logging.WARNING  # configured, so meant to be used
        ),
        "provider openai (openai): 2 keys from the OS keyring": logging.INFO,
        "provider anthropic (anthropic): no key: run `llmgw secret set anthropic` or set "
        "LLMGW_ANTHROPIC_API_KEY (or LLMGW_ANTHROPIC_API_KEY_FILE)": logging.INFO,
        "provider gemini (gemini): no key: run `llmgw secret set gemini` or set LLMGW_GEMINI_API_KEY "
        "(or LLMGW_GEMINI_API_KEY_FILE)": logging.INFO,
        "provider openrouter (openrouter): no key: run `llmgw secret set openrouter` or set "
        "LLMGW_OPENROUTER_API_KEY (or LLMGW_OPENROUTER_API_KEY_FILE)": logging.INFO,
    }


def test_the_keyring_source_says_where_keys_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials, "_keyring", lambda: MemoryKeyring({"openai": "sk-openai-a-000000"}))
    monkeypatch.setattr(credentials, "_warned_unavailable", True)
    monkeypatch.setenv("LLMGW_GEMINI_API_KEY", "gem-1")
    monkeypatch.setenv("LLMGW_GEMINI_API_KEY_2", "gem-2")
    source = credentials.KeyringKeySource()
    assert source.keys("openai") == ["sk-openai-a-000000"] and source.origin("openai") == "the OS keyring"
    assert source.keys("gemini") == ["gem-1", "gem-2"]
    assert source.origin("gemini") == "LLMGW_GEMINI_API_KEY, LLMGW_GEMINI_API_KEY_2"
    monkeypatch.setattr(credentials, "_keyring", lambda: NoKeyring())
    monkeypatch.setenv("LLMGW_OPENAI_API_KEY", "sk-env")
    source = credentials.KeyringKeySource()
    assert source.keys("openai") == ["sk-env"] and source.origin("openai") == "LLMGW_OPENAI_API_KEY"


# -- the real command ------------------------------------------------------------------------------


def llmgw(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
    return subprocess.run(
        [sys.executable, "-m", "llmgw", *args],
        env={**base, "DBUS_SESSION_BUS_ADDRESS": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_with_only_an_openai_key_in_the_environment(tmp_path: Path) -> None:
    """A fresh machine: no config file, LLMGW_OPENAI_API_KEY set. (No request goes to api.openai.com.)"""
    env = {"LLMGW_OPENAI_API_KEY": "sk-openai-env-0000", "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, "", env, args=("--no-auth",)) as gw:
        r = httpx.post(
            f"{gw.base_url}/v1/chat/completions", json={"model": "gemini/gemini-2.0-flash", "messages": USER}
        )
        log = gw.log()
    assert "provider openai (openai): 1 key from LLMGW_OPENAI_API_KEY" in log
    assert (
        "provider gemini (gemini): no key: run `llmgw secret set gemini` or set LLMGW_GEMINI_API_KEY" in log
    )
    assert r.status_code == 503
    assert r.json()["error"]["message"] == (
        "The provider `gemini` is not configured on this gateway: ask its administrator."
    )
    assert (
        "WARNING llmgw a request for provider gemini was refused: it has no API key; "
        "run `llmgw secret set gemini` or set LLMGW_GEMINI_API_KEY"
    ) in log
    assert "sk-openai-env-0000" not in log


def test_config_check_marks_the_implicit_providers(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[providers.anthropic]\nbase_url = "https://api.anthropic.com/"\n')
    r = llmgw("config", "check", "--config", str(cfg), env={"LLMGW_OPENAI_API_KEY": "sk-openai-env-0000"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert '[providers.openai]  # implicit: a key for openai exists\ntype = "openai"\n' in out
    assert '[providers.anthropic]\ntype = "anthropic"\nbase_url = "https://api.anthropic.com"\n' in out
    assert '# effective base_url = "https://api.anthropic.com/v1" (completed)' in out
    assert "# known by name, no key: gemini, openrouter" in out
    assert "[providers.gemini]" not in out


# -- base URLs as the SDKs spell them --------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(accepted_keys=("sk-ant-upstream",), bearer_keys=False) as server:
        yield server


def test_an_anthropic_upstream_given_by_its_root_url(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    """`base_url` as the Anthropic SDK spells it (no /v1), end to end."""
    config = f'\n[providers.ant]\ntype = "anthropic"\nbase_url = "{fake_anthropic.base_url}"\n'
    env = {"LLMGW_ANT_API_KEY": "sk-ant-upstream", "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, config, env, args=("--no-auth",)) as gw:
        r = httpx.post(
            f"{gw.base_url}/v1/messages",
            json={"model": "ant/claude-sonnet-4-5", "max_tokens": 32, "messages": USER},
            headers={"anthropic-version": "2023-06-01"},
            timeout=30,
        )
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "message"
