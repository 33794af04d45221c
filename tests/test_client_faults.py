"""Client faults and hostile input, against a real `llmgw serve` where the HTTP layer matters (raw sockets:
bodies that stop arriving, too many headers, forged Host and Origin without auth) and in process for the
answers themselves (405 and 404 in the path's dialect, no redirect built from Host, the `model` string, the
access log). Nothing a client sends may forge an access-log line or reach the ledger unbounded."""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmgw.relay.record import Recorder
from llmgw.storage import UsageRow
from tests.conftest import PROXY_KEY, UPSTREAM_KEY, provider
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway_process import GatewayProcess
from tests.test_relay_inprocess import gateway, openai_chat, openai_error

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
