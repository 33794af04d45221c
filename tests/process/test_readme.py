"""The README's two commands are the product's front door: keep them true."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.gateway_process import free_port

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
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
    assert (tmp_path / ".local" / "share" / "llmgw" / "llmgw.db").exists()
