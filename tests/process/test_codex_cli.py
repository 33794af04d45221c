"""The real Codex CLI, headless (`codex exec`), through a real `llmgw serve`, to every provider type's fake.

Codex CLI is the npm package `@openai/codex`, installed by `DEV=1 scripts/install` into `.tools/codex/`
(or named by LLMGW_CODEX). Without it these tests are skipped, except in CI (`CI=true`), where a missing
Codex fails the run.

Each run gets a temporary HOME and CODEX_HOME holding only the config.toml below (so no ~/.codex, no
auth.json, no OpenAI key is read: the environment is built from nothing), the gateway as a custom model
provider speaking the Responses API, and a user's personal key in the variable its `env_key` names.
Everything else Codex would send out goes to a dead-end proxy on loopback (`tests/support/dead_end_proxy`),
and the config turns those senders off: the plugin marketplace (github.com, api.github.com, chatgpt.com)
and analytics (ab.chatgpt.com). The test asserts the proxy saw nothing, so a new one in a later Codex
shows up here.

A plain prompt on an openai, an anthropic and a gemini upstream (one request, no tool), and on each
provider type a task that runs one shell command: the fakes answer "run the shell command `CMD`" with a
call of the shell tool Codex declares (`exec_command` in 0.169), each in its own wire format (the gateway
names it back), and the turn carrying its output with an echo of it.
`--dangerously-bypass-approvals-and-sandbox`: the command is the test's own (no model chooses it), and
Codex's Linux sandbox (bubblewrap in user namespaces) works or not by host (it does in this container;
unprivileged user namespaces are off on some distributions), which is not what these tests are about.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dead_end_proxy import DeadEndProxy
from tests.support.responses_gateway import PROVIDER_TYPES, ResponsesGateway, responses_gateway

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = ROOT / ".tools" / "codex" / "node_modules" / ".bin" / "codex"
RUN_TIMEOUT = 90  # seconds; a run takes a few
MARKER = "CODEX-RAN-5821"

# test id → (provider type, the route Codex is given as its model, its `model_reasoning_effort`).
# OpenAI's own: a reasoning model by its bare name, as Codex users name OpenAI's models (the gateway's
# `default_provider` takes it to the openai provider); Codex always sends `reasoning`, which OpenAI
# refuses for a model without (gpt-4o-mini). With an effort, Codex asks for reasoning and sends each
# reasoning item back on the next turn: Anthropic's fake refuses a tool loop whose thinking block did not
# come back signed, and Gemini's thinking model signs its function call.
CASES = {
    "openai": ("openai", "gpt-5.1-codex", "medium"),
    "anthropic": ("anthropic", "ant/claude-sonnet-4-5", None),
    "anthropic-thinking": ("anthropic", "ant/claude-sonnet-4-5", "medium"),
    "gemini": ("gemini", "gem/gemini-2.0-flash", None),
    "gemini-thinking": ("gemini", "gem/gemini-2.5-flash", "low"),
    "openai-compatible": ("openai-compatible", "compat/llama-3.1-8b-instant", None),
    "openrouter": ("openrouter", "orouter/openai/gpt-4o-mini", None),
}
assert {provider_type for provider_type, _, _ in CASES.values()} == set(PROVIDER_TYPES)

CONFIG = """\
model = "{route}"
model_provider = "llmgw"
{effort}

[model_providers.llmgw]
name = "llmgw"
base_url = "{base_url}"
env_key = "LLMGW_API_KEY"
wire_api = "responses"
# a refused request fails the run at once instead of being retried for half a minute
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false  # the plugin marketplace: github.com, api.github.com, chatgpt.com

[analytics]
enabled = false  # ab.chatgpt.com
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def _codex() -> Path:
    """Codex CLI's executable: skip without it, or fail in CI, which must have installed it."""
    named = os.environ.get("LLMGW_CODEX")
    path = Path(named) if named else INSTALLED
    if path.is_file() and os.access(path, os.X_OK):
        return path
    why = f"Codex CLI is not installed at {path} (DEV=1 scripts/install puts it there)"
    if _in_ci():
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def codex() -> Path:
    return _codex()


@pytest.fixture(scope="module")
def gw(codex: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponsesGateway]:
    with responses_gateway(tmp_path_factory.mktemp("codex-gateway")) as gateway:
        yield gateway


@pytest.fixture
def dead_end() -> Iterator[DeadEndProxy]:
    with DeadEndProxy() as proxy:
        yield proxy


