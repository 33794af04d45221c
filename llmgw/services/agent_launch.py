"""What `llmgw run` starts a coding agent with: the arguments it puts before the user's, the environment
it adds and removes, per agent. Pure: the CLI (`cli/run.py`) finds the key, the program and the URL,
and executes.

Mapping decisions, per agent (each from its own documentation or sources):
- The personal key travels in the environment only, never in an argument (`ps` shows arguments to
  every user of the machine).
- `claude` (Claude Code): `ANTHROPIC_BASE_URL` is the gateway's root (Claude Code adds `/v1/messages`);
  the key as `ANTHROPIC_AUTH_TOKEN` (sent as `Authorization: Bearer`, which the gateway takes; an
  interactive Claude Code asks once whether to use a custom `ANTHROPIC_API_KEY`, not a token), and
  `ANTHROPIC_API_KEY` removed so a real Anthropic key in the shell is not sent to the gateway too.
  `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`: no telemetry, error reports or update checks going
  around the gateway. A model is `--model M`, and also its small fast model (`ANTHROPIC_DEFAULT_HAIKU_MODEL`,
  and `ANTHROPIC_SMALL_FAST_MODEL` for older versions), so its background requests take the same route.
- `codex` (Codex CLI): the gateway as a model provider named `llmgw`, through `-c key=value` overrides
  (Codex parses each value as TOML, so strings are quoted): `base_url` the gateway's `/v1`, `wire_api`
  `"responses"`, `env_key` `"LLMGW_API_KEY"` (the variable Codex reads the key from), then
  `model_provider="llmgw"`; a model is `-c model="M"`. `-c analytics.enabled=false`: no analytics to
  ab.chatgpt.com. The overrides come before the user's arguments, where Codex takes them for any
  subcommand (`codex -c … exec PROMPT`).
- `gemini` (Gemini CLI): `GOOGLE_GEMINI_BASE_URL` the gateway's root (the SDK adds `/v1beta/models/…`),
  `GEMINI_API_KEY` the key; `GOOGLE_API_KEY`, `GOOGLE_GENAI_USE_VERTEXAI` and `GOOGLE_GENAI_USE_GCA`
  removed (they would send it to Vertex AI or Code Assist instead). Its auth type must be
  `gemini-api-key`: with only the base URL set it picks `gateway` and refuses to run headless, and an
  environment variable cannot choose it (`GEMINI_DEFAULT_AUTH_TYPE` only preselects the interactive
  dialog). The user's own settings are left alone; the choice goes in a system settings file of
  llmgw's (`gemini_system_settings`), the one layer that overrides the user's, which Gemini CLI reads
  from `GEMINI_CLI_SYSTEM_SETTINGS_PATH` (the CLI writes the file and sets the variable). A model is
  `--model M`.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from llmgw.errors import LaunchError
from llmgw.services.saved_key import KEY_ENV

__all__ = [
    "AGENTS",
    "INSTALL_HINTS",
    "KEY_ENV",
    "Agent",
    "AgentEnv",
    "agent_env",
    "check_gateway_url",
    "gemini_system_settings",
    "gemini_system_settings_path",
    "listen_url",
]

Agent = Literal["claude", "codex", "gemini"]
AGENTS: Final[tuple[Agent, ...]] = ("claude", "codex", "gemini")

INSTALL_HINTS: Final[dict[Agent, str]] = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "gemini": "npm install -g @google/gemini-cli",
}

GEMINI_AUTH_TYPE: Final = "gemini-api-key"
GEMINI_SETTINGS_ENV: Final = "GEMINI_CLI_SYSTEM_SETTINGS_PATH"


@dataclass(frozen=True, slots=True)
class AgentEnv:
    """What to start an agent with: `args` before the user's own, `env` set, `unset` removed."""

    args: tuple[str, ...]
    env: dict[str, str]
    unset: frozenset[str] = field(default_factory=frozenset)

    def apply(self, environ: Mapping[str, str]) -> dict[str, str]:
        """`environ` with this launch's variables removed and set."""
        out = {k: v for k, v in environ.items() if k not in self.unset}
        out.update(self.env)
        return out


def _toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes (`\\"`, `\\\\`, `\\uXXXX`) are TOML's too."""
    return json.dumps(value, ensure_ascii=True)


