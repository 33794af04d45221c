"""The command line as a user runs it: subprocesses, real files, real exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from llmgw import __version__
from tests.conftest import PROXY_KEY, UPSTREAM_KEY, ledger_row, provider
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess
from tests.support.required import unavailable

USER = [{"role": "user", "content": "Hello"}]


def llmgw(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
    return subprocess.run(
        [sys.executable, "-m", "llmgw", *args],
        env={**base, "DBUS_SESSION_BUS_ADDRESS": "", **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version() -> None:
    """The package version, then the checkout's git revision (a commit hash, never a tag name)."""
    import re

    r = llmgw("--version")
    assert r.returncode == 0, r.stderr
    pattern = rf"llmgw {re.escape(__version__)}(?: \(git ([0-9a-f]{{7,40}})(?:-dirty)?\))?"
    match = re.fullmatch(pattern, r.stdout.strip())
    assert match, r.stdout
    checkout = Path(__file__).resolve().parents[2]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True)
    if head.returncode == 0:  # a git checkout with git at hand: its revision must be the one shown
        assert match[1] and head.stdout.startswith(match[1]), (r.stdout, head.stdout)


def test_config_check_prints_effective_config_with_secrets_masked(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[server]\nport = 4555\n[providers.acme]\ntype = "openai-compatible"\n'
        'base_url = "http://127.0.0.1:9/v1"\n'
        'headers = { "X-Org" = "team-a", "X-Api-Key" = "hdr-secret-123" }\n'
        '[providers.openai]\ntype = "openai"\n[models]\nfast = "acme/m"\n'
    )
    r = llmgw(
        "config",
        "check",
        "--config",
        str(cfg),
        env={"LLMGW_ACME_API_KEY": "sk-acme-secret", "LLMGW_HOST": "::1"},
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "port = 4555" in out and 'host = "::1"' in out and "LLMGW_HOST" in out
    assert '"X-Org" = "team-a"' in out and "hdr-secret-123" not in out and '"X-Api-Key" = "****"' in out
    assert "# api keys: 1" in out and "sk-acme-secret" not in out
    assert "api keys: NONE (llmgw secret set openai, or LLMGW_OPENAI_API_KEY)" in out
    assert 'base_url (default) = "https://api.openai.com/v1"' in out
    assert '"fast" = { model = "acme/m" }' in out


@pytest.mark.parametrize("command", [("config", "check"), ("serve",)])
def test_bad_config_is_a_located_message_not_a_traceback(tmp_path: Path, command: tuple[str, ...]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[providers.x]\ntype = "azure"\n[models]\nfast = "y/z"\n')
    r = llmgw(*command, "--config", str(cfg), env={"LLMGW_PROXY_KEY": PROXY_KEY})
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{cfg}: [providers.x] type: unknown provider type 'azure'" in r.stderr


def test_legacy_mode_refuses_without_a_proxy_key(tmp_path: Path) -> None:
    r = llmgw("serve", "--config", str(tmp_path / "none.toml"))
    assert r.returncode == 2 and "config file not found" in r.stderr
    (tmp_path / "empty.toml").write_text("")
    r = llmgw("serve", "--config", str(tmp_path / "empty.toml"), env={"LLMGW_AUTH_MODE": "legacy"})
    assert r.returncode == 2
    assert "no proxy key configured" in r.stderr and "llmgw secret set proxy-key" in r.stderr
    assert "LLMGW_PROXY_KEY" in r.stderr and "--no-auth" in r.stderr


def first_start_commands(log: str) -> list[list[str]]:
    """The commands a first start's log says to run: its indented `llmgw …` lines."""
    return [shlex.split(line) for line in log.splitlines() if line.startswith("  llmgw ")]


def test_default_mode_first_start_says_the_two_commands_that_let_a_client_in(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    """No user, no proxy key, no auth_mode set: serve starts and logs exactly two commands; run as
    printed (the password typed once, as at the prompt), their key calls the still running gateway."""
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env) as gw:
        refused = httpx.post(f"{gw.base_url}/v1/chat/completions", json={"model": "up/m", "messages": USER})
        assert refused.status_code == 401
        log = gw.log()
        commands = first_start_commands(log)
        assert commands == [["llmgw", "user", "add", "admin", "--admin"], ["llmgw", "key", "create", "admin"]]
        cfg = ("--config", str(gw.config_path))
        add = llmgw(*commands[0][1:], "--password-stdin", *cfg, stdin="a long enough password\n")
        assert add.returncode == 0, add.stderr
        created = llmgw(*commands[1][1:], *cfg)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        for _ in range(50):  # the key index reloads within about 0.25 s of the CLI's commit
            r = httpx.post(
                f"{gw.base_url}/v1/chat/completions",
                json={"model": "up/m", "messages": USER},
                headers={"authorization": f"Bearer {token}"},
            )
            if r.status_code != 401:
                break
            time.sleep(0.1)
        assert r.status_code == 200, r.text
        login = httpx.get(f"{gw.base_url}/ui/login")  # the portal the log names
        assert login.status_code == 200 and "password" in login.text
    assert "auth both" in log and "no users and no proxy key yet" in log
    assert f"web portal: http://127.0.0.1:{gw.port}/ui/" in log


def test_default_mode_takes_the_proxy_key_and_personal_keys(fake: FakeOpenAI, tmp_path: Path) -> None:
    """An upgrade from the old default (`legacy`): the proxy key keeps working, no first-start hint."""
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env) as gw:
        ok = httpx.post(
            f"{gw.base_url}/v1/chat/completions",
            json={"model": "up/m", "messages": USER},
            headers={"authorization": f"Bearer {PROXY_KEY}"},
        )
        assert ok.status_code == 200, ok.text
        wrong = httpx.post(
            f"{gw.base_url}/v1/chat/completions",
            json={"model": "up/m", "messages": USER},
            headers={"authorization": "Bearer not-the-proxy-key"},
        )
        assert wrong.status_code == 401
        log = gw.log()
    assert "auth both" in log and "the proxy key, no personal API keys yet" in log
    assert first_start_commands(log) == [] and "WARNING llmgw auth_mode" not in log


def test_users_auth_mode_serves_without_a_proxy_key(fake: FakeOpenAI, tmp_path: Path) -> None:
    # No user and no key yet: it starts, says how to make one, and refuses every client meanwhile.
    env = {"LLMGW_AUTH_MODE": "users", "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env) as gw:
        for headers in ({}, {"x-api-key": PROXY_KEY}, {"authorization": "Bearer llmgw-0123"}):
            r = httpx.post(
                f"{gw.base_url}/v1/chat/completions",
                json={"model": "up/m", "messages": USER},
                headers=headers,
            )
            assert r.status_code == 401
        log = gw.log()
    assert "auth users" in log
    assert len(first_start_commands(log)) == 2


def test_a_user_without_keys_is_told_to_create_one(fake: FakeOpenAI, tmp_path: Path) -> None:
    cfg = tmp_path / "llmgw.toml"
    cfg.write_text(f'[server]\ndatabase = "{tmp_path / "llmgw.db"}"\n', encoding="utf-8")
    add = llmgw(
        "user", "add", "ada", "--password-stdin", "--config", str(cfg), stdin="a long enough password\n"
    )
    assert add.returncode == 0, add.stderr
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env) as gw:
        log = gw.log()
    assert "no personal API keys yet" in log and "`llmgw key create NAME`" in log
    assert first_start_commands(log) == []  # `user add admin` would be wrong: a user exists


def test_no_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    r = llmgw("serve", "--config", str(tmp_path / "empty.toml"), "--no-auth", "--host", "0.0.0.0")
    assert r.returncode == 2 and "refusing --no-auth on 0.0.0.0" in r.stderr


@pytest.mark.parametrize("mode", ["legacy", "users"])
def test_no_auth_on_loopback_serves_without_a_key(fake: FakeOpenAI, tmp_path: Path, mode: str) -> None:
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": "", "LLMGW_AUTH_MODE": mode}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env, args=("--no-auth",)) as gw:
        r = httpx.post(f"{gw.base_url}/v1/chat/completions", json={"model": "up/m", "messages": USER})
        assert r.status_code == 200
        assert "auth OFF" in gw.log()


def test_sigterm_lets_streams_finish_and_flushes_every_row(fake: FakeOpenAI, tmp_path: Path) -> None:
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    gw = GatewayProcess(tmp_path, "shutdown_grace = 20\n" + provider("up", fake.base_url), env).start()
    headers = {"authorization": f"Bearer {PROXY_KEY}"}
    ids = []
    with httpx.Client(base_url=gw.base_url, headers=headers, timeout=30) as c:
        for _ in range(40):
            r = c.post("/v1/chat/completions", json={"model": "up/m", "messages": USER})
            ids.append(r.headers["x-request-id"])
        received: list[str] = []
        with c.stream(
            "POST", "/v1/chat/completions", json={"model": "up/drip-5", "messages": USER, "stream": True}
        ) as s:
            stream_id = s.headers["x-request-id"]
            lines = s.iter_lines()
            received.append(next(lines))
            # SIGTERM while the stream is in flight: it must still complete (200 chunks, ~1 s)
            threading.Timer(0.1, gw.proc.send_signal, (signal.SIGTERM,)).start()  # type: ignore[union-attr]
            received.extend(lines)
    assert received[-2:] == ["data: [DONE]", ""] or received[-1] == "data: [DONE]"
    assert gw.stop() == 0
    for rid in [*ids, stream_id]:
        row = ledger_row(gw.db_path, rid, timeout=0.1)  # already on disk: no waiting
        assert row["status"] == 200
    assert ledger_row(gw.db_path, stream_id, timeout=0.1)["completion_tokens"] >= 200
    assert "llmgw stopped" in gw.log()


def test_disconnected_streams_are_recorded_at_once(fake: FakeOpenAI, tmp_path: Path) -> None:
    """A client that leaves mid-stream gets its row now, not at garbage collection or shutdown."""
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    gw = GatewayProcess(tmp_path, provider("up", fake.base_url), env).start()
    ids = []
    body = {"model": "up/drip-20", "messages": USER, "stream": True}
    with contextlib.ExitStack() as open_streams:
        for _ in range(10):
            c = open_streams.enter_context(
                httpx.Client(base_url=gw.base_url, headers={"authorization": f"Bearer {PROXY_KEY}"})
            )
            s = open_streams.enter_context(c.stream("POST", "/v1/chat/completions", json=body))
            ids.append(s.headers["x-request-id"])
            next(s.iter_lines())
    # every client has gone; stop at once: each row must already be on its way to the ledger
    assert gw.stop() == 0
    assert "dropped" not in gw.log()
    for rid in ids:
        row = ledger_row(gw.db_path, rid, timeout=0)  # the gateway has exited: no row now, none ever
        assert (row["status"], row["streamed"], row["client_closed"]) == (200, 1, 1), rid


def test_usage_summary(fake: FakeOpenAI, tmp_path: Path) -> None:
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env) as gw:
        headers = {"authorization": f"Bearer {PROXY_KEY}"}
        for model in ("up/a", "up/a", "up/b", "nope/x"):
            httpx.post(
                f"{gw.base_url}/v1/chat/completions", json={"model": model, "messages": USER}, headers=headers
            )
        for _ in range(3):  # counted apart, not as requests
            httpx.post(f"{gw.base_url}/v1/chat/completions", json={"model": "up/a", "messages": USER})
    r = llmgw("usage", "--json", "--config", str(gw.config_path))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["requests"] == 4 and data["errors"] == 1
    assert data["auth_failures"] == 3
    assert data["total_tokens"] == data["prompt_tokens"] + data["completion_tokens"] > 0
    # one row per model: its provider and the provider's name of it; an unknown model as requested
    by_model = {(m["provider"], m["model"]): m for m in data["by_model"]}
    assert set(by_model) == {("up", "a"), ("up", "b"), (None, "nope/x")}
    assert by_model["up", "a"]["requests"] == 2
    nope = by_model[None, "nope/x"]
    assert (nope["errors"], nope["errors_policy"], nope["total_tokens"]) == (1, 1, 0)
    assert nope["error_codes"] == [{"kind": "policy", "code": "model_not_found", "count": 1}]
    assert (data["errors_upstream"], data["errors_policy"], data["errors_client"]) == (0, 1, 0)
    for m in data["by_model"]:
        assert {"requests", "errors", "prompt_tokens", "completion_tokens", "total_tokens"} <= set(m)
    # `up` is openai-compatible with no configured price: its 3 answered requests are unpriced, not free
    assert (data["cost_usd"], data["unpriced_requests"]) == (0.0, 3)
    assert not by_model["up", "a"]["priced"] and nope["priced"]  # nope/x used no tokens
    assert data["by_source"]["provider"]["total_tokens"] == data["total_tokens"]
    assert data["by_source"]["none"]["requests"] == 1
    table = llmgw("usage", "--since", "1h", "--config", str(gw.config_path))
    assert table.returncode == 0
    assert any(line.split()[:3] == ["up", "a", "2"] for line in table.stdout.splitlines())
    assert "policy refusals: 1 (25.0% of requests): model_not_found 1" in table.stdout
    assert "? no price for up/a (2), up/b (1) requests" in table.stdout
    bad = llmgw("usage", "--since", "yesterday-ish", "--config", str(gw.config_path))
    assert bad.returncode == 2 and "--since" in bad.stderr


