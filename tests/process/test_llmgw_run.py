"""`llmgw run` as a developer types it: a real `llmgw` process becomes the agent.

With fake agents first: a script named claude, codex or gemini on PATH that writes down its argv, its
environment and its pid, so the tests see exactly what the agent got (the key in its environment,
never an argument), that `llmgw run` became it (same pid, its exit code), and the errors. Then the real
Claude Code, Codex CLI and Gemini CLI (installed by `DEV=1 scripts/install`; skipped without them, failed in
CI) started by `llmgw run` alone, headless, through a real gateway to fake upstreams, each request a ledger
row of the user's personal key; whatever else they would reach goes to a dead-end proxy.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmgw.services import gemini_settings
from tests.support.dead_end_proxy import DeadEndProxy
from tests.support.responses_gateway import ResponsesGateway, responses_gateway

ROOT = Path(__file__).resolve().parents[2]
KEY = "llmgw_feedfacecafebeef_notarealsecret0123"
FAKE_AGENT = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_AGENT_OUT"], "w") as f:
    json.dump({{"argv": sys.argv, "env": dict(os.environ), "pid": os.getpid()}}, f)
sys.exit(int(os.environ.get("FAKE_AGENT_EXIT", "0")))
"""


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    """A folder of fake agents, one per name."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("claude", "codex", "gemini"):
        script = bin_dir / name
        script.write_text(FAKE_AGENT, encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def base_env(tmp_path: Path, path: str) -> dict[str, str]:
    """A clean environment: no LLMGW_*, the user config dir in `tmp_path`, PATH as given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMGW_", "ANTHROPIC_", "GEMINI_"))}
    env.update(
        PATH=path,
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        FAKE_AGENT_OUT=str(tmp_path / "agent.json"),
        DBUS_SESSION_BUS_ADDRESS="",
    )
    return env


