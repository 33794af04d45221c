"""`log_format = "json"` on a real `llmgw serve`: every line it writes is one JSON object; each model
call ends with one line carrying its fields (a personal key's user and public id, the client behind a
trusted proxy, a stream, an error, a Gemini client's `?key=`); no secret the test used, no prompt and
no answer appears anywhere in the output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import PROXY_KEY, UPSTREAM_KEY, provider
from tests.process.test_cli import llmgw
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

PROMPT = "Quote the secret phrase PROMPT-MARKER-7f3a back to me."
COOKIE = "session=cookie-secret-91b2"
WRONG_KEY = "llmgw-0123456789abcdef-wrongwrongwrongwrongwrongwrongwrongwrongwro"
FIELDS = {
    "time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms",
    "ttft_ms", "client", "user", "key", "model", "model_upstream", "provider", "prompt_tokens",
    "completion_tokens", "total_tokens", "usage_source", "cost_usd", "stream", "attempts",
    "error_kind", "error", "client_closed",
}  # fmt: skip


def test_json_request_lines_and_no_secret(tmp_path: Path, fake: FakeOpenAI) -> None:
    config = 'log_format = "json"\ntrusted_proxies = ["127.0.0.1/32"]\n' + provider("up", fake.base_url)
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    gw = GatewayProcess(tmp_path, config, env)
    cfg = str(gw.config_path)
    added = llmgw(
        "user", "add", "alice", "--password-stdin", "--config", cfg, stdin="correct horse battery\n"
    )
    assert added.returncode == 0, added.stderr
    minted = llmgw("key", "create", "alice", "--config", cfg)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    public_id = token.split("-")[1]
    secret = token.split("-", 2)[2]
    answers: list[str] = []
    with gw, httpx.Client(base_url=gw.base_url, timeout=20) as client:
        chat = {"model": "up/gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}
        ok = client.post(
            "/v1/chat/completions",
            json=chat,
            headers={"authorization": f"Bearer {token}", "cookie": COOKIE, "x-forwarded-for": "203.0.113.7"},
        )
        assert ok.status_code == 200, ok.text
        answers.append(ok.json()["choices"][0]["message"]["content"])
        with client.stream(
            "POST",
            "/v1/chat/completions",
            json={**chat, "stream": True},
            headers={"authorization": f"Bearer {PROXY_KEY}"},
        ) as streamed:
            assert streamed.status_code == 200
            body = streamed.read().decode()
        missing = client.post(
            "/v1/chat/completions",
            json={**chat, "model": "nowhere/gpt-4o-mini"},
            headers={"authorization": f"Bearer {token}"},
        )
        gemini = client.post(
            "/v1beta/models/up/gpt-4o-mini:generateContent",
            params={"key": token},  # old Gemini clients' way: the query string
            json={"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]},
        )
        assert gemini.status_code == 200, gemini.text
        answers.append(gemini.json()["candidates"][0]["content"]["parts"][0]["text"])
        refused = client.post(
            "/v1/chat/completions", json=chat, headers={"authorization": f"Bearer {WRONG_KEY}"}
        )
        assert refused.status_code == 401
    log = gw.log()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line parses
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    requests: dict[str, dict[str, Any]] = {
        line["request_id"]: line for line in lines if line["message"] == "request"
    }
    ids = [r.headers["x-request-id"] for r in (ok, streamed, missing, gemini)]
    assert sorted(requests) == sorted(ids)  # one line each; none for the refused key
    for line in requests.values():
        assert set(line) == FIELDS and line["logger"] == "llmgw.access" and line["method"] == "POST"

    first = requests[ids[0]]
    assert first["status"] == 200 and first["stream"] is False and first["error"] is None
    assert (first["user"], first["key"], first["client"]) == ("alice", public_id, "203.0.113.7")
    assert (first["model"], first["provider"], first["model_upstream"]) == (
        "up/gpt-4o-mini",
        "up",
        "gpt-4o-mini",
    )
    assert first["path"] == "/v1/chat/completions" and first["total_tokens"] > 0
    assert first["duration_ms"] > 0

    stream = requests[ids[1]]
    assert stream["stream"] is True and stream["status"] == 200 and stream["ttft_ms"] is not None
    assert (stream["user"], stream["key"], stream["client"]) == ("legacy", None, "127.0.0.1")

    error = requests[ids[2]]
    assert error["status"] == missing.status_code == 404
    assert (error["error"], error["error_kind"], error["model"]) == (
        "model_not_found",
        "policy",
        "nowhere/gpt-4o-mini",
    )

    gem = requests[ids[3]]
    assert gem["path"] == "/v1beta/models/up/gpt-4o-mini:generateContent"  # never the query string
    assert (gem["user"], gem["key"], gem["status"]) == ("alice", public_id, 200)

    for secret_text in (
        PROXY_KEY,
        UPSTREAM_KEY,
        token,
        secret,
        COOKIE,
        "cookie-secret",
        WRONG_KEY,
        "PROMPT-MARKER",
    ):
        assert secret_text not in log, secret_text
    for answer in answers:
        assert answer and answer not in log
    deltas = [json.loads(d[6:]) for d in body.splitlines() if d.startswith("data: {")]
    streamed_text = "".join(c["delta"].get("content") or "" for d in deltas for c in d["choices"])
    assert streamed_text and streamed_text not in log
