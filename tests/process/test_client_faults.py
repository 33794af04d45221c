"""Client faults and hostile input, against a real `llmgw serve` where the HTTP layer matters (raw sockets:
bodies that stop arriving, too many headers, forged Host and Origin without auth) and in process for the
answers themselves (405 and 404 in the path's dialect, no redirect built from Host, the `model` string, the
access log). Nothing a client sends may forge an access-log line or reach the ledger unbounded."""

from __future__ import annotations

import io
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmgw.relay.record import Recorder
from llmgw.services import credentials
from llmgw.storage import UsageRow
from tests.conftest import PROXY_KEY, UPSTREAM_KEY, provider
from tests.inprocess.test_relay_inprocess import gateway, openai_chat, openai_error
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess, free_port

USER = [{"role": "user", "content": "What is the capital of France?"}]
AUTH = {"authorization": f"Bearer {PROXY_KEY}"}


@pytest.fixture(scope="module")
def gw(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway whose body deadline is 1 s, so a stalled body is answered within the test."""
    env = {
        "LLMGW_PROXY_KEY": PROXY_KEY,
        "LLMGW_UP_API_KEY": UPSTREAM_KEY,
        "LLMGW_BODY_TIMEOUT": "1",
        "DBUS_SESSION_BUS_ADDRESS": "",
    }
    with GatewayProcess(tmp_path_factory.mktemp("faults"), provider("up", fake.base_url), env) as g:
        yield g


# -- raw HTTP/1.1 ---------------------------------------------------------------------------------


def head(path: str, length: int, host: str = "127.0.0.1", extra: bytes = b"") -> bytes:
    return (
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {PROXY_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n"
        ).encode()
        + extra
        + b"\r\n"
    )


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one answer on `sock` (the request said Connection: close)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    return int(status_line.split()[1]), headers, body


def rows_where(db: Path, where: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Ledger rows matching `where`, waiting for the batched writer to flush at least one."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            found = [dict(r) for r in conn.execute(f"SELECT * FROM requests WHERE {where}")]
        conn.close()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def anthropic_err(r: httpx.Response, status: int, type_: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == type_, body
    message: str = body["error"]["message"]
    return message


def openai_err(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    message: str = err["message"]
    return message


# -- a body that stops arriving -------------------------------------------------------------------


def test_disconnect_mid_body_is_client_closed_not_a_500(gw: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.sendall(head("/v1/chat/completions", 1000) + b'{"model": "up/gpt-4o-mini", "mess')
    rows = rows_where(gw.db_path, "status = 499")
    assert len(rows) == 1, rows_where(gw.db_path, "1", timeout=0)
    row = rows[0]
    assert row["client_closed"] and row["error_type"] == "client_closed"
    log = gw.log()
    assert "Traceback" not in log and "failed unexpectedly" not in log and "ClientDisconnect" not in log
    lines = [ln for ln in log.splitlines() if row["request_id"] in ln]
    assert len(lines) == 1 and " 499 " in lines[0] and "client_closed" in lines[0]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_body_not_finished_in_body_timeout_gets_408(gw: GatewayProcess, path: str) -> None:
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.settimeout(15)  # the gateway's body_timeout is 1 s
        s.sendall(head(path, 1000) + b'{"model": "up/gpt-4o-mini", "mess')
        status, headers, body = read_answer(s)
    assert status == 408
    answer = orjson.loads(body)
    if path == "/v1/messages":
        assert answer["type"] == "error" and answer["error"]["type"] == "invalid_request_error"
    else:
        assert answer["error"]["code"] == "request_timeout"
    row = rows_where(gw.db_path, f"request_id = '{headers['x-request-id']}'")[0]
    assert row["status"] == 408 and row["error_type"] == "request_timeout"


# -- headers --------------------------------------------------------------------------------------


def test_too_many_headers_get_431(gw: GatewayProcess) -> None:
    many = {f"x-h{i}": "v" for i in range(150)}
    r = httpx.post(f"{gw.base_url}/v1/chat/completions", json={}, headers={**AUTH, **many})
    assert r.status_code == 431 and r.json()["error"]["code"] == "request_header_fields_too_large"
    r = httpx.post(f"{gw.base_url}/v1/messages", json={}, headers={**AUTH, **many})
    assert r.status_code == 431 and r.json()["type"] == "error"
    # 5,000 tiny headers: still under the HTTP layer's head limit, so llmgw itself must count them
    extra = b"".join(b"x-h%d: v\r\n" % i for i in range(5000))
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.sendall(head("/v1/chat/completions", 2, extra=extra) + b"{}")
        status, _, body = read_answer(s)
    assert status == 431 and b"request_header_fields_too_large" in body
    # under the limit: served
    fine = {f"x-h{i}": "v" for i in range(60)}
    body_ok = {"model": "up/gpt-4o-mini", "messages": USER}
    assert httpx.post(f"{gw.base_url}/v1/chat/completions", json=body_ok, headers={**AUTH, **fine}).is_success


def test_headers_over_the_total_size_get_431(gw: GatewayProcess) -> None:
    r = httpx.post(f"{gw.base_url}/v1/chat/completions", json={}, headers={**AUTH, "x-big": "a" * 40_000})
    assert r.status_code == 431 and "header" in r.json()["error"]["message"]
    # far past it the HTTP layer (h11) refuses the head itself, before llmgw sees a request: 431 too
    with socket.create_connection(("127.0.0.1", gw.port)) as s:
        s.sendall(head("/v1/chat/completions", 2, extra=b"x-big: " + b"a" * 300_000 + b"\r\n") + b"{}")
        status, _, _ = read_answer(s)
    assert status == 431


# -- methods and paths ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_405_says_allow_in_the_paths_dialect(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as gw_:
        c = gw_.client
        r = await c.get("/v1/messages")
        anthropic_err(r, 405, "invalid_request_error")
        assert r.headers["allow"] == "POST"
        r = await c.delete("/v1/messages/count_tokens")
        anthropic_err(r, 405, "invalid_request_error")
        assert r.headers["allow"] == "POST"
        r = await c.get("/v1/chat/completions")
        openai_err(r, 405, "method_not_allowed")
        assert r.headers["allow"] == "POST"
        r = await c.post("/v1/models", json={})
        openai_err(r, 405, "method_not_allowed")
        assert r.headers["allow"] == "GET, HEAD"


@pytest.mark.anyio
async def test_404_in_the_paths_dialect(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as gw_:
        anthropic_err(await gw_.client.get("/v1/messages/batches"), 404, "not_found_error")
        openai_err(await gw_.client.get("/v1/nothing"), 404, "unknown_url")


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/v1/chat/completions/", "/v1/messages/", "/healthz/", "/v1/models/x/"])
async def test_trailing_slash_never_reflects_host(tmp_path: Path, path: str) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as gw_:
        headers = {**AUTH, "host": "evil.example"}
        r = await gw_.client.post(path, json={"model": "oai/x", "messages": USER}, headers=headers)
        assert "location" not in r.headers and "evil.example" not in r.text
        assert r.status_code in (404, 405), r.text
        if path == "/v1/chat/completions/":
            message = openai_err(r, 404, "unknown_url")
            assert "/v1/chat/completions" in message  # the canonical path, named
        if path == "/v1/messages/":
            anthropic_err(r, 404, "not_found_error")


# -- the model string and the access log ----------------------------------------------------------


@pytest.mark.anyio
async def test_model_with_a_control_character_is_400_and_logs_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "oai/x\nreq_0000 POST /v1/chat/completions 200 model=forged"
    with caplog.at_level(logging.INFO, logger="llmgw.access"):
        async with gateway(tmp_path, lambda r: openai_chat()) as gw_:
            r = await gw_.chat(forged)
            r_del = await gw_.chat("oai/x\x7f")
            r_tab = await gw_.messages("claude\t")
    for resp in (r, r_del):
        err = resp.json()["error"]
        assert resp.status_code == 400 and err["param"] == "model", resp.text
    anthropic_err(r_tab, 400, "invalid_request_error")
    assert gw_.upstreams.sent == []
    records = [rec.getMessage() for rec in caplog.records if rec.name == "llmgw.access"]
    assert len(records) == 3
    assert all("\n" not in m and "\x7f" not in m and "\t" not in m for m in records)
    assert gw_.row(r)["status"] == 400


@pytest.mark.anyio
async def test_huge_model_is_400_and_never_stored(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as gw_:
        r = await gw_.chat("oai/" + "a" * 1_000_000)
        at_bound = await gw_.chat("nope" + "a" * 252)  # 256 characters: a model name, just unknown
        over = await gw_.chat("nope" + "a" * 253)
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    assert len(r.content) < 1000
    assert at_bound.status_code == 404 and over.status_code == 400
    for row in gw_.rows().values():
        assert len(row["model_requested"] or "") <= 256


@pytest.mark.anyio
async def test_access_log_escapes_what_it_did_not_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Printable but hostile model names, and an upstream's error code, cannot break a line or a field."""
    code = "bad\nreq_0000 POST /v1/chat/completions 200 model=forged"
    with caplog.at_level(logging.INFO, logger="llmgw.access"):
        async with gateway(tmp_path, lambda r: openai_error(400, "no", "invalid_request_error", code)) as g:
            a = await g.chat("smart x=1 provider=forged")
            b = await g.chat("nope\u2028req_0001 POST /v1/messages 200")
            c = await g.chat("oai/gpt-4o-mini")
    assert (a.status_code, b.status_code, c.status_code) == (404, 404, 400)
    lines = {rec.getMessage() for rec in caplog.records if rec.name == "llmgw.access"}
    assert len(lines) == 3
    for line in lines:
        assert line.splitlines() == [line] and line.isascii()
    assert any('model="smart x=1 provider=forged"' in line for line in lines)
    assert any(r'error="bad\nreq_0000' in line for line in lines)


def test_recorder_line_is_one_line_whatever_the_row_holds(caplog: pytest.LogCaptureFixture) -> None:
    class Ledger:
        def record(self, row: UsageRow) -> None:
            pass

    row = UsageRow(request_id="req_1", created_at=0.0, endpoint="/v1/chat/completions", attempts=1)
    row.status, row.model_requested, row.provider = 400, "m\r\nx", "p\x00"
    row.error_type = "e\x85\u2029"
    with caplog.at_level(logging.INFO, logger="llmgw.access"):
        Recorder(Ledger()).finish(row, time.perf_counter())  # type: ignore[arg-type]
    (message,) = [rec.getMessage() for rec in caplog.records]
    assert message.splitlines() == [message] and message.isascii() and "\x00" not in message


# -- --no-auth: Host and Origin -------------------------------------------------------------------


def test_no_auth_refuses_foreign_host_and_origin(fake: FakeOpenAI, tmp_path: Path) -> None:
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    body = orjson.dumps({"model": "up/gpt-4o-mini", "messages": USER})
    ant = orjson.dumps({"model": "up/gpt-4o-mini", "max_tokens": 16, "messages": USER})
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env, args=("--no-auth",)) as g:
        url = g.base_url
        plain = {"content-type": "text/plain"}  # what a web page may send without a preflight
        r = httpx.post(
            f"{url}/v1/chat/completions", content=body, headers={**plain, "origin": "https://evil.example"}
        )
        assert "Origin" in openai_err(r, 403, "forbidden")
        r = httpx.post(
            f"{url}/v1/chat/completions", content=body, headers={**plain, "host": f"evil.example:{g.port}"}
        )
        assert "Host" in openai_err(r, 403, "forbidden")
        r = httpx.post(f"{url}/v1/messages", content=ant, headers={"origin": "null"})
        anthropic_err(r, 403, "permission_error")
        for ok in (
            {},
            {"host": f"localhost:{g.port}"},
            {"host": f"[::1]:{g.port}"},
            {"host": "127.0.0.1"},
            {"origin": f"http://localhost:{g.port}"},
            {"origin": f"http://127.0.0.1:{g.port}"},
            {"origin": "http://[::1]:8080"},
        ):
            r = httpx.post(f"{url}/v1/chat/completions", content=body, headers=ok)
            assert r.status_code == 200, (ok, r.text)
        assert "refused" in g.log()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": "https://evil.example"}, 200),
        ({"host": "evil.example"}, 200),
    ],
)
async def test_with_auth_host_and_origin_change_nothing(
    tmp_path: Path, headers: dict[str, str], status: int
) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as g:
        assert (await g.chat("oai/gpt-4o-mini", headers=headers)).status_code == status