def agent_env(agent: Agent, gateway_url: str, key: str, model: str | None) -> AgentEnv:
    """The arguments and environment that point `agent` at the gateway at `gateway_url` (its root, as
    `check_gateway_url` gives it) with the personal `key`, on `model` if one is given."""
    root = gateway_url.rstrip("/")
    if agent == "claude":
        env = {
            "ANTHROPIC_BASE_URL": root,
            "ANTHROPIC_AUTH_TOKEN": key,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        if model:
            env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] = env["ANTHROPIC_SMALL_FAST_MODEL"] = model
        return AgentEnv(("--model", model) if model else (), env, frozenset({"ANTHROPIC_API_KEY"}))
    if agent == "codex":
        overrides = [
            f"model_providers.llmgw.name={_toml_string('llmgw')}",
            f"model_providers.llmgw.base_url={_toml_string(root + '/v1')}",
            f"model_providers.llmgw.env_key={_toml_string(KEY_ENV)}",
            f"model_providers.llmgw.wire_api={_toml_string('responses')}",
            f"model_provider={_toml_string('llmgw')}",
            "analytics.enabled=false",
        ]
        if model:
            overrides.append(f"model={_toml_string(model)}")
        return AgentEnv(tuple(a for o in overrides for a in ("-c", o)), {KEY_ENV: key})
    if agent == "gemini":
        env = {"GOOGLE_GEMINI_BASE_URL": root, "GEMINI_API_KEY": key}
        unset = frozenset({"GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_GCA"})
        return AgentEnv(("--model", model) if model else (), env, unset)
    raise ValueError(f"unknown agent {agent!r}; expected one of {', '.join(AGENTS)}")


def check_gateway_url(url: str) -> str:
    """`url` without a trailing `/` (nor `/v1`: each agent adds its own API's path); LaunchError unless
    it is an http(s) URL with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LaunchError(f"the gateway URL must be http:// or https:// with a host, not {url!r}")
    if parts.query or parts.fragment:
        raise LaunchError(f"the gateway URL takes no query or fragment: {url!r}")
    root = url.strip().rstrip("/")
    return root.removesuffix("/v1").rstrip("/")


def listen_url(host: str, port: int) -> str:
    """The URL of a gateway listening on `host:port` from this machine: an any-address listener
    (`0.0.0.0`, `::`) is reached on loopback, an IPv6 address in brackets."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def gemini_system_settings_path(environ: Mapping[str, str], platform: str = sys.platform) -> str:
    """Where Gemini CLI reads its system settings (the layer over the user's): the variable, else the
    platform's path (its `getSystemSettingsPath`)."""
    if environ.get(GEMINI_SETTINGS_ENV, "").strip():
        return environ[GEMINI_SETTINGS_ENV].strip()
    if platform == "darwin":
        return "/Library/Application Support/GeminiCli/settings.json"
    if platform == "win32":
        return "C:\\ProgramData\\gemini-cli\\settings.json"
    return "/etc/gemini-cli/settings.json"


def gemini_system_settings(existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """The system settings Gemini CLI is started with: the administrator's `existing` ones, if any, kept
    and overlaid with the `gemini-api-key` auth type and usage statistics off (they go to Google, around
    the gateway). LaunchError if the administrator enforces another auth type."""
    settings: dict[str, Any] = copy.deepcopy(dict(existing)) if existing else {}
    security = settings.setdefault("security", {})
    auth = security.setdefault("auth", {}) if isinstance(security, dict) else None
    if not isinstance(auth, dict):
        raise LaunchError("Gemini CLI's system settings have a `security` that is not an object")
    enforced = auth.get("enforcedType")
    if enforced and enforced != GEMINI_AUTH_TYPE:
        raise LaunchError(
            f"Gemini CLI's system settings enforce the auth type {enforced!r}; "
            f"the gateway needs {GEMINI_AUTH_TYPE!r} (ask the machine's administrator)"
        )
    auth["selectedType"] = GEMINI_AUTH_TYPE
    privacy = settings.setdefault("privacy", {})
    if isinstance(privacy, dict):
        privacy["usageStatisticsEnabled"] = False
    return settings
