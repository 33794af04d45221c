"""A fake OpenAI upstream: a real aiohttp server on 127.0.0.1 speaking the OpenAI wire format.

Every payload is shaped from the recorded traffic in ``tests/fixtures/providers/openai``. One fake
serves every fault test through magic model names; any other name is served normally:

- ``fail-500``, ``fail-503``, ``status-<code>``: that status with OpenAI's error JSON;
  ``rate-limited``: 429 with ``retry-after: 3``; ``bad-request``: 400 ``chat.error_400.json``;
  ``not-found``: 404 ``chat.error_404.json`` naming the model.
- ``slow-<s>``: wait ``s`` seconds before the response headers (first-byte timeouts).
- ``chunks-<n>``: exactly ``n`` content chunks, from prebuilt bytes (the benchmark path).
- ``stall-<k>``: stream ``k`` content chunks, then stall forever (non-stream: stall before headers).
- ``reset-<k>``: stream ``k`` content chunks, then reset the TCP connection (non-stream: at once).
- ``drip-<ms>``: stream 200 content chunks, ``ms`` apart (client-disconnect tests).

OpenAI's Responses API (``/v1/responses`` and its stored responses) is ``openai_responses.ResponsesAPI``,
mounted here as ``fake.responses``; its module docstring says what it answers.

A chat request with ``tools`` whose model name contains ``tool`` is answered with a tool call; a ``Read
the file /path`` prompt with Claude Code's ``Read`` tool, or a ``run the shell command `CMD` `` prompt with
Codex CLI's shell tool, with a call of it (``fake_server.scripted_call``), and the turn carrying its result
with an echo of that result. ``reasoning_effort`` for a ``gpt-4*`` or
``gpt-3.5*`` model is refused, as OpenAI refuses it.
``python -m tests.support.fakes.openai_upstream --port 9100`` serves in the foreground (benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import math
import re
import signal
import socket
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .fake_server import DRIP_CHUNKS as DRIP_CHUNKS
from .fake_server import (
    NORMAL,
    FakeServer,
    RecordedRequest,
    Scenario,
    dumps,
    estimate_tokens,
    filler_words,
    json_reply,
    parse_scenario,
    reply_words,
    scripted_call,
)
from .fixtures import load_json, load_sse
from .openai_responses import ResponsesAPI

__all__ = ["FakeOpenAI", "RecordedRequest", "Scenario", "scenario_for"]

DEFAULT_KEY = "sk-upstream-1"
_OBFUSCATION = "HM7mrUsjkauU6fTnsoHbCduGPpSoOYcXbxcY"
_INVALID_JSON = object()
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


def _error(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


_FIXED = {
    "fail-500": Scenario("error", 500),
    "fail-503": Scenario("error", 503),
    "rate-limited": Scenario("error", 429, retry_after=3),
    "bad-request": Scenario("error", 400),
    "not-found": Scenario("error", 404),
}
# OpenAI's chat models that take no reasoning parameters (other names, the fake's magic ones included, do)
_NOT_REASONING = ("gpt-4", "gpt-3.5", "chatgpt-4o")
_OWN_MAGIC = re.compile(r"(chunks|status)-(\d+(?:\.\d+)?)")


@functools.lru_cache(maxsize=4096)
def scenario_for(model: str, *, in_stream_errors: bool = False) -> Scenario:
    """The scenario a (possibly magic) model name selects: those of ``fake_server``, plus ``chunks-<n>``
    and ``status-<code>``; ``error-mid-stream-<k>`` only with ``in_stream_errors`` (the Responses API's
    ``response.failed``: chat completions have no in-stream error)."""
    match = _OWN_MAGIC.fullmatch(model)
    if match is None:
        scenario = parse_scenario(model, _FIXED)
        return NORMAL if scenario.kind == "midstream" and not in_stream_errors else scenario
    kind, value = match.group(1), float(match.group(2))
    if not value.is_integer():
        return NORMAL
    if kind == "status":
        return Scenario("error", value) if 400 <= value <= 599 else NORMAL
    return Scenario(kind, value)


@dataclass(frozen=True, slots=True)
class _Templates:
    """The recorded payloads the responses are built from (loaded once)."""

    chat: dict[str, Any]
    tool_call: dict[str, Any]
    chunks: list[dict[str, Any]]
    tool_chunks: list[dict[str, Any]]
    errors: dict[int, dict[str, Any]]
    quota: dict[str, Any]
    embedding: bytes
    models: dict[str, Any]


@functools.cache
def _templates() -> _Templates:
    def sse(case: str) -> list[dict[str, Any]]:
        return [json.loads(data) for data in load_sse("openai", case) if data != "[DONE]"]

    return _Templates(
        chat=load_json("openai", "chat.text"),
        tool_call=load_json("openai", "chat.tool_call"),
        chunks=sse("chat.stream_text"),
        tool_chunks=sse("chat.stream_tool_call"),
        errors={
            400: load_json("openai", "chat.error_400"),
            401: load_json("openai", "chat.error_401"),
            404: load_json("openai", "chat.error_404"),
        },
        quota=load_json("openai", "chat.error_429"),
        embedding=base64.b64decode(load_json("openai", "embeddings.default")["data"][0]["embedding"]),
        models=load_json("openai", "models.default"),
    )


def _mask(key: str) -> str:
    return key[:8] + "*" * (len(key) - 12) + key[-4:] if len(key) > 16 else "*" * len(key)


def error_payload(
    status: int, model: str | None = None, key: str | None = None, retry_after: int = 20
) -> dict[str, Any]:
    """The error body OpenAI sends with ``status`` (the recorded one where a recording exists)."""
    recorded = _templates().errors.get(status)
    if recorded is not None:
        message = recorded["error"]["message"]
        if status == 401:  # OpenAI echoes the rejected key, masked
            masked = _mask(key or "sk-unknown")
            message = re.sub(r"(?<=Incorrect API key provided: )\S+?(?=\.\s)", lambda _: masked, message)
        elif status == 404 and model is not None:
            message = f"The model `{model}` does not exist or you do not have access to it."
        return {"error": {**recorded["error"], "message": message}}
    if status == 403:
        return _error(
            "Country, region, or territory not supported",
            "request_forbidden",
            code="unsupported_country_region_territory",
        )
    if status == 429:
        return _error(
            f"Rate limit reached for {model or 'default'} in organization org-fake on requests per min "
            f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {retry_after}s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            "requests",
            code="rate_limit_exceeded",
        )
    if status == 503:
        return _error("The engine is currently overloaded, please try again later.", "server_error")
    if status >= 500:
        return _error(
            "The server had an error while processing your request. Sorry about that!", "server_error"
        )
    return _error(f"The fake upstream answered {status}.", "invalid_request_error")


@dataclass(frozen=True, slots=True)
class _Reply:
    pieces: list[str]
    finish: str
    prompt_tokens: int
    cached_tokens: int = 0
    tool: tuple[str, str, str] | None = None  # (call id, function name, arguments)


class FakeOpenAI(FakeServer):
    """The fake upstream, run by ``start()`` in a background thread with its own event loop.

    ``accepted_keys`` are the bearer keys it accepts (any other gets OpenAI's 401). ``key_behaviors`` maps
    a key to what every request with it gets: ``"ok"``, ``"429"`` or ``"429:<retry-after>"`` (rate limit,
    retry-after 7 by default), ``"quota"`` (429 ``insufficient_quota``) or any 4xx/5xx status such as
    ``"401"``, ``"403"``, ``"500"``. ``models`` replaces the recorded ``GET /v1/models`` listing.
    ``record=False`` keeps neither requests nor disconnects (the benchmark CLI).
    """

    name = "fake-openai"
    key_behavior_pattern = re.compile(r"ok|quota|429(?::(\d+))?|[45]\d\d")

    def __init__(
        self,
        accepted_keys: Iterable[str] = (DEFAULT_KEY,),
        key_behaviors: dict[str, str] | None = None,
        *,
        models: Sequence[str] | None = None,
        accept_any_key: bool = False,
        record: bool = True,
    ) -> None:
        super().__init__(accepted_keys, key_behaviors, record=record)
        self.accept_any_key = accept_any_key
        t = _templates()
        listing: dict[str, Any] = (
            t.models
            if models is None
            else {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1686935002, "owned_by": "system"} for m in models
                ],
            }
        )
        self._models = {m["id"]: m for m in listing["data"]}
        self._models_body = dumps(listing)
        self._embedding = struct.unpack(f"<{len(t.embedding) // 4}f", t.embedding)
        self._seen_prompts: set[int] = set()
        self._prebuilt: dict[tuple[Any, ...], Any] = {}
        self.responses = ResponsesAPI(self)

    @property
    def record(self) -> bool:
        """Whether requests and disconnects are kept: ``record_requests``, by this fake's older name."""
        return self.record_requests

    @record.setter
    def record(self, value: bool) -> None:
        self.record_requests = value

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model:.+}", self._retrieve_model)
        self.responses.routes(app)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    @staticmethod
    def scenario(model: str, *, in_stream_errors: bool = False) -> Scenario:
        """The scenario ``model`` selects (:func:`scenario_for`)."""
        return scenario_for(model, in_stream_errors=in_stream_errors)

    # -- request prologue: record, authenticate, parse ------------------------------------------

    async def _admit(self, request: web.Request) -> Any:
        """The parsed JSON body, or the error response to send instead."""
        raw = await request.read()
        auth = request.headers.get("Authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = _INVALID_JSON
        model = parsed.get("model") if isinstance(parsed, dict) else None
        model = model if isinstance(model, str) else None
        self.record_request(request, raw, None if parsed is _INVALID_JSON else parsed, key, model)
        denied = self._authenticate(key, model)
        if denied is not None:
            return denied
        if request.method == "POST" and not isinstance(parsed, dict):
            return self._json(
                400,
                _error(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                    "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
                    "contact us through our help center at help.openai.com.)",
                    "invalid_request_error",
                ),
            )
        return parsed

    def _authenticate(self, key: str | None, model: str | None) -> web.Response | None:
        if not key:
            return self._json(
                401,
                _error(
                    "You didn't provide an API key. You need to provide your API key in an Authorization "
                    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
                    "field (with blank username) if you're accessing the API from your browser and are "
                    "prompted for a username. You can obtain an API key from "
                    "https://platform.openai.com/account/api-keys.",
                    "invalid_request_error",
                ),
            )
        behavior = self.key_behaviors.get(key)
        if behavior is None:
            if self.accept_any_key or key in self.accepted_keys:
                return None
            return self._json(401, error_payload(401, key=key))
        if behavior == "ok":
            return None
        if behavior == "quota":
            return self._json(429, _templates().quota)
        if behavior.startswith("429"):
            return self._status_error(429, model, retry_after=int(behavior[4:] or 7))
        return self._status_error(int(behavior), model, key=key)

    # -- responses ------------------------------------------------------------------------------

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
        body = payload if isinstance(payload, bytes) else dumps(payload)
        all_headers = {"x-request-id": f"req_{uuid.uuid4().hex}", "openai-processing-ms": "1"}
        if headers:
            all_headers.update(headers)
        return web.Response(status=status, body=body, content_type="application/json", headers=all_headers)

    def _status_error(
        self, status: int, model: str | None, *, key: str | None = None, retry_after: int | None = None
    ) -> web.Response:
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers = {
                "retry-after": str(retry_after),
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{retry_after}s",
            }
        return self._json(status, error_payload(status, model, key, retry_after or 20), headers)

    def _scenario_error(self, model: str) -> web.Response | None:
        scenario = scenario_for(model)
        if scenario.kind != "error":
            return None
        return self._status_error(int(scenario.value), model, retry_after=scenario.retry_after)

    def _missing(self, param: str) -> web.Response:
        if param == "model":  # OpenAI words this one differently, and leaves ``param`` null
            return self._json(400, _error("you must provide a model parameter", "invalid_request_error"))
        message = f"Missing required parameter: '{param}'."
        return self._json(400, _error(message, "invalid_request_error", param, "missing_required_parameter"))

    async def _unknown(self, request: web.Request) -> web.Response:
        await self._admit(request)
        message = f"Invalid URL ({request.method} {request.path})"
        return self._json(404, _error(message, "invalid_request_error"))

    async def _list_models(self, request: web.Request) -> web.Response:
        admitted = await self._admit(request)
        return admitted if isinstance(admitted, web.Response) else self._json(200, self._models_body)

    async def _retrieve_model(self, request: web.Request) -> web.Response:
        admitted = await self._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        model = request.match_info["model"]
        failed = self._scenario_error(model)
        if failed is not None:
            return failed
        found = self._models.get(
            model, {"id": model, "object": "model", "created": 1686935002, "owned_by": "system"}
        )
        return self._json(200, found)

    # -- chat and legacy completions ------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._admit(request)
        if isinstance(body, web.Response):
            return body
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            return self._missing("model")
        if messages is None:
            return self._missing("messages")
        if not isinstance(messages, list) or not messages:
            return self._json(
                400,
                _error(
                    "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                    "empty array instead.",
                    "invalid_request_error",
                    "messages",
                    "empty_array",
                ),
            )
        if "reasoning_effort" in body and model.startswith(_NOT_REASONING):
            # the API's words for a parameter the model does not take
            message = "Unsupported parameter: 'reasoning_effort' is not supported with this model."
            return self._json(
                400, _error(message, "invalid_request_error", "reasoning_effort", "unsupported_parameter")
            )
        return await self._generate(request, body, model, chat=True)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._admit(request)
        if isinstance(body, web.Response):
            return body
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._missing("model")
        if body.get("prompt") is None:
            return self._missing("prompt")
        return await self._generate(request, body, model, chat=False)

    async def _generate(
        self, request: web.Request, body: dict[str, Any], model: str, *, chat: bool
    ) -> web.StreamResponse:
        failed = self._scenario_error(model)
        if failed is not None:
            return failed
        scenario = scenario_for(model)
        stream = body.get("stream") is True
        options = body.get("stream_options") if stream else None
        options = options if isinstance(options, dict) else {}
        include_usage = options.get("include_usage") is True
        obfuscate = chat and options.get("include_obfuscation", True) is not False
        if await self.before_headers(request, scenario, stream):
            return web.Response(status=500)
        cache_key = (chat, model, stream, include_usage, obfuscate)
        if scenario.kind == "chunks" and cache_key in self._prebuilt:
            built = self._prebuilt[cache_key]
        else:
            reply = self._reply(body, scenario, chat=chat)
            cid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:29]
            render = _chat_events if chat else _text_events
            if stream:
                built = render(cid, int(time.time()), model, reply, include_usage, obfuscate)
            else:
                built = dumps((_chat_body if chat else _text_body)(cid, int(time.time()), model, reply))
            if scenario.kind == "chunks":
                self._prebuilt[cache_key] = built
        if not stream:
            self.report_usage(model, json.loads(built)["usage"], stream=False)
            return self._json(200, built)
        events, prefix = built
        headers = {**_SSE_HEADERS, "x-request-id": f"req_{uuid.uuid4().hex}"}
        # with include_usage the usage chunk comes last before [DONE]; without it, no usage is reported
        final = (len(events) - 2, json.loads(events[-2][6:])["usage"]) if include_usage else None
        # stall/reset/drip count (and drip paces) every event from the first content chunk on
        return await self.stream(
            request, model, events, range(prefix, len(events)), scenario, headers, final_usage=final
        )

    def _reply(self, body: dict[str, Any], scenario: Scenario, *, chat: bool) -> _Reply:
        if chat:
            messages = [m for m in body["messages"] if isinstance(m, dict)]
            prompt_tokens = 3 + sum(3 + estimate_tokens(_text_of(m.get("content"))) for m in messages)
            users = [m for m in messages if m.get("role") == "user"] or messages
            text = _text_of(users[-1].get("content")) if users else ""
        else:
            prompt = body["prompt"]
            text = prompt if isinstance(prompt, str) else " ".join(p for p in prompt if isinstance(p, str))
            prompt_tokens = max(1, estimate_tokens(text))
        cached = 0
        if prompt_tokens >= 1024:  # OpenAI caches repeated prompts of 1024+ tokens, in 128-token steps
            digest = zlib.crc32(dumps(body.get("messages", body.get("prompt"))))
            with self._lock:
                cached = prompt_tokens // 128 * 128 if digest in self._seen_prompts else 0
                self._seen_prompts.add(digest)
        tools = body.get("tools")
        messages = body.get("messages") or [{}]
        answering_results = isinstance(messages[-1], dict) and messages[-1].get("role") == "tool"
        # the tool results since the model's last turn (user text may follow them)
        results = []
        for message in reversed(messages if chat else []):
            if not isinstance(message, dict) or message.get("role") == "assistant":
                break
            if message.get("role") == "tool":
                results.insert(0, _text_of(message.get("content")))
        functions = (
            [t.get("function", {}) for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []
        )
        named = {str(f.get("name")): f.get("parameters") for f in functions if isinstance(f, dict)}
        scripted = scripted_call(text, named) if chat and not results else None
        if scripted is not None:
            arguments = dumps(scripted.arguments).decode()
            call = ("call_" + uuid.uuid4().hex[:24], scripted.name, arguments)
            return _Reply(re.findall(r"\W+|\w+", arguments), "tool_calls", prompt_tokens, cached, call)
        if results:  # the answer quotes the results, and the user's words that came with them
            text = " ".join(results if answering_results else [*results, text])
        # a model answers in words once it has the tool results it asked for
        if (
            chat
            and "tool" in str(body.get("model"))
            and isinstance(tools, list)
            and tools
            and not answering_results
        ):
            function = tools[0].get("function", {}) if isinstance(tools[0], dict) else {}
            arguments = dumps(_arguments_for(function.get("parameters"), text)).decode()
            call = ("call_" + uuid.uuid4().hex[:24], str(function.get("name", "tool")), arguments)
            return _Reply(re.findall(r"\W+|\w+", arguments), "tool_calls", prompt_tokens, cached, call)
        kind = scenario.kind
        pieces = filler_words(int(scenario.value)) if kind == "chunks" else reply_words(scenario, text)
        fmt = body.get("response_format")
        if chat and isinstance(fmt, dict) and fmt.get("type") == "json_schema" and kind == "normal":
            pieces = json_reply((fmt.get("json_schema") or {}).get("schema"), text)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if isinstance(limit, int) and 0 < limit < len(pieces) and kind not in ("stall", "reset", "drip"):
            return _Reply(pieces[:limit], "length", prompt_tokens, cached)
        return _Reply(pieces, "stop", prompt_tokens, cached)

    # -- embeddings -----------------------------------------------------------------------------

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body = await self._admit(request)
        if isinstance(body, web.Response):
            return body
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._missing("model")
        raw_input = body.get("input")
        if raw_input is None:
            return self._missing("input")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            message = f"{encoding!r} is not one of ['float', 'base64'] - 'encoding_format'"
            return self._json(400, _error(message, "invalid_request_error", "encoding_format"))
        failed = self._scenario_error(model)
        if failed is not None:
            return failed
        scenario = scenario_for(model)
        if scenario.kind == "slow":
            await asyncio.sleep(scenario.value)
        # input: a string, a list of strings, a token list, or a list of token lists
        if isinstance(raw_input, str) or (raw_input and all(isinstance(i, int) for i in raw_input)):
            raw_input = [raw_input]
        items = [i if isinstance(i, str) else " ".join(map(str, i)) for i in raw_input]
        dimensions = body.get("dimensions")
        data = [
            {"object": "embedding", "index": index, "embedding": self._vector(text, dimensions, encoding)}
            for index, text in enumerate(items)
        ]
        tokens = sum(max(1, estimate_tokens(text)) for text in items)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return self._json(200, {"object": "list", "data": data, "model": model, "usage": usage})

    def _vector(self, text: str, dimensions: Any, encoding: str) -> str | list[float]:
        """The recorded embedding, rotated by a hash of ``text`` so different inputs differ."""
        shift = zlib.crc32(text.encode()) % len(self._embedding)
        values = self._embedding[shift:] + self._embedding[:shift]
        if isinstance(dimensions, int) and 0 < dimensions < len(values):
            # text-embedding-3 shortening: truncate, then L2-normalise again
            norm = math.sqrt(sum(v * v for v in values[:dimensions])) or 1.0
            values = tuple(v / norm for v in values[:dimensions])
        if encoding == "base64":
            return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        return [float(f"{v:.9g}") for v in values]


def _arguments_for(schema: Any, text: str) -> dict[str, Any]:
    """Deterministic arguments satisfying a JSON schema's required properties."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return {}
    samples: dict[str, Any] = {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}
    names = schema.get("required") or list(schema["properties"])
    props = schema["properties"]
    return {
        n: samples.get(props.get(n, {}).get("type"), text or "value") for n in names if isinstance(n, str)
    }


def _usage(reply: _Reply) -> dict[str, Any]:
    completion = len(reply.pieces)
    template = _templates().chunks[-1]["usage"]
    return {
        **template,
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
        "prompt_tokens_details": {**template["prompt_tokens_details"], "cached_tokens": reply.cached_tokens},
    }


def _chat_body(cid: str, created: int, model: str, reply: _Reply) -> dict[str, Any]:
    t = _templates()
    template = t.tool_call if reply.tool else t.chat
    choice = template["choices"][0]
    message = dict(choice["message"])
    if reply.tool:
        call_id, name, arguments = reply.tool
        message["tool_calls"] = [
            {"function": {"arguments": arguments, "name": name}, "id": call_id, "type": "function"}
        ]
    else:
        message["content"] = "".join(reply.pieces)
    return {
        **template,
        "choices": [{**choice, "finish_reason": reply.finish, "logprobs": None, "message": message}],
        "created": created,
        "id": cid,
        "model": model,
        "usage": _usage(reply),
    }


def _chat_events(
    cid: str, created: int, model: str, reply: _Reply, include_usage: bool, obfuscate: bool
) -> tuple[list[bytes], int]:
    """``data:`` events shaped like ``chat.stream_text.sse`` and the count of events before the content."""
    t = _templates()
    recorded = t.tool_chunks if reply.tool else t.chunks
    head = {k: v for k, v in recorded[0].items() if k not in ("choices", "usage", "obfuscation")}
    head.update(id=cid, created=created, model=model)
    choice = {k: v for k, v in recorded[0]["choices"][0].items() if k != "delta"}

    def event(index: int, choices: list[Any], usage: Any = None) -> bytes:
        chunk = {**head, "choices": choices}
        if include_usage:
            chunk["usage"] = usage
        if obfuscate:
            chunk["obfuscation"] = _OBFUSCATION[: 1 + index * 7 % 15]
        return b"data: " + dumps(chunk) + b"\n\n"

    first = dict(recorded[0]["choices"][0]["delta"])
    if reply.tool:
        call_id, name, _ = reply.tool
        tool_call = {
            "index": 0,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        first["tool_calls"] = [tool_call]
    events = [event(0, [{**choice, "delta": first}])]
    for index, piece in enumerate(reply.pieces, 1):
        if reply.tool:
            delta: dict[str, Any] = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        else:
            delta = {"content": piece}
        events.append(event(index, [{**choice, "delta": delta}]))
    events.append(event(len(events), [{**choice, "delta": {}, "finish_reason": reply.finish}]))
    if include_usage:
        events.append(event(len(events), [], _usage(reply)))
    events.append(b"data: [DONE]\n\n")
    return events, 1


def _text_body(cid: str, created: int, model: str, reply: _Reply) -> dict[str, Any]:
    completion = len(reply.pieces)
    return {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"text": "".join(reply.pieces), "index": 0, "logprobs": None, "finish_reason": reply.finish}
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": reply.prompt_tokens + completion,
        },
    }


def _text_events(
    cid: str, created: int, model: str, reply: _Reply, include_usage: bool, obfuscate: bool
) -> tuple[list[bytes], int]:
    """Legacy ``text_completion`` stream events (no role chunk, so no events before the content)."""
    usage = _text_body(cid, created, model, reply)["usage"]

    def event(choices: list[Any], usage_value: Any = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": cid,
            "object": "text_completion",
            "created": created,
            "choices": choices,
        }
        chunk["model"] = model
        if include_usage:
            chunk["usage"] = usage_value
        return b"data: " + dumps(chunk) + b"\n\n"

    def choice(text: str, finish: str | None) -> list[Any]:
        return [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]

    events = [event(choice(piece, None)) for piece in reply.pieces]
    events.append(event(choice("", reply.finish)))
    if include_usage:
        events.append(event([], usage))
    events.append(b"data: [DONE]\n\n")
    return events, 0


def main(argv: Sequence[str] | None = None) -> None:
    """Serve in the foreground (uvloop when importable) until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fakes.openai_upstream", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--key", action="append", help=f"an accepted API key (default {DEFAULT_KEY})")
    parser.add_argument("--accept-any-key", action="store_true", help="accept any non-empty bearer key")
    parser.add_argument("--record", action="store_true", help="keep every request in memory")
    args = parser.parse_args(argv)
    fake = FakeOpenAI(args.key or (DEFAULT_KEY,), accept_any_key=args.accept_any_key, record=args.record)

    def on_ready() -> None:
        loop, stop = asyncio.get_running_loop(), fake._stop_event
        assert stop is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print(f"fake OpenAI upstream on http://{args.host}:{args.port}/v1", flush=True)

    async def serve() -> None:
        await fake._serve(socket.create_server((args.host, args.port)), on_ready)

    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve())


if __name__ == "__main__":
    main()