def llmgw_run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> tuple[subprocess.CompletedProcess[str], int]:
    """`llmgw ARGS` in a subprocess; the finished process and its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmgw", *args],
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(stdin, timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), proc.pid


def seen(env: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(Path(env["FAKE_AGENT_OUT"]).read_text(encoding="utf-8"))
    return result


def path_with(fakes: Path) -> str:
    return f"{fakes}{os.pathsep}{os.environ.get('PATH', os.defpath)}"


@pytest.mark.parametrize(
    ("agent", "args", "expected_argv", "expected_env", "removed"),
    [
        (
            "claude",
            ["-p", "hi"],
            ["--model", "team-chat", "-p", "hi"],
            {
                "ANTHROPIC_BASE_URL": "http://gw.example:8443",
                "ANTHROPIC_AUTH_TOKEN": KEY,
                "ANTHROPIC_DEFAULT_HAIKU_MODEL": "team-chat",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            },
            "ANTHROPIC_API_KEY",
        ),
        (
            "codex",
            ["exec", "--json", "do it"],
            [
                "-c", 'model_providers.llmgw.name="llmgw"',
                "-c", 'model_providers.llmgw.base_url="http://gw.example:8443/v1"',
                "-c", 'model_providers.llmgw.env_key="LLMGW_API_KEY"',
                "-c", 'model_providers.llmgw.wire_api="responses"',
                "-c", 'model_provider="llmgw"',
                "-c", "analytics.enabled=false",
                "-c", 'model="team-chat"',
                "exec", "--json", "do it",
            ],
            {"LLMGW_API_KEY": KEY},
            None,
        ),
        (
            "gemini",
            ["-p", "hi"],
            ["--model", "team-chat", "-p", "hi"],
            {"GOOGLE_GEMINI_BASE_URL": "http://gw.example:8443", "GEMINI_API_KEY": KEY},
            "GOOGLE_API_KEY",
        ),
    ],
)  # fmt: skip
def test_the_agent_gets_the_gateway_and_the_key_in_its_environment_only(
    agent: str,
    args: list[str],
    expected_argv: list[str],
    expected_env: dict[str, str],
    removed: str | None,
    fakes: Path,
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path, path_with(fakes))
    env.update(LLMGW_API_KEY=KEY, ANTHROPIC_API_KEY="sk-ant-real", GOOGLE_API_KEY="goog-real")
    done, pid = llmgw_run(
        ["run", "--model", "team-chat", "--gateway", "http://gw.example:8443/", "--", agent, *args], env
    )
    assert done.returncode == 0, done.stderr
    got = seen(env)
    assert got["argv"][1:] == expected_argv
    assert Path(got["argv"][0]).name == agent
    assert {k: got["env"].get(k) for k in expected_env} == expected_env
    if removed:
        assert removed not in got["env"]
    assert not any(KEY in arg for arg in got["argv"]), "the key is never an argument"
    if os.name == "posix":
        assert got["pid"] == pid, "llmgw run becomes the agent (exec), it does not run it as a child"
    if agent == "gemini":  # the auth type through a settings file of llmgw's; the user's untouched
        settings_path = Path(got["env"]["GEMINI_CLI_SYSTEM_SETTINGS_PATH"])
        assert settings_path.is_relative_to(tmp_path / "config")
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
        assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
        assert not (tmp_path / "home" / ".gemini").exists()
        # a file Gemini CLI will skip (a temporary directory: /tmp above it), and no auth type of the
        # user's: llmgw run says what to add
        if not gemini_settings.heeded_by_gemini_cli(settings_path):
            assert "llmgw run --gemini-auth" in done.stderr and "gemini-api-key" in done.stderr


def test_secrets_read_from_files_never_reach_the_agent(fakes: Path, tmp_path: Path) -> None:
    """`LLMGW_*_FILE` (`settings.environment`): llmgw reads its own variables from files, the agent
    inherits the process's environment as it was: the paths, never a value read from a file, except the
    personal key `agent_env` gives it on purpose."""
    provider_key = "sk-upstream-secret-in-a-file-0123456789"
    (tmp_path / "openai-api-key").write_text(provider_key + "\n", encoding="utf-8")
    (tmp_path / "proxy-key").write_text("llmgw-proxy-key-in-a-file-0123\n", encoding="utf-8")
    (tmp_path / "api-key").write_text(KEY + "\n", encoding="utf-8")
    (tmp_path / "url").write_text("http://gw.example:8443\n", encoding="utf-8")
    env = base_env(tmp_path, path_with(fakes))
    env.update(
        LLMGW_OPENAI_API_KEY_FILE=str(tmp_path / "openai-api-key"),
        LLMGW_PROXY_KEY_FILE=str(tmp_path / "proxy-key"),
        LLMGW_API_KEY_FILE=str(tmp_path / "api-key"),
        LLMGW_URL_FILE=str(tmp_path / "url"),
    )
    done, _ = llmgw_run(["run", "--", "claude", "-p", "hi"], env)
    assert done.returncode == 0, done.stderr
    got = seen(env)["env"]
    assert got["ANTHROPIC_BASE_URL"] == "http://gw.example:8443"  # from LLMGW_URL_FILE
    assert got["ANTHROPIC_AUTH_TOKEN"] == KEY  # from LLMGW_API_KEY_FILE: the agent's own key
    for name in ("LLMGW_OPENAI_API_KEY", "LLMGW_PROXY_KEY", "LLMGW_API_KEY", "LLMGW_URL"):
        assert name not in got
    assert got["LLMGW_OPENAI_API_KEY_FILE"] == str(tmp_path / "openai-api-key")  # inherited as it was
    assert not [k for k, v in got.items() if provider_key in v or "llmgw-proxy-key-in-a-file" in v]


def test_gemini_auth_is_set_in_the_users_settings_when_asked(fakes: Path, tmp_path: Path) -> None:
    env = {**base_env(tmp_path, path_with(fakes)), "LLMGW_API_KEY": KEY}
    theirs = tmp_path / "home" / ".gemini" / "settings.json"
    theirs.parent.mkdir(parents=True)
    theirs.write_text('{"theme": "Dracula"}', encoding="utf-8")
    args = ["run", "--gateway", "http://127.0.0.1:4000", "--gemini-auth", "--", "gemini", "-p", "hi"]
    done, _ = llmgw_run(args, env)
    assert done.returncode == 0, done.stderr
    written = json.loads(theirs.read_text(encoding="utf-8"))
    assert written == {"theme": "Dracula", "security": {"auth": {"selectedType": "gemini-api-key"}}}
    assert "warning" not in done.stderr and str(theirs) in done.stderr
    assert seen(env)["argv"][1:] == ["-p", "hi"]  # the flag is llmgw's, not the agent's
    done, _ = llmgw_run(args[:3] + args[4:], env)  # set once: no question, no warning after
    assert done.returncode == 0 and "warning" not in done.stderr


def test_the_saved_key_and_the_configured_gateway(fakes: Path, tmp_path: Path) -> None:
    """`llmgw key save` reads the key from stdin (never an argument) into a private file; `llmgw run`
    finds it, and the gateway the configuration listens on (any address: reached on loopback)."""
    env = base_env(tmp_path, path_with(fakes))
    saved, _ = llmgw_run(["key", "save"], env, stdin=KEY + "\n")
    assert saved.returncode == 0, saved.stderr
    key_file = tmp_path / "config" / "llmgw" / "api-key"
    assert key_file.read_text(encoding="utf-8") == KEY + "\n"
    assert KEY not in saved.stdout + saved.stderr
    if os.name == "posix":
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    config = tmp_path / "llmgw.toml"
    config.write_text('[server]\nhost = "0.0.0.0"\nport = 4123\n', encoding="utf-8")

    done, _ = llmgw_run(["run", "--config", str(config), "claude"], env)
    assert done.returncode == 0, done.stderr
    got = seen(env)
    assert got["argv"][1:] == []
    assert got["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:4123"
    assert got["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY

    env["LLMGW_URL"] = "https://llm.example.com/v1"  # the variable, over the configuration
    done, _ = llmgw_run(["run", "--config", str(config), "gemini"], env)
    assert done.returncode == 0, done.stderr
    assert seen(env)["env"]["GOOGLE_GEMINI_BASE_URL"] == "https://llm.example.com"

    removed, _ = llmgw_run(["key", "save", "--remove"], env)
    assert removed.returncode == 0 and not key_file.exists()
    again, _ = llmgw_run(["key", "save", "--remove"], env)
    assert again.returncode == 1


def test_the_agents_exit_code_is_llmgw_runs(fakes: Path, tmp_path: Path) -> None:
    env = base_env(tmp_path, path_with(fakes)) | {"LLMGW_API_KEY": KEY, "FAKE_AGENT_EXIT": "7"}
    done, _ = llmgw_run(["run", "--gateway", "http://127.0.0.1:4000", "codex"], env)
    assert done.returncode == 7


@pytest.mark.parametrize(
    ("args", "extra_env", "code", "message"),
    [
        (["run", "--gateway", "http://127.0.0.1:4000", "claude"], {}, 2, "llmgw key save"),
        (["run", "--gateway", "127.0.0.1:4000", "claude"], {"LLMGW_API_KEY": KEY}, 2, "http:// or https://"),
        (["run", "claude"], {"LLMGW_API_KEY": KEY, "LLMGW_URL": "ftp://x"}, 2, "http:// or https://"),
        (["run", "--gateway", "http://127.0.0.1:4000", "claude"], {"LLMGW_API_KEY": "two words"}, 2,
         "visible ASCII"),
        (["run", "--gateway", "http://127.0.0.1:4000", "gemini"],
         {"LLMGW_API_KEY": KEY, "PATH": "/nonexistent"}, 127, "npm install -g @google/gemini-cli"),
    ],
)  # fmt: skip
def test_errors_say_what_to_do(
    args: list[str], extra_env: dict[str, str], code: int, message: str, fakes: Path, tmp_path: Path
) -> None:
    env = base_env(tmp_path, path_with(fakes)) | extra_env
    done, _ = llmgw_run(args, env)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert not Path(env["FAKE_AGENT_OUT"]).exists(), "no agent started"
    assert KEY not in done.stderr


# --- the real agents, through a real gateway ------------------------------------------------------


def _installed(name: str, relative: str, variable: str) -> Path:
    named = os.environ.get(variable)
    path = Path(named) if named else ROOT / ".tools" / relative
    if path.is_file() and os.access(path, os.X_OK):
        return path
    why = f"{name} is not installed at {path} (DEV=1 scripts/install puts it there)"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponsesGateway]:
    with responses_gateway(tmp_path_factory.mktemp("run-gateway")) as gateway:
        yield gateway


@pytest.fixture
def dead_end() -> Iterator[DeadEndProxy]:
    with DeadEndProxy() as proxy:
        yield proxy


def real_env(tmp_path: Path, program: Path, gw: ResponsesGateway, dead_end: DeadEndProxy) -> dict[str, str]:
    """Only the agent's folder on PATH (besides the system's), a fresh HOME, the user's key in the
    variable, everything but loopback through the dead end."""
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    system_path = os.environ.get("PATH", os.defpath)
    return {
        "PATH": f"{program.parent}{os.pathsep}{system_path}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "CODEX_HOME": str(home / ".codex"),
        "LLMGW_API_KEY": gw.token,
        "DBUS_SESSION_BUS_ADDRESS": "",
        **dead_end.env(),
    }


def test_real_claude_code_through_llmgw_run(
    gw: ResponsesGateway, tmp_path: Path, dead_end: DeadEndProxy
) -> None:
    claude = _installed("Claude Code", "claude-code/node_modules/.bin/claude", "LLMGW_CLAUDE")
    env = real_env(tmp_path, claude, gw, dead_end)
    route = "ant/claude-sonnet-4-5"
    before = gw.last_row()
    done = subprocess.run(
        [sys.executable, "-m", "llmgw", "run", "--model", route, "--gateway", gw.process.base_url,
         "--", "claude", "-p", "Say hello in five words.", "--output-format", "json"],
        cwd=tmp_path / "work", env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{gw.log()[-3000:]}"
    result = json.loads(done.stdout)
    assert result["is_error"] is False and result["result"].strip(), result
    rows = gw.rows(before, route, 1)
    assert rows and all(r["status"] == 200 for r in rows), rows
    assert all((r["user_id"], r["api_key_id"]) == (gw.user_id, gw.key_id) for r in rows)
    assert all(r["endpoint"] == "/v1/messages" for r in rows)
    assert dead_end.targets == [], "Claude Code reached for the internet"


def test_real_codex_through_llmgw_run(gw: ResponsesGateway, tmp_path: Path, dead_end: DeadEndProxy) -> None:
    codex = _installed("Codex CLI", "codex/node_modules/.bin/codex", "LLMGW_CODEX")
    env = real_env(tmp_path, codex, gw, dead_end)
    # the plugin marketplace (github.com, chatgpt.com) is a feature of the user's to turn off, not llmgw's
    (tmp_path / "home" / ".codex" / "config.toml").write_text(
        "[features]\nplugins = false\n", encoding="utf-8"
    )
    route = "gem/gemini-2.0-flash"
    before = gw.last_row()
    done = subprocess.run(
        [sys.executable, "-m", "llmgw", "run", "--model", route, "--gateway", gw.process.base_url,
         "--", "codex", "exec", "--json", "--ephemeral", "--skip-git-repo-check", "Say hello in five words."],
        cwd=tmp_path / "work", env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{gw.log()[-3000:]}"
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    answers = [e["item"] for e in events if e.get("type") == "item.completed"]
    assert any(a["type"] == "agent_message" and a["text"].strip() for a in answers), done.stdout
    rows = gw.rows(before, route, 1)
    assert rows and all(r["status"] == 200 for r in rows), rows
    assert all((r["user_id"], r["api_key_id"]) == (gw.user_id, gw.key_id) for r in rows)
    assert all(r["endpoint"] == "/v1/responses" for r in rows)
    assert dead_end.targets == [], "Codex reached for the internet"


def test_real_gemini_cli_through_llmgw_run(
    gw: ResponsesGateway, tmp_path: Path, dead_end: DeadEndProxy
) -> None:
    """The auth type in the user's own settings: Gemini CLI skips llmgw's system settings file unless it
    and every directory above it belong to root and are not group- or world-writable, never so under /tmp
    (the README's recipe for a user other than root, the settings of its table). `llmgw run` sets the
    base URL and the key."""
    gemini = _installed("Gemini CLI", "gemini-cli/node_modules/.bin/gemini", "LLMGW_GEMINI")
    env = real_env(tmp_path, gemini, gw, dead_end)
    (tmp_path / "home" / ".gemini").mkdir()
    (tmp_path / "home" / ".gemini" / "settings.json").write_text(
        json.dumps(
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": False},  # else Clearcut: play.googleapis.com
            }
        ),
        encoding="utf-8",
    )
    route = "ant/claude-sonnet-4-5"
    before = gw.last_row()
    done = subprocess.run(
        [sys.executable, "-m", "llmgw", "run", "--model", route, "--gateway", gw.process.base_url,
         "--", "gemini", "-p", "Say hello in five words.", "--output-format", "json", "--skip-trust"],
        cwd=tmp_path / "work", env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{gw.log()[-3000:]}"
    result = json.loads(done.stdout[done.stdout.index("{") :])
    assert "hello" in result["response"].lower(), result
    assert "selectedType" not in done.stderr  # llmgw run's warning: the user's settings choose it
    rows = gw.rows(before, route, 1)
    assert rows and all(r["status"] == 200 for r in rows), rows
    assert all((r["user_id"], r["api_key_id"]) == (gw.user_id, gw.key_id) for r in rows)
    assert all(r["endpoint"] == "/v1beta/models/{model}:streamGenerateContent" for r in rows)
    assert dead_end.targets == [], "Gemini CLI reached for the internet"
