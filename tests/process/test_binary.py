"""The built executable as a user runs it: `LLMGW_BINARY=dist/llmgw pytest tests/process/test_binary.py`.

Build it first with `scripts/build`. Without LLMGW_BINARY every test here is skipped, unless
LLMGW_REQUIRE_BINARY=1 (CI), which turns that into a failure. On Linux, run under `scripts/with-keyring`:
the provider secret is then stored in a real Secret Service by the binary's own `llmgw secret set`, which
proves the frozen keyring finds its backend (keyring discovers backends through entry points, which
PyInstaller only carries when told). Everywhere, a second gateway reads its secret from the environment.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import httpx
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from llmgw import __version__
from tests.conftest import PROXY_KEY, ledger_row, provider
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess
from tests.support.postgres import PgServer
from tests.support.required import unavailable

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = ROOT / "packaging" / "sample-config.toml"
LINUX = sys.platform.startswith("linux")
WINDOWS = sys.platform == "win32"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello"}]


def _binary() -> Path:
    """The executable under test, from LLMGW_BINARY: skip without it, or fail if CI requires it."""
    value = os.environ.get("LLMGW_BINARY")
    if not value:
        unavailable(
            "LLMGW_REQUIRE_BINARY",
            "LLMGW_BINARY is not set: build with scripts/build, then LLMGW_BINARY=dist/llmgw",
        )
    path = Path(value).resolve()
    if not path.is_file():
        pytest.fail(f"LLMGW_BINARY={value}: no such file (build: scripts/build)")
    return path


def _secret_service_bus() -> str:
    """The D-Bus address of a real Secret Service (Linux, under scripts/with-keyring)."""
    if not LINUX:
        pytest.skip("the Secret Service is Linux's keyring; the environment-secret gateway covers serve here")
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if not address:
        unavailable("LLMGW_REQUIRE_BINARY", "no D-Bus session (run under scripts/with-keyring)")
    return address


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMGW_", "OPENAI_"))}
    return {**env, **extra}


def run(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_binary()), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",  # Windows writes its code page to a pipe
        timeout=60,
    )


def env_var(provider_name: str) -> str:
    return "LLMGW_" + re.sub(r"[^A-Z0-9]", "_", provider_name.upper()) + "_API_KEY"


def gateway(binary: Path, tmp: Path, config_toml: str, env: dict[str, str]) -> GatewayProcess:
    gw = GatewayProcess(tmp, config_toml, env, command=(str(binary),))
    if WINDOWS:  # TOML reads backslashes in a "string" as escapes (C:\Users starts with \U): use C:/Users
        text = gw.config_path.read_text(encoding="utf-8")
        gw.config_path.write_text(text.replace(str(gw.db_path), gw.db_path.as_posix()), encoding="utf-8")
    return gw


@contextmanager
def keyring_secret(name: str, value: str, env: dict[str, str]) -> Iterator[None]:
    """`llmgw secret set NAME` (value on stdin) with the binary; deleted again afterwards."""
    stored = run("secret", "set", name, env=env, stdin=value + "\n")
    assert stored.returncode == 0, stored.stderr
    try:
        yield
    finally:
        assert run("secret", "delete", name, env=env).returncode == 0


def test_version_names_the_package_version_and_the_build_revision() -> None:
    r = run("--version", env=_env())
    assert r.returncode == 0, r.stderr
    match = re.fullmatch(
        rf"llmgw {re.escape(__version__)} \(git ([0-9a-f]{{7,40}})(-dirty)?\)", r.stdout.strip()
    )
    assert match, f"no build revision in {r.stdout!r}"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:  # built from this checkout, as scripts/build does
        assert head.stdout.startswith(match[1]), (r.stdout, head.stdout)


def test_config_check_on_the_sample_config() -> None:
    env = _env(LLMGW_OPENAI_API_KEY="sk-sample-0123456789abcdef", DBUS_SESSION_BUS_ADDRESS="")
    r = run("config", "check", "--config", str(SAMPLE_CONFIG), env=env)
    assert r.returncode == 0, r.stderr
    assert f"# source: {SAMPLE_CONFIG}" in r.stdout and "configuration OK" in r.stderr
    assert "[providers.groq]" in r.stdout and '"fast" = { model = "groq/llama-3.1-8b-instant" }' in r.stdout
    assert "# api keys: 1" in r.stdout and "sk-sample-0123456789abcdef" not in r.stdout


def test_a_bad_config_is_a_located_message_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[providers.x]\ntype = "azure"\n', encoding="utf-8")
    r = run("config", "check", "--config", str(bad), env=_env(DBUS_SESSION_BUS_ADDRESS=""))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{bad}: [providers.x] type: unknown provider type 'azure'" in r.stderr


def test_the_os_keyring_backend_is_found() -> None:
    """`secret list` reads the OS keyring: exit 2 ("no usable backend") if discovery failed when frozen."""
    _binary()
    env = _env(DBUS_SESSION_BUS_ADDRESS=_secret_service_bus()) if LINUX else _env()
    r = run("secret", "list", env=env)
    assert r.returncode == 0, r.stderr
    assert "no OS keyring backend" not in r.stderr


@pytest.mark.parametrize("secret_from", ["keyring", "env"])
def test_serve_chat_with_the_openai_sdk_then_sigterm_flushes_the_ledger(
    secret_from: str, tmp_path: Path
) -> None:
    binary = _binary()
    name = f"bin-{uuid.uuid4().hex[:8]}"
    upstream_key = f"sk-binary-{uuid.uuid4().hex}"
    secret: AbstractContextManager[None]
    if secret_from == "keyring":
        env = _env(DBUS_SESSION_BUS_ADDRESS=_secret_service_bus(), LLMGW_PROXY_KEY=PROXY_KEY)
        secret = keyring_secret(name, upstream_key, env)
    else:  # the LLMGW_* fallback; on Linux with no D-Bus, so the keyring cannot answer instead
        env = _env(LLMGW_PROXY_KEY=PROXY_KEY, **{env_var(name): upstream_key})
        if LINUX:
            env["DBUS_SESSION_BUS_ADDRESS"] = ""
        secret = nullcontext()
    model = f"{name}/gpt-4o-mini"
    with secret, FakeOpenAI(accepted_keys=(upstream_key,)) as fake:
        gw = gateway(binary, tmp_path, provider(name, fake.base_url), env).start()
        try:
            client = OpenAI(base_url=f"{gw.base_url}/v1", api_key=PROXY_KEY, max_retries=0, timeout=30)
            raw = client.chat.completions.with_raw_response.create(model=model, messages=USER)
            plain_id = raw.headers["x-request-id"]
            assert raw.parse().choices[0].message.content
            with client.chat.completions.with_streaming_response.create(
                model=model, messages=USER, stream=True
            ) as streamed:
                stream_id = streamed.headers["x-request-id"]
                chunks = list(streamed.parse())
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert [q.api_key for q in fake.requests] == [upstream_key, upstream_key]
            if WINDOWS:  # no SIGTERM there (stop() terminates the process): the rows must be written anyway
                for request_id in (plain_id, stream_id):
                    ledger_row(gw.db_path, request_id)
        finally:
            code = gw.stop()
    log = gw.log()
    assert upstream_key not in log and "Traceback" not in log, log
    if not WINDOWS:
        assert code == 0, log
        assert "llmgw stopped" in log
    for request_id, streamed_row in ((plain_id, 0), (stream_id, 1)):
        row = ledger_row(gw.db_path, request_id, timeout=0.1)  # on disk already: flushed on SIGTERM
        assert row["status"] == 200 and row["provider"] == name and row["streamed"] == streamed_row
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0


def test_anthropic_messages_and_offline_count_tokens_in_the_binary(tmp_path: Path) -> None:
    """The frozen binary carries the translators and the tokenizer data (no download at run time)."""
    binary = _binary()
    env = _env(LLMGW_PROXY_KEY=PROXY_KEY, **{env_var("oaibin"): "sk-upstream-1"})
    if LINUX:
        env["DBUS_SESSION_BUS_ADDRESS"] = ""
    with FakeOpenAI(accepted_keys=("sk-upstream-1",)) as fake:
        gw = gateway(binary, tmp_path, provider("oaibin", fake.base_url), env).start()
        try:
            headers = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01"}
            body = {"model": "oaibin/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello, world!"}]}
            counted = httpx.post(
                f"{gw.base_url}/v1/messages/count_tokens", json=body, headers=headers, timeout=30
            )
            assert counted.status_code == 200, counted.text
            assert counted.json()["input_tokens"] > 4
            answer = httpx.post(
                f"{gw.base_url}/v1/messages", json={**body, "max_tokens": 50}, headers=headers, timeout=30
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["type"] == "message" and answer.json()["content"][0]["text"]
        finally:
            gw.stop()


@pytest.mark.needs_debian_tools(reason="a PostgreSQL server from Debian's postgresql package")
def test_the_binary_carries_postgresql_a_user_made_there_is_listed(pg_server: PgServer) -> None:
    """psycopg and its bundled libpq are in the executable: the CLI migrates a PostgreSQL database and
    writes to it, by `LLMGW_DATABASE_URL`."""
    url = pg_server.create_database()
    env = _env(DBUS_SESSION_BUS_ADDRESS="", LLMGW_DATABASE_URL=url)
    made = run("user", "add", "ada", "--password-stdin", env=env, stdin="correct horse battery")
    assert made.returncode == 0, made.stderr
    listed = run("user", "list", env=env)
    assert listed.returncode == 0 and "ada" in listed.stdout, listed.stderr
    checked = run("db", "check", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_portal_is_in_the_binary_and_a_user_logs_in(tmp_path: Path) -> None:
    """Templates and stylesheet bundled; a user made by the binary's own CLI logs in and mints a key."""
    binary = _binary()
    env = _env(DBUS_SESSION_BUS_ADDRESS="")
    password = "correct horse battery"
    gw = gateway(binary, tmp_path, 'auth_mode = "users"\n', env)
    database = gw.db_path.as_posix() if WINDOWS else str(gw.db_path)
    cli_config = tmp_path / "cli.toml"
    cli_config.write_text(f'[server]\ndatabase = "{database}"\n', encoding="utf-8")
    made = run("user", "add", "ada", "--password-stdin", "--config", str(cli_config), env=env, stdin=password)
    assert made.returncode == 0, made.stderr
    with gw, httpx.Client(base_url=gw.base_url, headers={"origin": gw.base_url}) as client:
        assert "portal.css" in client.get("/ui/login").text
        css = client.get("/ui/static/portal.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        login = client.post("/ui/login", data={"username": "ada", "password": password})
        assert login.status_code == 303 and login.headers["location"] == "/ui/keys", login.text
        keys = client.get("/ui/keys")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', keys.text)
        assert csrf is not None
        created = client.post("/ui/keys", data={"csrf_token": csrf[1], "name": "binary"})
        token = re.search(r'data-token="(llmgw-[^"]+)"', created.text)
        assert created.status_code == 200 and token is not None
        chat = client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {token[1]}"},
            json={"model": "nowhere/m", "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert chat.status_code == 404  # authenticated (a wrong key would be 401); no such provider


def _tmux() -> str:
    """tmux, for a real pseudo-terminal of fixed size (scripts/install-system-deps installs it)."""
    if WINDOWS:
        pytest.skip("tmux is not on Windows; the TUI's Pilot tests cover the app there")
    found = shutil.which("tmux")
    if found is None:
        unavailable("LLMGW_REQUIRE_BINARY", "tmux is missing (scripts/install-system-deps installs it)")
    return found


def test_the_tui_shows_its_dashboard_in_a_real_terminal_and_quits(tmp_path: Path) -> None:
    """`llmgw tui` in a detached 80x24 tmux session: the frozen Textual app draws the dashboard on
    the database an admin was made in, and ctrl+q ends it with exit code 0."""
    binary, tmux = _binary(), _tmux()
    env = _env(DBUS_SESSION_BUS_ADDRESS="", TERM="xterm-256color")
    config = tmp_path / "llmgw.toml"
    config.write_text(f'[server]\ndatabase = "{tmp_path / "llmgw.db"}"\n', encoding="utf-8")
    made = run(
        "user",
        "add",
        "root",
        "--admin",
        "--password-stdin",
        "--config",
        str(config),
        env=env,
        stdin="correct horse battery",
    )
    assert made.returncode == 0, made.stderr
    server = ["-L", f"llmgw-test-{uuid.uuid4().hex[:8]}"]  # a tmux server of its own
    command = f"{shlex.quote(str(binary))} tui --config {shlex.quote(str(config))}; echo exited $?; sleep 60"

    def pane() -> str:
        return subprocess.run(
            [tmux, *server, "capture-pane", "-p", "-t", "tui"], capture_output=True, text=True, env=env
        ).stdout

    def wait_for(text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (screen := pane()):
                return screen
            time.sleep(0.2)
        pytest.fail(f"{text!r} never showed; the terminal:\n{pane()}")

    subprocess.run(
        [tmux, *server, "new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", command],
        check=True,
        env=env,
    )
    try:
        screen = wait_for("Today (UTC)", 60)  # the one-file binary unpacks itself first
        assert "llmgw admin" in screen and "Dashboard" in screen and "Newest requests" in screen
        assert "No administrator yet" not in screen
        subprocess.run([tmux, *server, "send-keys", "-t", "tui", "C-q"], check=True, env=env)
        wait_for("exited 0", 20)
    finally:
        subprocess.run([tmux, *server, "kill-server"], capture_output=True, env=env)
