"""A client that leaves before its answer starts, against the real server: the upstream call is
cancelled at once and the row says the client closed the request (nginx's 499)."""

from __future__ import annotations

import socket
import sqlite3
import time
from typing import Any

import orjson
import pytest

from tests.conftest import PROXY_KEY
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

USER = [{"role": "user", "content": "What is the capital of France?"}]


def rows_for(gateway: GatewayProcess, model: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The ledger rows of requests for `model`, waiting for at least one to be written."""
    deadline = time.monotonic() + timeout
    while True:
        if gateway.db_path.exists():
            with sqlite3.connect(gateway.db_path) as conn:
                conn.row_factory = sqlite3.Row
                try:
                    found = conn.execute(
                        "SELECT * FROM requests WHERE model_requested = ?", (model,)
                    ).fetchall()
                except sqlite3.OperationalError:
                    found = []
            conn.close()
            if found:
                return [dict(r) for r in found]
        if time.monotonic() > deadline:
            raise AssertionError(f"no ledger row for {model}")
        time.sleep(0.05)


def leave_before_the_answer(gateway: GatewayProcess, fake: FakeOpenAI, body: dict[str, Any]) -> None:
    """Send the request on a raw socket, wait until the upstream has it, then hang up."""
    seen = len([r for r in fake.requests if r.model == body["model"].partition("/")[2]])
    payload = orjson.dumps(body)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n"
        f"Authorization: Bearer {PROXY_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head.encode() + payload)
        deadline = time.monotonic() + 10
        while len([r for r in fake.requests if r.model == body["model"].partition("/")[2]]) == seen:
            assert time.monotonic() < deadline, "the upstream never got the request"
            time.sleep(0.02)


@pytest.mark.parametrize(
    ("model", "stream"),
    [("up/stall-0", False), ("up/slow-30", True)],
    ids=["non_stream_answer", "stream_first_chunk"],
)
def test_client_leaving_before_the_answer_cancels_the_upstream_call(
    gateway: GatewayProcess, fake: FakeOpenAI, model: str, stream: bool
) -> None:
    before = len(fake.disconnects)
    tracebacks = gateway.log().count("Traceback")
    leave_before_the_answer(gateway, fake, {"model": model, "messages": USER, "stream": stream})
    (row,) = rows_for(gateway, model)  # promptly: not after the upstream's 30 s (or never)
    assert (row["status"], row["client_closed"], row["streamed"]) == (499, 1, int(stream))
    assert row["provider"] == "up" and row["attempts"] == 1
    gone = fake.wait_for_disconnects(before + 1, timeout=5.0)
    assert gone[before:][0][0] == model.partition("/")[2]  # the upstream saw its connection closed
    assert gateway.log().count("Traceback") == tracebacks
    assert f"POST /v1/chat/completions 499 model={model}" in gateway.log()