def run_codex(
    codex: Path,
    gw: ResponsesGateway,
    route: str,
    reasoning: str | None,
    prompt: str,
    tmp: Path,
    dead_end: DeadEndProxy,
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """`codex exec --json PROMPT` in `tmp/work`; its events (JSON lines) and the finished process."""
    home, work = tmp / "home", tmp / "work"
    (home / ".codex").mkdir(parents=True)
    work.mkdir()
    effort = f'model_reasoning_effort = "{reasoning}"' if reasoning else ""
    (home / ".codex" / "config.toml").write_text(
        CONFIG.format(route=route, effort=effort, base_url=gw.base_url), encoding="utf-8"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home / ".codex"),
        "LLMGW_API_KEY": gw.token,
        **dead_end.env(),
    }
    args = [
        str(codex),
        "exec",
        "--json",
        "--ephemeral",
        "--skip-git-repo-check",  # the work directory is no git repository
        "--dangerously-bypass-approvals-and-sandbox",
        prompt,
    ]
    done = subprocess.run(
        args,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,  # else it waits for more of the prompt on stdin
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return events, done


def items(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e.get("type") == "item.completed" and e["item"]["type"] == kind]


def replays_signed_reasoning(gw: ResponsesGateway, provider_type: str) -> bool:
    """Whether the upstream's last request (the turn after the call) carried the model's signed reasoning
    back on its call: a `thinking` block with its signature, a `thoughtSignature` on the function call.
    Codex sends `store: false` and the whole history, so it came back through its reasoning item's
    `encrypted_content`."""
    if provider_type == "anthropic":
        body = gw.anthropic.requests[-1].json
        blocks = [b for m in body["messages"] if m["role"] == "assistant" for b in m["content"]]
        return any(b["type"] == "thinking" and b["signature"] for b in blocks)
    body = gw.gemini.requests[-1].json
    parts = [p for c in body["contents"] if c.get("role") == "model" for p in c["parts"]]
    return any("functionCall" in p and p.get("thoughtSignature") for p in parts)


@pytest.mark.parametrize("case", ["openai", "anthropic", "gemini"])
def test_codex_answers_a_prompt(
    codex: Path, gw: ResponsesGateway, case: str, tmp_path: Path, dead_end: DeadEndProxy
) -> None:
    provider_type, route, reasoning = CASES[case]
    before = gw.last_row()
    events, done = run_codex(codex, gw, route, reasoning, "Say hello in five words.", tmp_path, dead_end)
    context = f"codex exited {done.returncode}\n{done.stdout}\n{done.stderr}\n{gw.log()[-4000:]}"
    assert done.returncode == 0, context
    assert not items(events, "command_execution"), context
    answers = items(events, "agent_message")
    assert answers and "hello" in answers[-1]["text"].lower(), context  # the fakes echo
    (row,) = gw.rows(before, route, 1)
    assert (row["status"], row["endpoint"], row["provider"]) == (
        200,
        "/v1/responses",
        PROVIDER_TYPES[provider_type],
    )
    assert (row["user_id"], row["api_key_id"]) == (gw.user_id, gw.key_id)
    assert dead_end.targets == [], "Codex reached for the internet"


@pytest.mark.parametrize("case", list(CASES))
def test_codex_runs_a_shell_command(
    codex: Path, gw: ResponsesGateway, case: str, tmp_path: Path, dead_end: DeadEndProxy
) -> None:
    provider_type, route, reasoning = CASES[case]
    before = gw.last_row()
    started = time.monotonic()
    prompt = f"Please run the shell command `echo {MARKER} | tee marker.txt` and tell me what it printed."
    events, done = run_codex(codex, gw, route, reasoning, prompt, tmp_path, dead_end)
    took = time.monotonic() - started
    context = (
        f"codex exited {done.returncode} in {took:.1f}s\n{done.stdout}\n{done.stderr}\n{gw.log()[-4000:]}"
    )
    assert done.returncode == 0, context

    # the command ran, in its working directory, and its output went back to the model
    (command,) = items(events, "command_execution")
    assert command["exit_code"] == 0 and MARKER in command["aggregated_output"], context
    assert (tmp_path / "work" / "marker.txt").read_text(encoding="utf-8") == f"{MARKER}\n"
    if reasoning is not None:  # the upstream thought, and Codex got its reasoning (to send it back)
        assert items(events, "reasoning"), context
        if provider_type in ("anthropic", "gemini"):
            assert replays_signed_reasoning(gw, provider_type), context
    answers = items(events, "agent_message")
    assert answers and MARKER in answers[-1]["text"], context
    assert [e["type"] for e in events if e["type"].startswith("turn.")] == ["turn.started", "turn.completed"]

    # two requests (the call, then the answer to its output), each a ledger row of this key
    rows = gw.rows(before, route, 2)
    assert len(rows) == 2, rows
    for row in rows:
        assert row["status"] == 200, (row, context)
        assert row["endpoint"] == "/v1/responses"
        assert (row["model_requested"], row["provider"]) == (route, PROVIDER_TYPES[provider_type])
        assert (row["user_id"], row["api_key_id"]) == (gw.user_id, gw.key_id)
        assert row["streamed"] == 1
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
    assert dead_end.targets == [], "Codex reached for the internet"
