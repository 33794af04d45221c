"""The real Claude Code, headless, through a real `llmgw serve`, to every provider type's fake upstream.

Claude Code is the npm package `@anthropic-ai/claude-code`, installed by `DEV=1 scripts/install` into
`.tools/claude-code/` (or named by LLMGW_CLAUDE). Without it these tests are skipped, except in CI
(`CI=true`), where a missing Claude Code fails the run. Claude Code gets a temporary HOME, the gateway
as ANTHROPIC_BASE_URL and the route as its model, and no way to reach anything else: its telemetry,
auto-updater and other traffic are switched off, and every request it makes goes to the gateway, which
only reaches the fakes on 127.0.0.1.

Two runs per route: a plain prompt, and a tool loop in which it reads a file of its working directory
(the fakes answer "Read the file /path" with a call of its Read tool, and the result with an echo of
it), so the tool call and its result make a second turn. Every request of a run must succeed: Claude
Code retries a refused request in other shapes, which would hide a refusal the gateway caused.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROXY_KEY, UPSTREAM_KEY
from tests.support.fakes.anthropic_upstream import FakeAnthropic
from tests.support.fakes.gemini_upstream import FakeGemini
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = ROOT / ".tools" / "claude-code" / "node_modules" / ".bin" / "claude"
RUN_TIMEOUT = 90  # seconds; a run takes one or two
SECRET = "PERIWINKLE-7341"
ANTHROPIC_KEY, GEMINI_KEY = "sk-ant-upstream-cc", "gem-upstream-cc"

# (test id, route): every provider type; an alias makes Claude Code send `role: "system"` messages
# (it does so for any model it does not know), a Claude model name does not.
ROUTES = [
    ("anthropic", "ant/claude-sonnet-4-5"),
    ("anthropic-alias", "team-chat"),
    ("openai", "oai/gpt-4o-mini"),
    ("openai-reasoning", "oai/o4-mini"),
    ("openrouter", "orouter/openai/gpt-4o-mini"),
    ("openai-compatible", "compat/llama-3.1-8b-instant"),
    ("gemini", "gem/gemini-2.0-flash"),
    ("gemini-thinking", "gem/gemini-2.5-flash"),
]

# What the gateway drops for a model that cannot take it, and says so in its debug log.
DROPPED = {
    "oai/gpt-4o-mini": "oai/gpt-4o-mini → gpt-4o-mini: reasoning_effort 'high' dropped",
    "gem/gemini-2.0-flash": "gem/gemini-2.0-flash → gemini-2.0-flash: thinking dropped",
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def _claude() -> Path:
    """Claude Code's executable: skip without it, or fail in CI, which must have installed it."""
    named = os.environ.get("LLMGW_CLAUDE")
    path = Path(named) if named else INSTALLED
    if path.is_file() and os.access(path, os.X_OK):
        return path
    why = f"Claude Code is not installed at {path} (DEV=1 scripts/install puts it there)"
    if _in_ci():
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def claude() -> Path:
    return _claude()


@pytest.fixture(scope="module")
def gw(claude: Path, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with (
        FakeAnthropic(accepted_keys=(ANTHROPIC_KEY,), bearer_keys=False) as ant,
        FakeGemini(accepted_keys=(GEMINI_KEY,)) as gem,
    ):
        config = (
            'log_level = "debug"\n'
            f'\n[providers.ant]\ntype = "anthropic"\nbase_url = "{ant.base_url}/v1"\n'
            f'\n[providers.oai]\ntype = "openai"\nbase_url = "{fake.base_url}"\n'
            f'\n[providers.orouter]\ntype = "openrouter"\nbase_url = "{fake.base_url}"\n'
            f'\n[providers.compat]\ntype = "openai-compatible"\nbase_url = "{fake.base_url}"\n'
            f'\n[providers.gem]\ntype = "gemini"\nbase_url = "{gem.base_url}/v1beta"\n'
            '\n[models]\nteam-chat = "ant/claude-sonnet-4-5"\n'
        )
        env = {
            "LLMGW_PROXY_KEY": PROXY_KEY,
            "LLMGW_ANT_API_KEY": ANTHROPIC_KEY,
            "LLMGW_OAI_API_KEY": UPSTREAM_KEY,
            "LLMGW_OROUTER_API_KEY": UPSTREAM_KEY,
            "LLMGW_COMPAT_API_KEY": UPSTREAM_KEY,
            "LLMGW_GEM_API_KEY": GEMINI_KEY,
            "DBUS_SESSION_BUS_ADDRESS": "",
        }
        with GatewayProcess(tmp_path_factory.mktemp("claude-code"), config, env) as g:
            yield g


def run_claude(claude: Path, gw: GatewayProcess, route: str, prompt: str, tmp: Path) -> dict[str, Any]:
    """`claude -p PROMPT --output-format json` in `tmp/work`, HOME in `tmp/home`; its JSON result."""
    home, work = tmp / "home", tmp / "work"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": gw.base_url,
        "ANTHROPIC_API_KEY": PROXY_KEY,
        "ANTHROPIC_MODEL": route,
        "ANTHROPIC_SMALL_FAST_MODEL": route,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    args = [str(claude), "-p", prompt, "--output-format", "json", "--allowedTools", "Read"]
    done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, f"claude exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def statuses(gw: GatewayProcess, route: str, after: int, at_least: int, timeout: float = 5.0) -> list[int]:
    """The ledger statuses of the route's requests past row `after`, once there are `at_least`."""
    deadline = time.monotonic() + timeout
    while True:
        found: list[int] = []
        if gw.db_path.exists():
            with sqlite3.connect(gw.db_path) as conn:
                rows = conn.execute(
                    "SELECT status FROM requests WHERE model_requested = ? AND rowid > ? ORDER BY rowid",
                    (route, after),
                ).fetchall()
                found = [int(status) for (status,) in rows]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def last_row(gw: GatewayProcess) -> int:
    if not gw.db_path.exists():
        return 0
    with sqlite3.connect(gw.db_path) as conn:
        (rowid,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()
    return int(rowid)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text(f"The secret word is {SECRET}.\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("route", [r for _, r in ROUTES], ids=[i for i, _ in ROUTES])
def test_claude_code_answers(claude: Path, gw: GatewayProcess, route: str, workdir: Path) -> None:
    before = last_row(gw)
    result = run_claude(claude, gw, route, "Say hello in five words.", workdir)
    assert result["is_error"] is False, result
    assert isinstance(result["result"], str) and result["result"].strip()
    seen = statuses(gw, route, before, 1)
    assert seen and all(s == 200 for s in seen), f"{seen}\n{gw.log()[-4000:]}"
    if route in DROPPED:
        assert DROPPED[route] in gw.log()


@pytest.mark.parametrize("route", [r for _, r in ROUTES], ids=[i for i, _ in ROUTES])
def test_claude_code_tool_loop(claude: Path, gw: GatewayProcess, route: str, workdir: Path) -> None:
    """It calls its Read tool on a file of its working directory, then answers from the file."""
    before = last_row(gw)
    notes = workdir / "work" / "notes.txt"
    result = run_claude(claude, gw, route, f"Read the file {notes} and tell me the secret word.", workdir)
    assert result["is_error"] is False, result
    assert SECRET in result["result"], result["result"]
    assert result["num_turns"] >= 2
    seen = statuses(gw, route, before, 2)
    assert len(seen) >= 2 and all(s == 200 for s in seen), f"{seen}\n{gw.log()[-4000:]}"
