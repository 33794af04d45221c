"""The request's `Exchange`: the one owner of its ledger row, recorded once however the request ends."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.relay.endpoints import ENDPOINTS, ClientEndpoint
from llmgw.relay.exchange import Exchange
from llmgw.services.key_index import Principal
from llmgw.storage import UsageRow
from llmgw.translate.usage import Usage

PACKAGE = Path(__file__).resolve().parents[2] / "llmgw"
MESSAGES = next(e for e in ENDPOINTS if e.path == "/v1/messages")
CHAT = next(e for e in ENDPOINTS if e.path == "/v1/chat/completions")


class Recorder:
    def __init__(self) -> None:
        self.rows: list[UsageRow] = []

    def finish(self, row: UsageRow, started: float, context: object = None) -> None:
        self.rows.append(row)


def exchange(endpoint: ClientEndpoint = CHAT) -> tuple[Exchange, Recorder]:
    recorder = Recorder()
    gw: Any = SimpleNamespace(recorder=recorder)
    return Exchange(gw, endpoint), recorder


def test_a_row_is_recorded_once_however_often_the_end_is_reached() -> None:
    ex, recorder = exchange()
    ex.done()
    ex.done()
    ex.fail(UpstreamUnavailable("late"))
    assert recorder.rows == [ex.row]
    assert ex.row.request_id.startswith("req_") and ex.row.endpoint == "/v1/chat/completions"


def test_a_failure_is_answered_in_the_client_dialect_and_recorded_with_its_status() -> None:
    ex, recorder = exchange(MESSAGES)
    response = ex.fail(InvalidRequest("`messages` is required.", param="messages"))
    assert response.status_code == 400 and response.headers["x-request-id"] == ex.request_id
    assert orjson.loads(bytes(response.body))["type"] == "error"  # Anthropic's error envelope
    assert (recorder.rows[0].status, recorder.rows[0].error_type) == (400, "invalid_request_error")


def test_an_error_already_noted_on_the_row_is_kept() -> None:
    ex, recorder = exchange()
    ex.row.error_type = "overloaded_error"  # e.g. the upstream's own in-stream error
    ex.fail(UpstreamUnavailable("cut"))
    assert (recorder.rows[0].status, recorder.rows[0].error_type) == (502, "overloaded_error")


def test_a_client_that_left_is_recorded_as_499() -> None:
    ex, recorder = exchange()
    response = ex.client_left()
    assert response.status_code == 499
    row = recorder.rows[0]
    assert (row.status, row.client_closed, row.error_type) == (499, True, "client_closed")


def test_the_principal_and_the_upstream_usage_go_into_the_row() -> None:
    ex, _ = exchange()
    ex.attribute(Principal(user_id=7, api_key_id=11, user_name="ada", role="user"))
    ex.apply_usage(None)
    assert ex.row.usage_source != "provider"
    ex.apply_usage(Usage(prompt_tokens=5, completion_tokens=3, total_tokens=8, cached_tokens=2))
    row = ex.row
    assert (row.user_id, row.api_key_id) == (7, 11)
    assert (row.usage_source, row.prompt_tokens, row.completion_tokens, row.cached_tokens) == (
        "provider", 5, 3, 2,
    )  # fmt: skip


def test_only_the_exchange_calls_the_recorder() -> None:
    """A request's row has one owner: a second caller of `Recorder.finish` could record a row twice or
    before its last field is set."""
    callers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "finish"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "recorder"
            ):
                callers.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert [c.partition(":")[0] for c in callers] == ["relay/exchange.py"], callers
