"""The relay's decisions, in process: the Starlette app over `httpx.ASGITransport`, every upstream
answered by an `httpx.MockTransport` handler written in the test, in that upstream's wire format.

Fast and exact where the subprocess tests (tests/process/test_relay.py) prove the real stack: which keys were
tried in which order, what the client got in its dialect, and the ledger row of every request (read
after the app's lifespan has shut down, which flushes the ledger writer).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from llmgw.relay.runtime import Gateway, KeySource
from llmgw.server.app import create_app
from llmgw.server.loops import Loops
from llmgw.settings import Config

pytestmark = pytest.mark.anyio

PROXY_KEY = "llmgw-inprocess-proxy-key-42"
USER = [{"role": "user", "content": "What is the capital of France?"}]
# Keys the key-shaped scrubbing would not catch: only replacing the very key used keeps them out.
OAI_KEYS = ["oai-first", "oai-second", "oai-third"]
ANT_KEYS = ["ant-first", "ant-second"]
BACKUP_KEYS = ["backup-first"]

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


# -- the upstreams' wire formats ------------------------------------------------------------------


def openai_chat(text: str = "The capital of France is Paris.") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "object": "chat.completion",
            "created": 1741569952,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 14, "completion_tokens": 8, "total_tokens": 22},
            "service_tier": "default",
            "system_fingerprint": "fp_06737a9306",
        },
    )


def openai_error(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return httpx.Response(status, json=body, headers=headers)


def anthropic_message(text: str = "The capital of France is Paris.") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 16, "output_tokens": 9},
        },
        headers={"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy"},
    )


def anthropic_error(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_011CSHoE"}
    return httpx.Response(status, json=body, headers=headers)


def rate_limited(request: httpx.Request, retry_after: str | None = "30") -> httpx.Response:
    """A 429 in the wire format of the upstream `request` went to."""
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    if request.url.host == "ant.test":
        return anthropic_error(
            429, "rate_limit_error", "Number of requests has exceeded your rate limit.", headers
        )
    message = "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1."
    return openai_error(429, message, "requests", "rate_limit_exceeded", headers=headers)


def key_refused(request: httpx.Request) -> httpx.Response:
    """A 401 in the wire format of the upstream `request` went to, echoing (part of) the key."""
    if request.url.host == "ant.test":
        return anthropic_error(401, "authentication_error", "invalid x-api-key")
    message = f"Incorrect API key provided: {key_of(request)}. You can find your API key at platform."
    return openai_error(401, message, "invalid_request_error", "invalid_api_key")


def server_error(request: httpx.Request) -> httpx.Response:
    if request.url.host == "ant.test":
        return anthropic_error(529, "overloaded_error", "Overloaded")
    return openai_error(500, "The server had an error while processing your request.", "server_error")


def key_of(request: httpx.Request) -> str | None:
    """Our upstream key in a request, whichever header its wire format carries it in."""
    auth: str | None = request.headers.get("authorization")
    if auth is not None:
        return auth.removeprefix("Bearer ")
    key: str | None = request.headers.get("x-api-key")
    return key


# -- the gateway, in process ----------------------------------------------------------------------


@dataclass
class Upstreams:
    """The providers' side: one handler for every upstream request, and every request it was sent."""

    handler: Handler
    sent: list[httpx.Request] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        answer = self.handler(request)
        response = await answer if inspect.isawaitable(answer) else answer
        if response.is_stream_consumed:
            # httpx.Response(json=...) reads its body at once, and Upstream reads with aiter_raw,
            # which refuses a read body: answer as a real transport does, body not read yet.
            return httpx.Response(
                response.status_code, headers=response.headers, stream=httpx.ByteStream(response.content)
            )
        return response

    @property
    def keys(self) -> list[str | None]:
        """The upstream keys used, in the order they were tried."""
        return [key_of(r) for r in self.sent]

    @property
    def hosts(self) -> list[str]:
        return [r.url.host for r in self.sent]


