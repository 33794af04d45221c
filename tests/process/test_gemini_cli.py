"""The real Gemini CLI, headless (`gemini -p`), through a real `llmgw serve`, to every provider type's fake.

Gemini CLI is the npm package `@google/gemini-cli`, installed by `DEV=1 scripts/install` into
`.tools/gemini-cli/` (or named by LLMGW_GEMINI). Without it these tests are skipped, except in CI
(`CI=true`), where a missing Gemini CLI fails the run.

Each run gets a temporary HOME, the gateway's root as GOOGLE_GEMINI_BASE_URL (its SDK adds
`/v1beta/models/{model}:streamGenerateContent?alt=sse`, the model's `/` left as it is:
`models/ant/claude-sonnet-4-5:…`), a user's personal key as GEMINI_API_KEY and the route as `--model`. Its
auth type must be `gemini-api-key` (with only the base URL it picks `gateway` and refuses to run
headless), which only a settings file chooses: the settings are exactly those `llmgw run gemini` writes
(`agent_launch.gemini_system_settings`: that auth type, usage statistics off), here in the temporary
HOME's `~/.gemini/settings.json`, because Gemini CLI skips a *system* settings file unless it and every
directory above it belong to root and are not group- or world-writable (never so under /tmp). Everything
else it would send out goes to a dead-end proxy on loopback (`tests/support/dead_end_proxy`); with usage
statistics on it reaches play.googleapis.com (Clearcut). The test asserts the proxy saw nothing.

Two runs per provider type: a plain prompt (one request), and a task that runs one shell command: the
fakes answer "run the shell command `CMD`" with a call of the `run_shell_command` tool Gemini CLI declares,
each in its own wire format (the gateway names it back), and the turn carrying its output with an echo of
it. `--yolo` approves that one call unattended (headless, Gemini CLI offers its shell tool only then);
the command is the test's own, no model chooses it.
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

from llmgw.services.agent_launch import gemini_system_settings
from tests.support.dead_end_proxy import DeadEndProxy
from tests.support.responses_gateway import PROVIDER_TYPES, ResponsesGateway, responses_gateway

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = ROOT / ".tools" / "gemini-cli" / "node_modules" / ".bin" / "gemini"
RUN_TIMEOUT = 90  # seconds; a run takes a few
MARKER = "GEMINI-RAN-4173"
ENDPOINT = "/v1beta/models/{model}:streamGenerateContent"

# test id → (provider type, the route Gemini CLI is given as its model)
CASES = {
    "gemini": ("gemini", "gem/gemini-2.0-flash"),
    "gemini-thinking": ("gemini", "gem/gemini-2.5-flash"),
    "anthropic": ("anthropic", "ant/claude-sonnet-4-5"),
    "openai": ("openai", "oai/gpt-4o-mini"),
    "openai-compatible": ("openai-compatible", "compat/llama-3.1-8b-instant"),
    "openrouter": ("openrouter", "orouter/openai/gpt-4o-mini"),
}
assert {provider_type for provider_type, _ in CASES.values()} == set(PROVIDER_TYPES)
PLAIN = ["gemini", "anthropic", "openai"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def _gemini() -> Path:
    """Gemini CLI's executable: skip without it, or fail in CI, which must have installed it."""
    named = os.environ.get("LLMGW_GEMINI")
    path = Path(named) if named else INSTALLED
    if path.is_file() and os.access(path, os.X_OK):
        return path
    why = f"Gemini CLI is not installed at {path} (DEV=1 scripts/install puts it there)"
    if _in_ci():
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def gemini() -> Path:
    return _gemini()


@pytest.fixture(scope="module")
def gw(gemini: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponsesGateway]:
    with responses_gateway(tmp_path_factory.mktemp("gemini-cli-gateway")) as gateway:
        yield gateway


@pytest.fixture
def dead_end() -> Iterator[DeadEndProxy]:
    with DeadEndProxy() as proxy:
        yield proxy


