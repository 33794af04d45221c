"""The README's front door kept true: the team quickstart run as written on a fresh copy, the two
commands of the section after it, and the apt packages it names."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import free_port

ROOT = Path(__file__).resolve().parents[2]
ALONE = "## Alone, without accounts; the tests"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(ALONE, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [b.split("#", 1)[0].strip() for b in blocks]


def test_readme_has_exactly_the_two_commands() -> None:
    assert readme_commands() == ["scripts/serve --no-auth", "scripts/test"]


def test_ci_runs_the_readme_test_command_in_a_fresh_clone() -> None:
    """As a user would: a clone of its own in an empty temporary directory, nothing beside it."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    clone = re.search(r'^git clone .*\. "\$(\w+)/llmgw"$', ci, re.M)
    assert clone, 'no `git clone . "$DIR/llmgw"` in .ci/run'
    assert re.search(rf"^{clone[1]}=\$\(mktemp -d\)$", ci, re.M)
    assert re.search(rf'^\(cd "\${clone[1]}/llmgw" && {readme_commands()[1]}\)$', ci, re.M)


def test_readme_serve_command_runs_on_embedded_defaults(tmp_path: Path) -> None:
    """`scripts/serve --no-auth`: installs, serves on loopback, ledger in the user data dir."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_") and not k.startswith("XDG_")}
    env.update(HOME=str(tmp_path), LLMGW_PORT=str(port))  # a fresh user: no config, empty data dir
    proc = subprocess.Popen(
        [*shlex.split(readme_commands()[0])],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90  # includes the (no-op) dependency install
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)
        assert models.status_code == 200 and models.json() == {"object": "list", "data": []}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, out
    assert "http://127.0.0.1:" in out and "auth OFF" in out
    assert "install: dependencies pinned in" in out and "install: done in" in out  # never silent
    assert (tmp_path / ".local" / "share" / "llmgw" / "llmgw.db").exists()


def test_the_readme_names_the_apt_packages_scripts_test_installs() -> None:
    """`apt-get install …` in the README is what scripts/install-system-deps installs."""
    script = (ROOT / "scripts" / "install-system-deps").read_text(encoding="utf-8")
    always = re.search(r"^packages=\(([^)]*)\)$", script, re.M)
    missing_node = re.search(r"^    packages\+=\(([^)]*)\)$", script, re.M)
    assert always and missing_node
    text = (ROOT / "README.md").read_text(encoding="utf-8").split(ALONE, 1)[1].split("\n## ", 1)[0]
    said = re.search(r"`apt-get install ([^`]+)` \(and `([^`]+)` when `node` or `npm` is\s+missing\)", text)
    assert said, "the README's apt-get line is not where this test reads it"
    assert said[1].split() == always[1].split()
    assert said[2].split() == missing_node[1].split()


# -- the team quickstart, as written, on a fresh copy ----------------------------------------------

QUICKSTART = "## Team quickstart"
PASSWORD = "a quickstart password"
# What the quickstart's prompts ask, and what the test types there (as a person at the terminal would).
PROMPTS = {
    "Secret for 'openai' (input hidden): ": UPSTREAM_KEY,
    "New password (input hidden): ": PASSWORD,
    "The same again: ": PASSWORD,
}
# The one line the test changes: the foreground `llmgw serve` of the first terminal goes to the
# background, its log to a file, until the gateway answers.
SERVE_IN_BACKGROUND = """llmgw serve >"$SERVE_LOG" 2>&1 &
echo $! >"$SERVE_PID"
for _ in $(seq 300); do curl -sf "$GATEWAY/healthz" >/dev/null && break; sleep 0.2; done
"""
PORTAL_CHECK = """
import os, sys, httpx
base = os.environ["GATEWAY"]
with httpx.Client(base_url=base, headers={"origin": base}) as client:
    assert client.get("/ui/").status_code in (200, 303, 307)
    login = client.post("/ui/login", data={"username": "admin", "password": os.environ["PASSWORD"]})
    assert login.status_code == 303, login.text
    page = client.get(login.headers["location"])
    assert page.status_code == 200 and "Log out" in page.text, page.text
print("portal: logged in as admin")
"""


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split(title + "\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of `text`: (language, code)."""
    return re.findall(r"```(\w+)\n(.*?)```", text, re.S)


def quickstart_script(port: int, workdir: Path) -> str:
    """The quickstart's shell blocks and its Python, then the Use section's alias example, as one bash
    script: only the gateway's port (4000 is the README's) and the background serve differ."""
    blocks = code_blocks(section(QUICKSTART))
    assert [lang for lang, _ in blocks] == ["sh", "sh", "sh", "python"], blocks
    use = code_blocks(section("## Use"))
    curl = next(code for lang, code in use if lang == "sh" and "curl" in code)
    script = ["set -euo pipefail"]
    for lang, code in blocks:
        if lang == "python":
            python = code.replace("127.0.0.1:4000", f"127.0.0.1:{port}")
            (workdir / "quickstart.py").write_text(python, encoding="utf-8")
            script.append('"$CLIENT_PYTHON" "$WORKDIR/quickstart.py"')
            continue
        for line in code.splitlines():
            script.append(SERVE_IN_BACKGROUND if line.strip() == "llmgw serve" else line)
    script.append(curl)
    script.append('"$CLIENT_PYTHON" "$WORKDIR/portal_check.py"')
    (workdir / "portal_check.py").write_text(PORTAL_CHECK, encoding="utf-8")
    return "\n".join(script).replace("127.0.0.1:4000", f"127.0.0.1:{port}") + "\n"