# -- the proxy key's alphabet ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["clé-secrète-123456", "with space inside", "tab\tinside-123", "ключ-1234567"]
)
def test_secret_set_refuses_a_proxy_key_outside_visible_ascii(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_keyring() -> Any:
        raise AssertionError("the keyring must not be touched")

    monkeypatch.setattr(credentials, "_keyring", no_keyring)
    from llmgw.cli.secret import cmd_secret_set

    assert cmd_secret_set("proxy-key", stdin=io.StringIO(value + "\n"), tty=False, out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "visible ASCII" in err and "nothing stored" in err and value not in err


@pytest.mark.keyring
@pytest.mark.skipif(
    os.environ.get("LLMGW_KEYRING_SESSION") != "1",
    reason="touches the shared 'proxy-key' entry: only in the throwaway keyring of scripts/with-keyring",
)
def test_secret_set_proxy_key_refused_in_a_real_keyring() -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
    r = subprocess.run(
        [sys.executable, "-m", "llmgw", "secret", "set", "proxy-key"],
        env=base,
        input="pässwort-1234567\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "visible ASCII" in r.stderr, r.stderr
    assert credentials.proxy_key({}) is None


def test_serve_refuses_a_proxy_key_outside_visible_ascii(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    base = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmgw",
            "serve",
            "--config",
            str(tmp_path / "empty.toml"),
            "--port",
            str(free_port()),
        ],
        env={**base, "DBUS_SESSION_BUS_ADDRESS": "", "LLMGW_PROXY_KEY": "clé-secrète-123456"},
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert r.returncode == 2, r.stderr
    assert "configuration error" in r.stderr and "LLMGW_PROXY_KEY" in r.stderr and "visible ASCII" in r.stderr
    assert "clé" not in r.stderr and "Traceback" not in r.stderr