@dataclass
class Running:
    """A gateway running in process: its client side, its upstreams, its ledger file."""

    client: httpx.AsyncClient
    upstreams: Upstreams
    db: Path
    app: Starlette

    @property
    def runtime(self) -> Gateway:
        """The running `Gateway` (its key pools, its metrics, its ledger)."""
        gw: Gateway = self.app.state.gateway
        return gw

    @property
    def loops(self) -> Loops:
        """The running gateway's background loops (its key refresh, its key-state publishing)."""
        loops: Loops = self.app.state.loops
        return loops

    async def chat(self, model: str, **extra: Any) -> httpx.Response:
        """An OpenAI client's chat completion."""
        headers = {"authorization": f"Bearer {PROXY_KEY}", **extra.pop("headers", {})}
        body = {"model": model, "messages": USER, **extra}
        return await self.client.post("/v1/chat/completions", json=body, headers=headers)

    async def messages(self, model: str, **extra: Any) -> httpx.Response:
        """An Anthropic client's message."""
        headers = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01", **extra.pop("headers", {})}
        body = {"model": model, "max_tokens": 64, "messages": USER, **extra}
        return await self.client.post("/v1/messages", json=body, headers=headers)

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every ledger row by request id; complete once the app has shut down."""
        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            found = conn.execute("SELECT * FROM requests").fetchall()
        conn.close()
        return {r["request_id"]: dict(r) for r in found}

    def row(self, response: httpx.Response) -> dict[str, Any]:
        return self.rows()[response.headers["x-request-id"]]


class Keys:
    """A KeySource over a plain mapping."""

    def __init__(self, keys: dict[str, list[str]]) -> None:
        self._keys = keys

    def keys(self, provider: str) -> list[str]:
        return list(self._keys.get(provider, []))

    def reread(self, provider: str) -> list[str]:
        return self.keys(provider)

    def origin(self, provider: str) -> str:
        return "the test's mapping"

    def how_to_add(self, provider: str) -> str:
        return f"give the test a key for {provider}"


def config(
    tmp_path: Path,
    server: dict[str, Any],
    providers: dict[str, dict[str, Any]],
    prices: dict[str, dict[str, float]] | None = None,
) -> Config:
    base: dict[str, dict[str, Any]] = {
        "oai": {"type": "openai-compatible", "base_url": "http://oai.test/v1"},
        "ant": {"type": "anthropic", "base_url": "http://ant.test/v1", "models": ["claude-sonnet-4-5"]},
        "backup": {
            "type": "openai-compatible",
            "base_url": "http://backup.test/v1",
            "models": ["gpt-4o-mini"],
        },
    }
    for name, extra in providers.items():
        base[name] = {**base.get(name, {}), **extra}
    return Config.model_validate(
        {
            "server": {"database": str(tmp_path / "llmgw.db"), "key_refresh_interval": 0, **server},
            "providers": base,
            "models": {
                "smart": {"model": "oai/gpt-4o-mini", "fallbacks": ["backup/gpt-4o-mini"]},
                "claude": "ant/claude-sonnet-4-5",
            },
            "prices": prices or {},
        }
    )


@asynccontextmanager
async def gateway(
    tmp_path: Path,
    handler: Handler,
    *,
    keys: dict[str, list[str]] | None = None,
    server: dict[str, Any] | None = None,
    providers: dict[str, dict[str, Any]] | None = None,
    source: KeySource | None = None,
    prices: dict[str, dict[str, float]] | None = None,
) -> AsyncIterator[Running]:
    """The app with its lifespan running; on exit the lifespan has shut down and the ledger is written.

    Upstream keys come from `source` if given, else from `keys` (by default the module's keys)."""
    upstreams = Upstreams(handler)
    given = keys if keys is not None else {"oai": OAI_KEYS, "ant": ANT_KEYS, "backup": BACKUP_KEYS}
    cfg = config(tmp_path, server or {}, providers or {}, prices)
    app = create_app(cfg, PROXY_KEY, source or Keys(given), transport=httpx.MockTransport(upstreams))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://llmgw.test") as client,
    ):
        yield Running(client, upstreams, tmp_path / "llmgw.db", app)


