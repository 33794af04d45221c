"""`log_format = "json"`'s formatter: one JSON object per record on one line whatever the message holds
(line breaks, quotes, a forged field), a traceback as one string, a request's fields as the object's
own keys; `request_fields` from a ledger row."""

from __future__ import annotations

import json
import logging
import sys

from llmgw.relay.record import LineContext, request_fields
from llmgw.server.json_logs import JsonFormatter
from llmgw.storage import UsageRow


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    r = logging.LogRecord("llmgw", logging.WARNING, __file__, 1, message, args, None)
    r.__dict__.update(extra)
    return r


def test_one_line_whatever_the_message_holds() -> None:
    forged = 'model x\n{"level":"info","message":"forged"} "quoted" \u2028 caf\u00e9 \x00'
    line = JsonFormatter().format(record("refused %s", forged))
    assert "\n" not in line and line.isascii()
    out = json.loads(line)
    assert out == {
        "time": out["time"],
        "level": "warning",
        "logger": "llmgw",
        "message": f"refused {forged}",
    }
    assert out["time"].endswith("Z") and len(out["time"]) == len("2026-01-01T00:00:00.000Z")


def test_a_traceback_is_one_string() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        r = logging.LogRecord("llmgw", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(r)
    assert "\n" not in line
    out = json.loads(line)
    assert out["message"] == "failed" and "ValueError: boom" in out["exception"]
    assert "Traceback" in out["exception"]


def test_a_request_line_carries_its_fields() -> None:
    row = UsageRow(request_id="req_1", endpoint="/v1/chat/completions", status=200, model_requested="m")
    context = LineContext(
        "POST", "/v1beta/models/x:generateContent", "203.0.113.7", "alice", "0123456789abcdef"
    )
    out = json.loads(JsonFormatter().format(record("request", request=request_fields(row, context))))
    assert out["message"] == "request" and out["request_id"] == "req_1"
    assert (out["path"], out["client"], out["user"], out["key"]) == (
        "/v1beta/models/x:generateContent",
        "203.0.113.7",
        "alice",
        "0123456789abcdef",
    )
    assert out["stream"] is False and out["error"] is None and out["model"] == "m"


def test_request_fields_without_a_context_and_a_long_path() -> None:
    row = UsageRow(request_id="req_2", endpoint="/v1/messages", status=502, error_type="upstream_error")
    fields = request_fields(row, None)
    assert (fields["method"], fields["path"], fields["client"], fields["user"]) == (
        "POST",
        "/v1/messages",
        None,
        None,
    )
    long_path = "/v1beta/models/" + "m" * 5000 + ":generateContent"
    assert len(request_fields(row, LineContext("POST", long_path, None))["path"]) == 512