def run_gemini(
    gemini: Path, gw: ResponsesGateway, route: str, prompt: str, tmp: Path, dead_end: DeadEndProxy
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """`gemini -p PROMPT -o json --yolo` in `tmp/work`; its JSON result ({} if none) and the process."""
    home, work = tmp / "home", tmp / "work"
    (home / ".gemini").mkdir(parents=True)
    work.mkdir()
    settings = json.dumps(gemini_system_settings(None))
    (home / ".gemini" / "settings.json").write_text(settings, encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GOOGLE_GEMINI_BASE_URL": gw.process.base_url,
        "GEMINI_API_KEY": gw.token,
        **dead_end.env(),
    }
    args = [str(gemini), "-p", prompt, "--model", route, "--output-format", "json", "--yolo", "--skip-trust"]
    done = subprocess.run(
        args,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,  # -p appends stdin to the prompt: none
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    start = done.stdout.find("{")
    result = json.loads(done.stdout[start:]) if start >= 0 else {}
    return result, done


def assert_rows(gw: ResponsesGateway, before: int, route: str, provider_type: str, count: int) -> None:
    """`count` ledger rows of this user's key, each the streamed generateContent endpoint's template."""
    rows = gw.rows(before, route, count)
    assert len(rows) == count, rows
    for row in rows:
        assert row["status"] == 200, row
        assert row["endpoint"] == ENDPOINT, row
        assert (row["model_requested"], row["provider"]) == (route, PROVIDER_TYPES[provider_type])
        assert (row["user_id"], row["api_key_id"]) == (gw.user_id, gw.key_id)
        assert row["streamed"] == 1
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0


@pytest.mark.parametrize("case", PLAIN)
def test_gemini_cli_answers_a_prompt(
    gemini: Path, gw: ResponsesGateway, case: str, tmp_path: Path, dead_end: DeadEndProxy
) -> None:
    provider_type, route = CASES[case]
    before = gw.last_row()
    result, done = run_gemini(gemini, gw, route, "Say hello in five words.", tmp_path, dead_end)
    context = f"gemini exited {done.returncode}\n{done.stdout}\n{done.stderr}\n{gw.log()[-4000:]}"
    assert done.returncode == 0, context
    assert "error" not in result and "hello" in result["response"].lower(), context  # the fakes echo
    # one request, no retry (Gemini CLI retries a refused one with backoff)
    api = [model["api"] for model in result["stats"]["models"].values()]
    assert [(a["totalRequests"], a["totalErrors"]) for a in api] == [(1, 0)], context
    assert_rows(gw, before, route, provider_type, 1)
    assert dead_end.targets == [], "Gemini CLI reached for the internet"


@pytest.mark.parametrize("case", list(CASES))
def test_gemini_cli_runs_a_shell_command(
    gemini: Path, gw: ResponsesGateway, case: str, tmp_path: Path, dead_end: DeadEndProxy
) -> None:
    provider_type, route = CASES[case]
    before = gw.last_row()
    started = time.monotonic()
    prompt = f"Please run the shell command `echo {MARKER} | tee marker.txt` and tell me what it printed."
    result, done = run_gemini(gemini, gw, route, prompt, tmp_path, dead_end)
    took = time.monotonic() - started
    output = f"{done.stdout}\n{done.stderr}\n{gw.log()[-4000:]}"
    context = f"gemini exited {done.returncode} in {took:.1f}s\n{output}"
    assert done.returncode == 0, context

    # the command ran, in its working directory, and its output went back to the model (which echoes it)
    assert (tmp_path / "work" / "marker.txt").read_text(encoding="utf-8") == f"{MARKER}\n"
    tools = result["stats"]["tools"]
    assert (tools["totalCalls"], tools["totalSuccess"], tools["totalFail"]) == (1, 1, 0), context
    assert tools["byName"]["run_shell_command"]["success"] == 1, context
    assert f"Output: {MARKER}" in result["response"], context

    # two requests (the call, then the answer to its output), each a ledger row of this key
    assert_rows(gw, before, route, provider_type, 2)
    assert dead_end.targets == [], "Gemini CLI reached for the internet"