def alias_config() -> str:
    """The Use section's `[models]` block, as the README says to put it in the config file."""
    return next(code for lang, code in code_blocks(section("## Use")) if lang == "toml")


def fresh_copy(target: Path) -> Path:
    """The checkout as a clone of it would be (tracked and new files, nothing ignored: no .venv)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def run_in_pty(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """`argv` on a terminal of its own (its controlling tty: hidden prompts read it), answering
    `PROMPTS`; returns the exit code and everything it wrote."""
    master, slave = pty.openpty()

    def controlling_tty() -> None:  # after setsid (start_new_session): the pty becomes the child's
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=controlling_tty,
    )
    os.close(slave)
    out, answered = "", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal has gone
                    break
                if not chunk:
                    break
                out += chunk.decode("utf-8", "replace")
                pending = out[answered:]
                for prompt, answer in PROMPTS.items():
                    if pending.endswith(prompt):
                        os.write(master, (answer + "\n").encode())
                        answered = len(out)
            elif proc.poll() is not None:
                break
        else:
            pytest.fail(f"the quickstart did not finish within {timeout} s:\n{out}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)
    return proc.returncode, out


def test_the_team_quickstart_runs_as_written_on_a_fresh_copy(fake: FakeOpenAI, tmp_path: Path) -> None:
    """Install, `llmgw` on PATH, an upstream key in the OS keyring, serve, the first admin and their
    key, the openai SDK's call (to a fake OpenAI: the config file points `openai` at it), the alias
    example, the portal's login; in a private keyring session, as a fresh user."""
    if not shutil.which("gnome-keyring-daemon") or not shutil.which("dbus-run-session"):
        if os.environ.get("CI") == "true":
            pytest.fail("gnome-keyring and dbus are needed (scripts/install-system-deps)")
        pytest.skip("no gnome-keyring-daemon/dbus-run-session (scripts/install-system-deps)")
    clone = fresh_copy(tmp_path / "llmgw")
    home = tmp_path / "home"
    (home / ".config" / "llmgw").mkdir(parents=True)
    port = free_port()
    # The machine's side, not the README's: where OpenAI is (a fake on loopback) and a free port.
    (home / ".config" / "llmgw" / "llmgw.toml").write_text(
        f'[server]\nport = {port}\n\n[providers.openai]\nbase_url = "{fake.base_url}"\n\n' + alias_config(),
        encoding="utf-8",
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "quickstart.sh").write_text(quickstart_script(port, workdir), encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LLMGW_", "XDG_", "OPENAI_", "VIRTUAL_ENV"))
        and k not in ("DBUS_SESSION_BUS_ADDRESS", "PYTHONPATH")
    }
    env.update(
        HOME=str(home),
        GATEWAY=f"http://127.0.0.1:{port}",
        CLIENT_PYTHON=sys.executable,  # "any Python" with the openai SDK: the test's own
        WORKDIR=str(workdir),
        SERVE_LOG=str(workdir / "serve.log"),
        SERVE_PID=str(workdir / "serve.pid"),
        PASSWORD=PASSWORD,
        TERM="dumb",
    )
    # A private Secret Service for the whole session (the clone's own scripts/with-keyring).
    argv = [str(clone / "scripts" / "with-keyring"), "bash", str(workdir / "quickstart.sh")]
    before = len(fake.requests)  # the fake is the session's: earlier tests' requests are there too
    try:
        code, out = run_in_pty(argv, clone, env, timeout=600)
    finally:
        pid_file = workdir / "serve.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
    log = (workdir / "serve.log").read_text(encoding="utf-8") if (workdir / "serve.log").exists() else ""
    assert code == 0, f"{out}\n--- serve log ---\n{log}"
    # scripts/install shows progress on a fresh copy: a line per step and per package fetched
    assert "install: creating .venv" in out and re.search(r"^  httpx==", out, re.M), out
    # the openai SDK's answer (the fake's), the alias's stream, the portal
    models = [r.model for r in fake.requests[before:]]
    assert models == ["gpt-4o-mini", "gpt-4o-mini"], models  # the SDK's call, then the alias's
    assert "data: [DONE]" in out and "portal: logged in as admin" in out, out
    # serve's log: the portal's address, and with no user yet exactly the two commands run next
    assert f"web portal: http://127.0.0.1:{port}/ui/" in log
    assert "  llmgw user add admin --admin\n  llmgw key create admin\n" in log