@pytest.mark.keyring
def test_provider_key_from_the_real_keyring(fake: FakeOpenAI, tmp_path: Path) -> None:
    """`llmgw secret set` into the Secret Service, then `serve` uses it (no env key at all)."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        unavailable("LLMGW_REQUIRE_KEYRING", "no D-Bus session (run under scripts/with-keyring)")
    name = f"kr-{uuid.uuid4().hex[:8]}"
    keyring_env = {"DBUS_SESSION_BUS_ADDRESS": os.environ["DBUS_SESSION_BUS_ADDRESS"]}
    # The change is audited in the configured database: a throwaway one, not the user's.
    (tmp_path / "audit.toml").write_text(f'[server]\ndatabase = "{tmp_path / "audit.db"}"\n')
    audit_env = {**keyring_env, "LLMGW_CONFIG": str(tmp_path / "audit.toml")}
    r = llmgw("secret", "set", name, stdin=UPSTREAM_KEY + "\n", env=audit_env)
    assert r.returncode == 0, r.stderr
    assert "audit" not in r.stderr, r.stderr
    try:
        listed = llmgw("secret", "list", env=keyring_env)
        assert name in listed.stdout and UPSTREAM_KEY not in listed.stdout
        env = {"LLMGW_PROXY_KEY": PROXY_KEY, **keyring_env}
        with GatewayProcess(tmp_path, provider(name, fake.base_url), env) as gw:
            fake.clear()
            r2 = httpx.post(
                f"{gw.base_url}/v1/chat/completions",
                json={"model": f"{name}/m", "messages": USER},
                headers={"authorization": f"Bearer {PROXY_KEY}"},
            )
            assert r2.status_code == 200, r2.text
            assert [q.api_key for q in fake.requests] == [UPSTREAM_KEY]
            assert UPSTREAM_KEY not in gw.log()
    finally:
        assert llmgw("secret", "delete", name, env=audit_env).returncode == 0
    audited = llmgw("audit", "--json", env=audit_env)
    assert [(e["action"], e["target"]) for e in json.loads(audited.stdout)] == [
        ("provider_secret.set", name),
        ("provider_secret.deleted", name),
    ]
    assert UPSTREAM_KEY not in audited.stdout