def openai_err(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["x-request-id"].startswith("req_")
    err: dict[str, Any] = r.json()["error"]
    assert set(r.json()) == {"error"} and set(err) == {"message", "type", "param", "code"}
    return err


def anthropic_err(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["x-request-id"].startswith("req_")
    body = r.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    err: dict[str, Any] = body["error"]
    return err


# -- success, and what goes upstream -------------------------------------------------------------


async def test_answer_relayed_and_recorded(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda request: openai_chat()) as gw:
        r = await gw.chat("oai/gpt-4o-mini", temperature=0.2)
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "The capital of France is Paris."
    (sent,) = gw.upstreams.sent
    assert sent.method == "POST" and str(sent.url) == "http://oai.test/v1/chat/completions"
    assert orjson.loads(sent.content) == {"model": "gpt-4o-mini", "messages": USER, "temperature": 0.2}
    row = gw.row(r)
    assert row["status"] == 200 and row["endpoint"] == "/v1/chat/completions"
    assert (row["provider"], row["model_requested"], row["model_upstream"]) == (
        "oai",
        "oai/gpt-4o-mini",
        "gpt-4o-mini",
    )
    assert (row["key_index"], row["attempts"], row["streamed"], row["error_type"]) == (1, 1, 0, None)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 8, 22)


async def test_client_credentials_never_go_upstream(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return anthropic_message() if request.url.host == "ant.test" else openai_chat()

    client_headers = {"x-api-key": PROXY_KEY, "cookie": "session=client-cookie", "x-custom": "client"}
    async with gateway(tmp_path, answer) as gw:
        r1 = await gw.chat("oai/gpt-4o-mini", headers=client_headers)
        r2 = await gw.messages(
            "ant/claude-sonnet-4-5",
            headers={"authorization": f"Bearer {PROXY_KEY}", "anthropic-beta": "prompt-caching-2024-07-31"},
        )
    assert (r1.status_code, r2.status_code) == (200, 200)
    to_openai, to_anthropic = gw.upstreams.sent
    assert to_openai.headers["authorization"] == "Bearer oai-first"
    assert {"x-api-key", "cookie", "x-custom"}.isdisjoint(to_openai.headers)
    assert to_anthropic.headers["x-api-key"] == "ant-first" and "authorization" not in to_anthropic.headers
    assert to_anthropic.headers["anthropic-version"] == "2023-06-01"
    assert to_anthropic.headers["anthropic-beta"] == "prompt-caching-2024-07-31"  # part of the request
    for sent in gw.upstreams.sent:
        assert PROXY_KEY not in str(sent.headers.raw) and PROXY_KEY.encode() not in sent.content
    assert r2.json()["content"] == [{"type": "text", "text": "The capital of France is Paris."}]
    row = gw.row(r2)
    assert (row["provider"], row["prompt_tokens"], row["completion_tokens"], row["status"]) == (
        "ant",
        16,
        9,
        200,
    )


async def test_stream_relayed_and_recorded(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "Paris"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "."}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": 2, "total_tokens": 16}},
    ]
    common: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": "gpt-4o-mini",
    }
    sse = b"".join(b"data: " + orjson.dumps({**common, **e}) + b"\n\n" for e in events) + b"data: [DONE]\n\n"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse)

    async with gateway(tmp_path, answer) as gw:
        r = await gw.chat("oai/gpt-4o-mini", stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    data = [line.removeprefix("data: ") for line in r.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [orjson.loads(d) for d in data[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Paris."
    assert all(c["choices"] for c in chunks)  # the usage chunk the gateway asked for is not passed on
    assert orjson.loads(gw.upstreams.sent[0].content)["stream_options"] == {"include_usage": True}
    row = gw.row(r)
    assert (row["status"], row["streamed"], row["client_closed"], row["tokens_estimated"]) == (200, 1, 0, 0)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 2, 16)


# -- keys: retry, take out, cool down -------------------------------------------------------------


async def test_429_and_5xx_retry_on_the_next_key(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        key = key_of(request)
        if key == "oai-first":
            return rate_limited(request, "30")
        if key == "oai-second":
            return server_error(request)
        return openai_chat()

    async with gateway(tmp_path, answer) as gw:
        first = await gw.chat("oai/gpt-4o-mini")
        tried_first = gw.upstreams.keys
        gw.upstreams.sent.clear()
        second = await gw.chat("oai/gpt-4o-mini")
    assert (first.status_code, second.status_code) == (200, 200)
    assert tried_first == ["oai-first", "oai-second", "oai-third"]
    assert gw.upstreams.keys == ["oai-second", "oai-third"]  # the first cools for 30 s; a 5xx cools nothing
    row = gw.row(first)
    assert (row["status"], row["key_index"], row["attempts"], row["error_type"]) == (200, 3, 3, None)
    assert (gw.row(second)["key_index"], gw.row(second)["attempts"]) == (3, 2)


@pytest.mark.parametrize(("header", "cooled_for"), [("30", "30"), ("7", "7")])
async def test_cool_down_honours_retry_after(tmp_path: Path, header: str | None, cooled_for: str) -> None:
    """The one key cools for the upstream's Retry-After; the gateway's own 429 says how long, with
    nothing between the cooling and the answer. (Without a Retry-After:
    tests/inprocess/test_relay_keys.py.)"""

    def answer(request: httpx.Request) -> httpx.Response:
        return rate_limited(request, header)

    async with gateway(tmp_path, answer, keys={"oai": OAI_KEYS[:1]}) as gw:
        r = await gw.chat("oai/gpt-4o-mini")
    assert openai_err(r, 429)["message"] == (
        f"Every upstream key for this model is rate limited; retry after {cooled_for}s."
    )
    assert r.headers["retry-after"] == cooled_for
    assert gw.upstreams.keys == ["oai-first"]


async def test_all_keys_cooling_is_the_gateways_429(tmp_path: Path) -> None:
    async with gateway(
        tmp_path, lambda request: rate_limited(request, "30"), keys={"oai": OAI_KEYS[:2]}
    ) as gw:
        first = await gw.chat("oai/gpt-4o-mini")
        tried = gw.upstreams.keys
        second = await gw.chat("oai/gpt-4o-mini")
    err = openai_err(first, 429)
    assert (err["type"], err["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert first.headers["retry-after"] == "30"
    assert tried == ["oai-first", "oai-second"]
    assert gw.upstreams.keys == tried  # the second request found every key cooling: nothing sent
    assert openai_err(second, 429)["code"] == "rate_limit_exceeded"
    assert 1 <= int(second.headers["retry-after"]) <= 30
    rows = (gw.row(first), gw.row(second))
    assert [(r["status"], r["error_type"], r["attempts"]) for r in rows] == [
        (429, "rate_limit_exceeded", 2),
        (429, "rate_limit_exceeded", 0),
    ]


async def test_refused_key_is_taken_out(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return key_refused(request) if key_of(request) == "oai-first" else openai_chat()

    async with gateway(tmp_path, answer, keys={"oai": OAI_KEYS[:2]}) as gw:
        responses = [await gw.chat("oai/gpt-4o-mini") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert gw.upstreams.keys == ["oai-first", "oai-second", "oai-second", "oai-second"]
    assert [(gw.row(r)["key_index"], gw.row(r)["attempts"]) for r in responses] == [(2, 2), (2, 1), (2, 1)]


async def test_max_attempts_counts_keys_and_fallbacks(tmp_path: Path) -> None:
    async with gateway(tmp_path, server_error, server={"max_attempts": 2}) as gw:
        r = await gw.chat("smart")
    err = openai_err(r, 500)  # the last upstream error, as it was
    assert (err["type"], err["code"]) == ("server_error", None)
    assert err["message"] == (
        "Upstream provider 'oai' answered 500: The server had an error while processing your request."
    )
    assert gw.upstreams.keys == ["oai-first", "oai-second"]  # not the third key, not the fallback
    row = gw.row(r)
    assert (row["status"], row["error_type"], row["attempts"], row["provider"], row["key_index"]) == (
        500,
        "server_error",
        2,
        "oai",
        2,
    )


# -- fallbacks ------------------------------------------------------------------------------------


async def never_answers(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(60)  # cancelled by the gateway's first-byte deadline long before
    raise AssertionError("the first-byte deadline did not apply")


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


@pytest.mark.parametrize(
    ("failure", "oai"),
    [(refused, {}), (never_answers, {"first_byte_timeout": 0.2})],
    ids=["connect_error", "first_byte_timeout"],
)
async def test_failing_provider_falls_back_to_the_next_target(
    tmp_path: Path, failure: Handler, oai: dict[str, Any]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response | Awaitable[httpx.Response]:
        return failure(request) if request.url.host == "oai.test" else openai_chat("From the backup.")

    async with gateway(tmp_path, answer, providers={"oai": oai}) as gw:
        r = await gw.chat("smart")
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "From the backup."
    # a failing provider is left at once: its other keys are not tried
    assert list(zip(gw.upstreams.hosts, gw.upstreams.keys, strict=True)) == [
        ("oai.test", "oai-first"),
        ("backup.test", "backup-first"),
    ]
    row = gw.row(r)
    assert (row["provider"], row["model_requested"], row["key_index"], row["attempts"]) == (
        "backup",
        "smart",
        1,
        2,
    )
    assert (row["status"], row["error_type"]) == (200, None)


# -- every failure in each client dialect ---------------------------------------------------------


def connect_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectTimeout("Connection timeout to host http://oai.test", request=request)


def dropped(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)


# failure, provider settings, gateway status, OpenAI code, Anthropic type, message
FAILURES: dict[str, tuple[Handler, dict[str, Any], int, str, str, str]] = {
    "connect_error": (
        refused,
        {},
        502,
        "upstream_unavailable",
        "api_error",
        "Cannot connect to provider '{p}'.",
    ),
    "connect_timeout": (
        connect_timeout,
        {},
        504,
        "upstream_timeout",
        "timeout_error",
        "Timed out connecting to provider '{p}'.",
    ),
    "first_byte_timeout": (
        never_answers,
        {"first_byte_timeout": 0.2},
        504,
        "upstream_timeout",
        "timeout_error",
        "Provider '{p}' did not answer in time.",
    ),
    "dropped": (
        dropped,
        {},
        502,
        "upstream_unavailable",
        "api_error",
        "Connection to provider '{p}' failed (RemoteProtocolError).",
    ),
    "all_keys_rate_limited": (
        rate_limited,
        {},
        429,
        "rate_limit_exceeded",
        "rate_limit_error",
        "Every upstream key for this model is rate limited; retry after 30s.",
    ),
    "all_keys_refused": (
        key_refused,
        {},
        503,
        "no_usable_upstream_key",
        "overloaded_error",
        "No usable upstream API key for provider(s) {p}; ask an administrator.",
    ),
}


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("case", list(FAILURES))
async def test_failure_in_the_clients_dialect(tmp_path: Path, case: str, dialect: str) -> None:
    failure, settings, status, code, anthropic_type, message = FAILURES[case]
    provider = "oai" if dialect == "openai" else "ant"
    model = "oai/gpt-4o-mini" if dialect == "openai" else "ant/claude-sonnet-4-5"
    async with gateway(tmp_path, failure, providers={provider: settings}) as gw:
        r = await (gw.chat(model) if dialect == "openai" else gw.messages(model))
    if dialect == "openai":
        err = openai_err(r, status)
        assert (err["code"], err["param"]) == (code, None)
        assert err["type"] == ("rate_limit_error" if status == 429 else "api_error")
    else:
        err = anthropic_err(r, status)
        assert err["type"] == anthropic_type
    assert err["message"] == message.format(p=provider)
    keys = OAI_KEYS if dialect == "openai" else ANT_KEYS
    per_key = case.startswith("all_keys")  # key trouble tries every key; a failing provider only one
    assert gw.upstreams.keys == (keys if per_key else keys[:1])
    assert r.headers.get("retry-after") == ("30" if status == 429 else None)
    for secret in keys:
        assert secret not in r.text
    row = gw.row(r)
    assert (row["status"], row["error_type"], row["provider"]) == (status, code, provider)
    assert row["attempts"] == len(gw.upstreams.sent)


# -- upstream error answers ----------------------------------------------------------------------


async def test_openai_upstream_4xx_reaches_the_client_scrubbed(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        message = f"Invalid 'temperature': 7 (key {key_of(request)}, org key sk-proj-abcdef123456)."
        return openai_error(400, message, "invalid_request_error", "invalid_value", "temperature")

    async with gateway(tmp_path, answer) as gw:
        r = await gw.chat("oai/gpt-4o-mini", temperature=7)
        r_anthropic = await gw.messages("oai/gpt-4o-mini", temperature=7)
    expected = (
        "Upstream provider 'oai' answered 400: Invalid 'temperature': 7 (key [redacted], org key [redacted])."
    )
    assert openai_err(r, 400) == {
        "message": expected,
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "invalid_value",
    }
    assert anthropic_err(r_anthropic, 400) == {"type": "invalid_request_error", "message": expected}
    assert gw.upstreams.keys == ["oai-first", "oai-second"]  # one try each: the request is at fault
    assert [gw.row(x)["status"] for x in (r, r_anthropic)] == [400, 400]
    assert [gw.row(x)["error_type"] for x in (r, r_anthropic)] == ["invalid_value", "invalid_value"]
    assert [gw.row(x)["attempts"] for x in (r, r_anthropic)] == [1, 1]


async def test_anthropic_upstream_errors_keep_their_type(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if orjson.loads(request.content)["max_tokens"] == 64:
            return server_error(request)  # 529 overloaded_error, on every key
        message = f"max_tokens: 999999 > 64000, the maximum for this model (x-api-key {key_of(request)})"
        return anthropic_error(400, "invalid_request_error", message)

    async with gateway(tmp_path, answer) as gw:
        overloaded = await gw.messages("ant/claude-sonnet-4-5")
        tried = gw.upstreams.keys
        too_many = await gw.messages("ant/claude-sonnet-4-5", max_tokens=999999)
    assert anthropic_err(overloaded, 529) == {
        "type": "overloaded_error",
        "message": "Upstream provider 'ant' answered 529: Overloaded",
    }
    assert tried == ["ant-first", "ant-second"]
    assert anthropic_err(too_many, 400) == {
        "type": "invalid_request_error",
        "message": "Upstream provider 'ant' answered 400: max_tokens: 999999 > 64000, the maximum for this "
        "model (x-api-key [redacted])",
    }
    assert (gw.row(overloaded)["error_type"], gw.row(overloaded)["attempts"]) == ("overloaded_error", 2)
    assert (gw.row(too_many)["error_type"], gw.row(too_many)["attempts"]) == ("invalid_request_error", 1)


# -- /v1/models -----------------------------------------------------------------------------------


async def test_models_list_with_aliases(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET" and request.url.path == "/v1/models"
        listing = [
            {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
            {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
        ]
        return httpx.Response(200, json={"object": "list", "data": listing})

    def ids(r: httpx.Response) -> list[tuple[str, str]]:
        assert r.status_code == 200, r.text
        return [(m["id"], m["owned_by"]) for m in r.json()["data"]]

    auth = {"authorization": f"Bearer {PROXY_KEY}"}
    async with gateway(tmp_path, answer) as gw:
        listed = await gw.client.get("/v1/models", headers=auth)
        again = await gw.client.get("/v1/models", headers=auth)
        one = await gw.client.get("/v1/models/oai/text-embedding-3-small", headers=auth)
        alias = await gw.client.get("/v1/models/smart", headers=auth)
        missing = await gw.client.get("/v1/models/oai/gpt-5-nano", headers=auth)
        anonymous = await gw.client.get("/v1/models")
    assert ids(listed) == [
        ("smart", "llmgw"),
        ("claude", "llmgw"),
        ("oai/gpt-4o-mini", "oai"),
        ("oai/text-embedding-3-small", "oai"),
        ("ant/claude-sonnet-4-5", "ant"),  # allow-lists are listed as they are
        ("backup/gpt-4o-mini", "backup"),
    ]
    assert listed.json()["object"] == "list"
    assert ids(again) == ids(listed)
    assert one.json() == {
        "id": "oai/text-embedding-3-small",
        "object": "model",
        "created": 0,
        "owned_by": "oai",
    }
    assert alias.json()["owned_by"] == "llmgw"
    assert openai_err(missing, 404)["code"] == "model_not_found"
    assert openai_err(anonymous, 401)["code"] == "invalid_api_key"
    assert gw.upstreams.keys == ["oai-first"]  # one listing, cached; allow-listed providers not asked
    assert gw.rows() == {}  # listing models is not a model call


async def test_models_list_leaves_out_an_upstream_that_cannot_list(tmp_path: Path) -> None:
    async with gateway(tmp_path, refused) as gw:
        r = await gw.client.get("/v1/models", headers={"authorization": f"Bearer {PROXY_KEY}"})
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["data"]] == [
        "smart",
        "claude",
        "ant/claude-sonnet-4-5",
        "backup/gpt-4o-mini",
    ]
    assert gw.upstreams.hosts == ["oai.test"]


async def test_failed_authentication_is_counted_not_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A flood of wrong keys must not fill the ledger and the log: no row and no access line each, but
    # a count (kept in the ledger per minute) and a warning at a bounded rate.
    wrong = {"authorization": "Bearer wrong"}
    with caplog.at_level(logging.INFO, logger="llmgw"):
        async with gateway(tmp_path, lambda request: openai_chat()) as gw:
            for i in range(2000):
                if i % 4:
                    r = await gw.chat("oai/gpt-4o-mini", headers=wrong if i % 2 else {"authorization": ""})
                    assert openai_err(r, 401)["code"] == "invalid_api_key"
                else:
                    r = await gw.messages("claude", headers={"x-api-key": "wrong"})
                    assert anthropic_err(r, 401)["type"] == "authentication_error"
            listed = await gw.client.get("/v1/models", headers=wrong)
            one = await gw.client.get("/v1/models/smart", headers=wrong)
            ok = await gw.chat("oai/gpt-4o-mini")
            counted = gw.app.state.gateway.auth_failures.total
    assert openai_err(listed, 401)["code"] == openai_err(one, 401)["code"] == "invalid_api_key"
    assert counted == 2002
    assert list(gw.rows()) == [ok.headers["x-request-id"]]
    with sqlite3.connect(gw.db) as conn:
        (persisted,) = conn.execute("SELECT SUM(count) FROM auth_failures").fetchone()
    conn.close()
    assert persisted == 2002
    access = [r for r in caplog.records if r.name == "llmgw.access"]
    assert len(access) == 1
    reports = [r.getMessage() for r in caplog.records if "failed authentication" in r.getMessage()]
    assert 1 <= len(reports) <= 3, reports
    assert sum(int(m.split()[0]) for m in reports) == 2002
    assert "127.0.0.1" in reports[-1] and "wrong" not in " ".join(reports)


# -- the ledger -----------------------------------------------------------------------------------


async def test_a_ledger_row_for_every_request(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda request: openai_chat()) as gw:
        responses = [
            await gw.chat("oai/gpt-4o-mini"),
            await gw.chat("nope/gpt-4o-mini"),
            await gw.client.post(
                "/v1/chat/completions", content=b"{not json", headers={"x-api-key": PROXY_KEY}
            ),
            await gw.messages("smart"),
        ]
    rows = gw.rows()
    assert set(rows) == {r.headers["x-request-id"] for r in responses}
    got = [
        (
            r.status_code,
            row["status"],
            row["error_type"],
            row["endpoint"],
            row["model_requested"],
            row["attempts"],
        )
        for r in responses
        for row in [rows[r.headers["x-request-id"]]]
    ]
    assert got == [
        (200, 200, None, "/v1/chat/completions", "oai/gpt-4o-mini", 1),
        (404, 404, "model_not_found", "/v1/chat/completions", "nope/gpt-4o-mini", 0),
        (400, 400, "invalid_request_error", "/v1/chat/completions", None, 0),
        (200, 200, None, "/v1/messages", "smart", 1),
    ]
    assert all(row["latency_ms"] is not None and row["created_at"] > 0 for row in rows.values())
