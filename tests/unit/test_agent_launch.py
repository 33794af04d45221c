"""`llmgw run`'s pure part (`services/agent_launch.py`): what each agent is started with, the gateway URL
checked, the listener's URL, Gemini CLI's system settings."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from llmgw.errors import LaunchError
from llmgw.services.agent_launch import (
    AgentEnv,
    agent_env,
    check_gateway_url,
    gemini_system_settings,
    gemini_system_settings_path,
    listen_url,
)

GW = "http://127.0.0.1:4000"
KEY = "llmgw_0123456789abcdef_s3cret"
CODEX_PROVIDER = (
    "-c", 'model_providers.llmgw.name="llmgw"',
    "-c", 'model_providers.llmgw.base_url="http://127.0.0.1:4000/v1"',
    "-c", 'model_providers.llmgw.env_key="LLMGW_API_KEY"',
    "-c", 'model_providers.llmgw.wire_api="responses"',
    "-c", 'model_provider="llmgw"',
    "-c", "analytics.enabled=false",
)  # fmt: skip
CLAUDE_ENV = {
    "ANTHROPIC_BASE_URL": GW,
    "ANTHROPIC_AUTH_TOKEN": KEY,
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}
CLAUDE_MODEL = {"ANTHROPIC_DEFAULT_HAIKU_MODEL": "fast", "ANTHROPIC_SMALL_FAST_MODEL": "fast"}
NO_ANTHROPIC_KEY = frozenset({"ANTHROPIC_API_KEY"})
GOOGLE_AUTH = frozenset({"GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA"})


@pytest.mark.parametrize(
    ("agent", "model", "expected"),
    [
        ("claude", None, AgentEnv((), CLAUDE_ENV, NO_ANTHROPIC_KEY)),
        ("claude", "fast", AgentEnv(("--model", "fast"), CLAUDE_ENV | CLAUDE_MODEL, NO_ANTHROPIC_KEY)),
        ("codex", None, AgentEnv(CODEX_PROVIDER, {"LLMGW_API_KEY": KEY})),
        ("codex", "anthropic/claude-sonnet-4-5",
         AgentEnv((*CODEX_PROVIDER, "-c", 'model="anthropic/claude-sonnet-4-5"'), {"LLMGW_API_KEY": KEY})),
        ("gemini", None, AgentEnv((), {"GOOGLE_GEMINI_BASE_URL": GW, "GEMINI_API_KEY": KEY}, GOOGLE_AUTH)),
        ("gemini", "gemini-2.5-flash",
         AgentEnv(("--model", "gemini-2.5-flash"), {"GOOGLE_GEMINI_BASE_URL": GW, "GEMINI_API_KEY": KEY},
                  GOOGLE_AUTH)),
    ],
)  # fmt: skip
def test_each_agent_gets_the_gateway_the_key_and_the_model(
    agent: Any, model: str | None, expected: AgentEnv
) -> None:
    launch = agent_env(agent, GW, KEY, model)
    assert launch == expected
    assert not any(KEY in arg for arg in launch.args), "the key must never be an argument"


def test_codex_overrides_are_toml_values() -> None:
    """Codex parses each `-c` value as TOML: strings quoted, escapes intact."""
    launch = agent_env("codex", 'http://h:1/a"b\\c', KEY, 'odd "model" \\ é')
    overrides = dict(o.split("=", 1) for o in launch.args[1::2])
    assert launch.args[::2] == ("-c",) * len(overrides)
    parsed = {k: tomllib.loads(f"v = {v}")["v"] for k, v in overrides.items()}
    assert parsed["model"] == 'odd "model" \\ é'
    assert parsed["model_providers.llmgw.base_url"] == 'http://h:1/a"b\\c/v1'
    assert parsed["analytics.enabled"] is False


def test_the_environment_applied() -> None:
    launch = agent_env("claude", GW, KEY, None)
    env = launch.apply({"PATH": "/bin", "ANTHROPIC_API_KEY": "sk-ant-real", "ANTHROPIC_BASE_URL": "x"})
    assert env == {"PATH": "/bin", **CLAUDE_ENV}


def test_an_unknown_agent_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown agent"):
        agent_env("aider", GW, KEY, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("http://127.0.0.1:4000", "http://127.0.0.1:4000"),
        ("http://127.0.0.1:4000/", "http://127.0.0.1:4000"),
        ("https://llm.example.com/v1", "https://llm.example.com"),
        ("https://llm.example.com/v1/", "https://llm.example.com"),
        ("https://example.com/llm/", "https://example.com/llm"),
        ("http://[::1]:4000", "http://[::1]:4000"),
    ],
)
def test_gateway_url_is_the_root(url: str, root: str) -> None:
    assert check_gateway_url(url) == root


@pytest.mark.parametrize(
    "url", ["127.0.0.1:4000", "ftp://h/", "http://", "file:///x", "localhost", "http://h/?key=x", ""]
)
def test_a_gateway_url_not_http_is_refused(url: str) -> None:
    with pytest.raises(LaunchError, match="gateway URL"):
        check_gateway_url(url)


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 4000, "http://127.0.0.1:4000"),
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),
        ("::", 4000, "http://[::1]:4000"),
        ("::1", 4000, "http://[::1]:4000"),
        ("localhost", 4000, "http://localhost:4000"),
        ("10.0.0.5", 4000, "http://10.0.0.5:4000"),
    ],
)
def test_listen_url(host: str, port: int, url: str) -> None:
    assert listen_url(host, port) == url


@pytest.mark.parametrize(
    ("environ", "platform", "path"),
    [
        ({}, "linux", "/etc/gemini-cli/settings.json"),
        ({}, "darwin", "/Library/Application Support/GeminiCli/settings.json"),
        ({}, "win32", "C:\\ProgramData\\gemini-cli\\settings.json"),
        ({"GEMINI_CLI_SYSTEM_SETTINGS_PATH": "/opt/g.json"}, "linux", "/opt/g.json"),
        ({"GEMINI_CLI_SYSTEM_SETTINGS_PATH": " "}, "linux", "/etc/gemini-cli/settings.json"),
    ],
)
def test_gemini_system_settings_path(environ: dict[str, str], platform: str, path: str) -> None:
    assert gemini_system_settings_path(environ, platform) == path


OURS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
}


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, OURS),
        ({}, OURS),
        ({"security": {"auth": {"selectedType": "oauth-personal"}}}, OURS),
        ({"tools": {"sandbox": True}, "security": {"folderTrust": {"enabled": True}}},
         {"tools": {"sandbox": True}, "privacy": {"usageStatisticsEnabled": False},
          "security": {"folderTrust": {"enabled": True}, "auth": {"selectedType": "gemini-api-key"}}}),
        ({"security": {"auth": {"enforcedType": "gemini-api-key"}}},
         {"security": {"auth": {"enforcedType": "gemini-api-key", "selectedType": "gemini-api-key"}},
          "privacy": {"usageStatisticsEnabled": False}}),
    ],
)  # fmt: skip
def test_gemini_system_settings_keep_the_administrators(
    existing: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    before = repr(existing)
    assert gemini_system_settings(existing) == expected
    assert repr(existing) == before, "the settings read must not change"


def test_gemini_auth_type_enforced_otherwise_is_refused() -> None:
    with pytest.raises(LaunchError, match="enforce the auth type 'vertex-ai'"):
        gemini_system_settings({"security": {"auth": {"enforcedType": "vertex-ai"}}})
