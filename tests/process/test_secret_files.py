"""`LLMGW_*_FILE` through a real `llmgw serve`: the provider key and the proxy key read from files (as
systemd's `LoadCredential=` or a Docker/Kubernetes secret gives them), the key the fake upstream on
loopback received checked, neither secret in the log; a file that cannot be read stops the start with
exit code 2 naming the variable and the path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

UPSTREAM_KEY = "sk-upstream-from-a-credential-file-0123"
PROXY_KEY = "llmgw-proxy-key-from-a-file-0123456789"


def test_the_provider_key_comes_from_a_file(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "up-api-key").write_text(UPSTREAM_KEY + "\n", encoding="utf-8")
    (creds / "proxy-key").write_text(PROXY_KEY + "\r\n", encoding="utf-8")
    with FakeOpenAI(accepted_keys=(UPSTREAM_KEY,)) as fake:
        config = f'\n[providers.up]\ntype = "openai-compatible"\nbase_url = "{fake.base_url}"\n'
        env = {
            "LLMGW_UP_API_KEY_FILE": str(creds / "up-api-key"),
            "LLMGW_PROXY_KEY_FILE": str(creds / "proxy-key"),
            "DBUS_SESSION_BUS_ADDRESS": "",  # no keyring: the environment's (and files') secrets
        }
        with GatewayProcess(tmp_path, config, env) as gw:
            answer = httpx.post(
                f"{gw.base_url}/v1/chat/completions",
                headers={"Authorization": f"Bearer {PROXY_KEY}"},
                json={"model": "up/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                timeout=20,
            )
        received = [r.api_key for r in fake.requests if r.path.endswith("/chat/completions")]
    assert answer.status_code == 200, answer.text  # the proxy key's file ended in \r\n: both stripped
    assert answer.json()["choices"][0]["message"]["content"]
    assert received == [UPSTREAM_KEY]  # one trailing line break stripped, nothing else
    log = gw.log()
    assert "provider up (openai-compatible): 1 key from LLMGW_UP_API_KEY_FILE" in log
    assert UPSTREAM_KEY not in log and PROXY_KEY not in log


def test_an_unreadable_file_stops_serve_with_exit_code_2(tmp_path: Path) -> None:
    missing = tmp_path / "credentials" / "openai-api-key"
    env = {"LLMGW_OPENAI_API_KEY_FILE": str(missing), "DBUS_SESSION_BUS_ADDRESS": ""}
    gw = GatewayProcess(tmp_path, "", env)  # writes the config; started by hand to see it fail
    done = subprocess.run(
        [sys.executable, "-m", "llmgw", "serve", "--config", str(gw.config_path)],
        env=gw.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "llmgw: configuration error:\n"
        f"LLMGW_OPENAI_API_KEY_FILE={missing}: cannot read the file: No such file or directory\n"
    )
