"""Error kinds: every gateway error says whose fault it was (client, policy, upstream), the ledger row
carries it, and rows from before m012 get the same answer from their status and code."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlite_utils

from llmgw import errors
from llmgw.errors import (
    BudgetExceeded,
    ClientClosed,
    ErrorKind,
    Forbidden,
    GatewayError,
    InternalError,
    InvalidRequest,
    LimitExceeded,
    ModelNotAllowed,
    ModelNotFound,
    ModelNotPriced,
    NoUsableKey,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
    kind_of,
)
from llmgw.relay.endpoints import ENDPOINTS
from llmgw.relay.exchange import Exchange
from llmgw.storage import Store, UsageRow
from llmgw.storage.migrations import migrations
from llmgw.storage.spool import Spool

CHAT = next(e for e in ENDPOINTS if e.path == "/v1/chat/completions")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (InvalidRequest("bad"), "client"),
        (PayloadTooLarge("big"), "client"),
        (RequestTimeout("slow"), "client"),
        (ClientClosed("gone"), "client"),
        (Forbidden("host"), "policy"),
        (ModelNotFound("no"), "policy"),
        (LimitExceeded("rpm"), "policy"),
        (BudgetExceeded("day"), "policy"),
        (ModelNotPriced("no price"), "policy"),
        (ModelNotAllowed("not for this key"), "policy"),
        (RateLimited("every key cooling"), "upstream"),  # the upstream's rate, not ours
        (NoUsableKey("none"), "upstream"),
        (UpstreamUnavailable("reset"), "upstream"),
        (UpstreamTimeout("slow"), "upstream"),
        (InternalError("bug"), "upstream"),
    ],
)
def test_each_gateway_error_has_its_kind(exc: GatewayError, kind: ErrorKind) -> None:
    assert exc.kind == kind
    assert kind_of(exc.status, exc.code) == kind  # the same answer from the row's status and code


def upstream(status: int, type_: str = "x") -> UpstreamStatusError:
    return UpstreamStatusError(UpstreamError("openai", status, "m", type_))


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "client"), (404, "client"), (413, "client"), (422, "client"), (401, "upstream"),
     (403, "upstream"), (429, "upstream"), (500, "upstream"), (503, "upstream"), (529, "upstream")],
)  # fmt: skip
def test_an_upstream_answer_is_the_clients_fault_only_for_a_4xx_about_the_request(
    status: int, kind: ErrorKind
) -> None:
    assert upstream(status).kind == kind
    assert kind_of(status, "whatever_the_upstream_said") == kind


def test_no_error_has_no_kind_and_a_failed_stream_is_the_upstreams() -> None:
    assert kind_of(200, None) is None
    assert kind_of(200, "overloaded_error") == "upstream"  # an in-stream error after a 200


def every_gateway_error() -> list[type[GatewayError]]:
    found, todo = [], [GatewayError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_says_its_kind() -> None:
    assert all(cls.kind in ("client", "policy", "upstream") for cls in every_gateway_error())
    assert errors.GatewayError.kind == "upstream"  # the server side failed unless a class says so


class Recorder:
    def __init__(self) -> None:
        self.rows: list[UsageRow] = []

    def finish(self, row: UsageRow, started: float, context: object = None) -> None:
        self.rows.append(row)


def test_the_exchange_records_the_kind_of_what_ended_it() -> None:
    rec = Recorder()
    gw: Any = SimpleNamespace(recorder=rec)
    Exchange(gw, CHAT).fail(BudgetExceeded("over"))
    Exchange(gw, CHAT).fail(upstream(400))
    Exchange(gw, CHAT).client_left()
    ok = Exchange(gw, CHAT)
    ok.row.status = 200
    ok.done()
    passed_on = Exchange(gw, CHAT)  # an upstream's in-stream error, no exception of ours
    passed_on.row.status, passed_on.row.error_type = 200, "overloaded_error"
    passed_on.done()
    assert [r.error_kind for r in rec.rows] == ["policy", "client", "client", None, "upstream"]


def test_m012_gives_the_rows_before_it_their_kind(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn:
        migrations.apply(sqlite_utils.Database(conn), stop_before="m012_error_kind")
        rows = [
            ("req_ok", 200, None),
            ("req_budget", 429, "budget_exceeded"),
            ("req_rpm", 429, "gateway_rate_limit_exceeded"),
            ("req_up429", 429, "rate_limit_exceeded"),
            ("req_bad", 400, "invalid_request_error"),
            ("req_gone", 499, "client_closed"),
            ("req_5xx", 502, "upstream_unavailable"),
            ("req_cut", 200, "overloaded_error"),
            ("req_404", 404, "model_not_found"),
        ]
        conn.executemany(
            "INSERT INTO requests (request_id, created_at, endpoint, status, error_type, streamed,"
            " client_closed) VALUES (?, 1.0, '/v1/chat/completions', ?, ?, 0, 0)",
            rows,
        )
        conn.commit()
    with Store.open(path):
        pass
    with closing(sqlite3.connect(path)) as conn:
        got = dict(conn.execute("SELECT request_id, error_kind FROM requests").fetchall())
    assert got == {
        "req_ok": None, "req_budget": "policy", "req_rpm": "policy", "req_up429": "upstream",
        "req_bad": "client", "req_gone": "client", "req_5xx": "upstream", "req_cut": "upstream",
        "req_404": "policy",
    }  # fmt: skip


def test_a_row_spooled_before_m012_gets_its_kind_on_replay(tmp_path: Path) -> None:
    old = b'{"request_id": "req_1", "created_at": 1.0, "endpoint": "/v1/messages", "status": 429,'
    old += b' "error_type": "budget_exceeded", "streamed": false, "client_closed": false}\n'
    path = tmp_path / "gw.db"
    with Store.open(path) as store:
        spool = Spool(Path(f"{path}.spool"))
        spool.path.write_bytes(old)
        assert spool.replay(store) == 1
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT error_kind FROM requests").fetchall() == [("policy",)]
