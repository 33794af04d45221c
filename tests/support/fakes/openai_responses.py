"""The Responses API of the fake OpenAI upstream, mounted by ``FakeOpenAI``: ``POST /v1/responses`` (stream
and not), ``GET``/``DELETE /v1/responses/{id}``, ``GET /v1/responses/{id}/input_items`` and ``POST
/v1/responses/input_tokens``. Payloads are built by ``responses_payloads`` from the recordings in
``tests/fixtures/providers/openai/responses`` and OpenAI's schemas (``tests/support/responses_schema``).

What ``POST /v1/responses`` does, in order:

1. ``FakeOpenAI``'s prologue: the request recorded, the key checked (401, ``key_behaviors``), JSON parsed;
   then ``model`` required (400, the API's words).
2. ``FakeOpenAI``'s magic model names: ``fail-500``, ``fail-503``, ``status-<code>``, ``rate-limited``
   (429, ``retry-after: 3``), ``bad-request`` (400), ``not-found`` (404); ``slow-<s>``, ``stall-<k>``,
   ``reset-<k>`` (the TCP connection reset after ``k`` deltas), ``drip-<ms>``, ``chunks-<n>``, and
   ``error-mid-stream-<k>``: ``k`` deltas, then ``response.failed`` (``server_error``) ends the stream.
3. ``replay-<case>``: the recorded answer of case ``create.<case>`` of ``openai/responses`` (its status
   and body, an ``.sse`` one byte for byte and only to ``stream: true``), remembered like the fake's own.
4. The request checked as the API checks it: an unknown top-level parameter (400 ``unknown_parameter``),
   OpenAI's ``CreateResponse`` schema (400 naming the parameter, in the API's words where known): set
   ``fake.responses.strict = False`` to skip these two for a client newer than the document,
   ``temperature``/``top_p``/``max_output_tokens`` bounds (400, the API's words, recorded for
   ``temperature``), ``reasoning`` for a model that takes none (400 ``unsupported_parameter``), a
   ``previous_response_id`` this key did not make (400 ``previous_response_not_found``: the API answers
   a POST with 400, a GET or DELETE of the id with 404), a ``reasoning`` item whose ``encrypted_content``
   this key was not given (400 ``invalid_encrypted_content``), a ``reasoning`` item last or followed by
   user input or a tool output (400, the recorded words), a tool output whose call is not in the
   conversation (400). ``background``, ``conversation`` and ``prompt`` are not supported (400 saying so).
5. The scripted answer (``responses_payloads.plan``), remembered unless ``store`` is false, per API key:
   OpenAI keeps a response with the account that made it, and the fake takes each key for an account.

``chunks-<n>`` is the benchmark path, as for chat completions: once a request body passed the checks
above, its answer's bytes are kept (while they depend on the body alone: no ``previous_response_id``,
no reasoning items, no cached prompt), and the same body again skips the checks and the building. Each
answer still gets a fresh response id (written into the kept bytes) and is remembered as in step 5.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .fake_server import NORMAL, Scenario, dumps, estimate_tokens
from .fixtures import case_headers, fixtures_dir, load_json, load_manifest
from .responses_payloads import (
    Answer,
    encode_event,
    input_items,
    item_resource,
    new_id,
    plan,
    response_object,
    stream_events,
    text_of,
)

if TYPE_CHECKING:
    from .openai_upstream import FakeOpenAI

__all__ = ["RECORDED", "ResponsesAPI", "StoredResponse"]

RECORDED = "openai/responses"  # the fixture directory replay-<case> reads
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
_UNSUPPORTED = ("background", "conversation", "prompt")
_OUTPUTS = ("function_call_output", "custom_tool_call_output")
_NOT_REASONING = ("gpt-4", "gpt-3.5", "chatgpt-4o")  # as FakeOpenAI's chat: they take no reasoning
_KEEP = 10_000  # stored responses and minted contents kept, newest first (a long benchmark stays bounded)
_KEEP_PREBUILT = 256  # chunks-<n> answers kept, by request body
_SERVER_ERROR = (
    "An error occurred while processing your request. You can retry your request, or contact us through "
    "our help center at help.openai.com if the error persists."
)


def _error(message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _may_follow_reasoning(item: Mapping[str, Any] | None) -> bool:
    """A reasoning item is sent back with the model's item that followed it, never last or before input
    (a user, system or developer message, or a tool output)."""
    if item is None or item.get("type") in _OUTPUTS:
        return False
    return not (item.get("type", "message") == "message" and item.get("role") != "assistant")


def _schema_refusal(error: Any) -> tuple[str, str | None, str]:
    """(message, param, code) of the API's 400 for a schema error: its wording for a missing parameter,
    a wrong type and a value not in a list; otherwise the validator's words after the API's prefix. A
    union's error speaks for its deepest branch (a value, rather than a type, where they tie)."""
    from ..responses_schema import json_path

    while error.context:
        error = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
    param = json_path(error.absolute_path)
    required = re.fullmatch(r"'(.+)' is a required property", error.message)
    if required is not None:
        missing = f"{param}.{required[1]}" if param else required[1]
        return f"Missing required parameter: '{missing}'.", missing, "missing_required_parameter"
    if error.validator == "type" and isinstance(error.validator_value, str):
        got = {bool: "boolean", int: "integer", float: "decimal", str: "string", list: "array",
               dict: "object", type(None): "null"}.get(type(error.instance), "value")  # fmt: skip
        expected = (
            "an " + error.validator_value
            if error.validator_value[0] in "aeiou"
            else "a " + error.validator_value
        )
        return (
            f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
            param,
            "invalid_type",
        )
    if error.validator == "enum":
        values = [f"'{v}'" for v in error.validator_value]
        listed = ", ".join(values[:-1]) + f", and {values[-1]}" if len(values) > 2 else " and ".join(values)
        return f"Invalid value: '{error.instance}'. Supported values are: {listed}.", param, "invalid_value"
    return f"Invalid '{param}': {error.message}.", param or None, "invalid_value"


def _trim(kept: dict[str, Any]) -> None:
    """Drop the oldest entries past ``_KEEP`` (dicts keep insertion order)."""
    while len(kept) > _KEEP:
        del kept[next(iter(kept))]


def _obfuscates(body: Mapping[str, Any]) -> bool:
    """Whether stream deltas carry ``obfuscation`` (``stream_options.include_obfuscation``, default on)."""
    options = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
    return options.get("include_obfuscation", True) is not False


def _reusable(body: Mapping[str, Any], items: list[dict[str, Any]], answer: Answer, tokens: int) -> bool:
    """Whether an answer depends on its request body alone, so the same body may get its bytes again:
    nothing from an earlier response or another key (``previous_response_id``, reasoning items and their
    encrypted content), no prompt long enough to be cached on a repeat."""
    return (
        body.get("previous_response_id") is None
        and tokens < 1024
        and all(item.get("type") != "reasoning" for item in items)
        and all(output.item.get("type") != "reasoning" for output in answer.outputs)
    )


def _bearer(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


@dataclass(frozen=True, slots=True)
class _Prebuilt:
    """A ``chunks-<n>`` answer kept as bytes: the whole body, or the stream's events; ``with_id`` are the
    indexes of the pieces that carry the response id (rewritten per answer)."""

    response: dict[str, Any]
    pieces: tuple[bytes, ...]
    with_id: tuple[int, ...]
    content_at: tuple[int, ...]


@dataclass(slots=True)
class StoredResponse:
    """A response the fake remembers: the key that made it, the Response, its input items (with ids)
    and the conversation a follow-up by ``previous_response_id`` continues."""

    key: str
    response: dict[str, Any]
    input_items: list[dict[str, Any]]
    conversation: list[dict[str, Any]] = field(default_factory=list)


class ResponsesAPI:
    """The Responses API routes of a :class:`FakeOpenAI`, and what it remembers per API key."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.strict = (
            True  # refuse what OpenAI's CreateResponse schema does not allow, unknown parameters too
        )
        self._stored: dict[str, StoredResponse] = {}
        self._minted: dict[str, str] = {}  # encrypted_content -> the key it was given to
        self._prebuilt: dict[tuple[bool, bytes], _Prebuilt] = {}  # (strict, request body) -> answer

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/responses", self._create)
        app.router.add_post("/v1/responses/input_tokens", self._input_tokens)
        app.router.add_get("/v1/responses/{response_id}", self._retrieve)
        app.router.add_delete("/v1/responses/{response_id}", self._delete)
        app.router.add_get("/v1/responses/{response_id}/input_items", self._input_items)

    # -- what tests look at ---------------------------------------------------------------------

    def stored(self, response_id: str) -> StoredResponse | None:
        """The remembered response ``response_id`` (any key's), or None."""
        with self.fake._lock:
            return self._stored.get(response_id)

    def forget(self) -> None:
        """Forget every stored response and minted encrypted content."""
        with self.fake._lock:
            self._stored.clear()
            self._minted.clear()

    # -- state ----------------------------------------------------------------------------------

    def _mint(self, key: str) -> Callable[[str], str]:
        def mint(item_id: str) -> str:
            content = "gAAAAAB" + base64.urlsafe_b64encode(secrets.token_bytes(96)).decode()
            with self.fake._lock:
                self._minted[content] = key
                _trim(self._minted)
            return content

        return mint

    def _owned(self, response_id: str, key: str) -> StoredResponse | None:
        with self.fake._lock:
            stored = self._stored.get(response_id)
        return stored if stored is not None and stored.key == key else None

    def _remember(
        self, key: str, body: Mapping[str, Any], response: dict[str, Any], before: list[dict[str, Any]]
    ) -> None:
        """Keep ``response`` for ``key`` (unless the request said ``store: false``); its reasoning
        items' encrypted content, from a replay, counts as given to ``key``."""
        items = input_items(body)
        with self.fake._lock:
            for item in response.get("output") or ():
                if isinstance(item, dict) and isinstance(item.get("encrypted_content"), str):
                    self._minted.setdefault(item["encrypted_content"], key)
            if body.get("store", True) is not False:
                self._stored[response["id"]] = StoredResponse(
                    key,
                    response,
                    [item_resource(item) for item in items],
                    [*before, *items, *(response.get("output") or ())],
                )
                _trim(self._stored)
            _trim(self._minted)

    # -- helpers --------------------------------------------------------------------------------

    def _invalid(self, message: str, param: str | None, code: str | None, status: int = 400) -> web.Response:
        return self.fake._json(status, _error(message, param, code))

    def _not_found(self, response_id: str) -> web.Response:
        return self.fake._json(404, _error(f"Response with id '{response_id}' not found."))

    def _input_tokens_of(self, body: Mapping[str, Any], conversation: list[dict[str, Any]]) -> int:
        texts = [text_of(body.get("instructions"))]
        for item in conversation:
            texts.append(text_of(item.get("content")) or text_of(item.get("output")))
            texts.append(str(item.get("arguments") or item.get("input") or ""))
        tools = dumps(body.get("tools") or []).decode() if body.get("tools") else ""
        return 3 + sum(3 + estimate_tokens(t) for t in texts if t) + estimate_tokens(tools)

    def _cached(self, tokens: int, conversation: list[dict[str, Any]]) -> int:
        """OpenAI caches a repeated prompt of 1024+ tokens, in 128-token steps (as FakeOpenAI's chat)."""
        if tokens < 1024:
            return 0
        digest = zlib.crc32(dumps(conversation))
        with self.fake._lock:
            seen = digest in self.fake._seen_prompts
            self.fake._seen_prompts.add(digest)
        return tokens // 128 * 128 if seen else 0

    # -- checks ---------------------------------------------------------------------------------

    def _prepare(
        self, body: dict[str, Any], model: str, key: str
    ) -> web.Response | tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The request checked as the API checks it: the error, or the conversation so far (by
        ``previous_response_id``) and this request's input items."""
        # imported here: FakeOpenAI's other routes (and the benchmark) do without jsonschema
        from ..responses_schema import errors as schema_errors
        from ..responses_schema import request_parameters

        known = request_parameters()
        unknown = [name for name in body if name not in known] if self.strict else []
        if unknown:
            return self._invalid(f"Unknown parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter")
        for name in _UNSUPPORTED:
            if body.get(name):
                return self._invalid(f"The fake OpenAI upstream does not support '{name}'.", name, None)
        refused = self._bounds(body)
        if refused is not None:
            return refused
        if self.strict:
            found = schema_errors("request", body)
            if found:
                return self._invalid(*_schema_refusal(found[0]))
        if body.get("reasoning") is not None and model.startswith(_NOT_REASONING):
            message = "Unsupported parameter: 'reasoning.effort' is not supported with this model."
            return self._invalid(message, "reasoning.effort", "unsupported_parameter")
        before: list[dict[str, Any]] = []
        previous = body.get("previous_response_id")
        if previous is not None:
            stored = self._owned(str(previous), key)
            if stored is None:
                message = f"Previous response with id '{previous}' not found."
                return self._invalid(message, "previous_response_id", "previous_response_not_found")
            before = stored.conversation
        items = input_items(body)
        refused = self._check_items(before, items, key)
        return refused if refused is not None else (before, items)

    def _bounds(self, body: Mapping[str, Any]) -> web.Response | None:
        for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1)):
            value = body.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and not low <= value <= high:
                below = value < low
                side, sign, bound = ("below minimum", ">=", low) if below else ("above maximum", "<=", high)
                message = (
                    f"Invalid '{name}': decimal {side} value. Expected a value {sign} {bound}, "
                    f"but got {value} instead."
                )
                return self._invalid(message, name, f"decimal_{'below_min' if below else 'above_max'}_value")
        limit = body.get("max_output_tokens")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit < 16:
            message = (
                "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, "
                f"but got {limit} instead."
            )
            return self._invalid(message, "max_output_tokens", "integer_below_min_value")
        return None

    def _check_items(
        self, before: list[dict[str, Any]], items: list[dict[str, Any]], key: str
    ) -> web.Response | None:
        calls = {i.get("call_id") for i in before if i.get("type") in ("function_call", "custom_tool_call")}
        for index, item in enumerate(items):
            kind = item.get("type", "message")
            if kind == "reasoning":
                content = item.get("encrypted_content")
                with self.fake._lock:
                    given_to = self._minted.get(content) if isinstance(content, str) else key
                if given_to != key:
                    message = (
                        f"The encrypted content for item {item.get('id')} could not be verified. Reason: "
                        "Encrypted content could not be decrypted or parsed."
                    )
                    return self._invalid(message, None, "invalid_encrypted_content")
                if not _may_follow_reasoning(items[index + 1] if index + 1 < len(items) else None):
                    message = (
                        f"Item '{item.get('id')}' of type 'reasoning' was provided without its required "
                        "following item."
                    )
                    return self._invalid(message, "input", None)
            elif kind in ("function_call", "custom_tool_call"):
                calls.add(item.get("call_id"))
            elif kind in _OUTPUTS and item.get("call_id") not in calls:
                what = "function call" if kind == "function_call_output" else "custom tool call"
                message = f"No tool call found for {what} output with call_id {item.get('call_id')}."
                return self._invalid(message, "input", None)
        return None

    # -- POST /v1/responses ---------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await self.fake._admit(request)
        if isinstance(body, web.Response):
            return body
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self.fake._missing("model")
        failed = self.fake._scenario_error(model)
        if failed is not None:
            return failed
        key = _bearer(request)
        if model.startswith("replay-"):
            return await self._replay(request, body, model, key)
        scenario = self.fake.scenario(model, in_stream_errors=True)
        stream = body.get("stream") is True
        cache_key = (self.strict, await request.read()) if scenario.kind == "chunks" else None
        built = self._prebuilt.get(cache_key) if cache_key is not None else None
        if built is not None:
            return await self._send_prebuilt(request, body, model, key, built, scenario, stream)
        prepared = self._prepare(body, model, key)
        if isinstance(prepared, web.Response):
            return prepared
        before, items = prepared
        conversation = [*before, *items]
        if await self.fake.before_headers(request, scenario, stream):
            return web.Response(status=500)
        answer = plan(body, conversation, model, scenario, self._mint(key))
        tokens = self._input_tokens_of(body, conversation)
        response = response_object(
            body,
            response_id=new_id("resp_"),
            created_at=int(time.time()),
            model=model,
            answer=answer,
            input_tokens=tokens,
            cached_tokens=self._cached(tokens, conversation),
        )
        if cache_key is not None and _reusable(body, items, answer, tokens):
            self._keep_prebuilt(cache_key, body, response, answer, stream)
        self._remember(key, body, response, before)
        if not stream:
            self.fake.report_usage(model, response["usage"], stream=False)
            return self.fake._json(200, response)
        return await self._stream(request, body, model, response, answer, scenario)

    def _keep_prebuilt(
        self,
        cache_key: tuple[bool, bytes],
        body: Mapping[str, Any],
        response: dict[str, Any],
        answer: Answer,
        stream: bool,
    ) -> None:
        if stream:
            events, content_at = stream_events(response, answer.outputs, obfuscate=_obfuscates(body))
            pieces = tuple(encode_event(e) for e in events)
        else:
            pieces, content_at = (dumps(response),), []
        marker = response["id"].encode()
        with_id = tuple(i for i, piece in enumerate(pieces) if marker in piece)
        with self.fake._lock:
            self._prebuilt[cache_key] = _Prebuilt(response, pieces, with_id, tuple(content_at))
            while len(self._prebuilt) > _KEEP_PREBUILT:
                del self._prebuilt[next(iter(self._prebuilt))]

    async def _send_prebuilt(
        self,
        request: web.Request,
        body: Mapping[str, Any],
        model: str,
        key: str,
        built: _Prebuilt,
        scenario: Scenario,
        stream: bool,
    ) -> web.StreamResponse:
        """A kept ``chunks-<n>`` answer under a fresh response id, remembered like any other."""
        if await self.fake.before_headers(request, scenario, stream):
            return web.Response(status=500)
        response_id = new_id("resp_")
        old, new = built.response["id"].encode(), response_id.encode()
        pieces = list(built.pieces)
        for index in built.with_id:
            pieces[index] = pieces[index].replace(old, new)
        response = {**built.response, "id": response_id}
        self._remember(key, body, response, [])
        if not stream:
            self.fake.report_usage(model, response["usage"], stream=False)
            return self.fake._json(200, pieces[0])
        headers = {**_SSE_HEADERS, "x-request-id": f"req_{secrets.token_hex(16)}"}
        final_usage = (len(pieces) - 1, response["usage"])
        return await self.fake.stream(
            request, model, pieces, built.content_at, scenario, headers, final_usage=final_usage
        )

    async def _stream(
        self,
        request: web.Request,
        body: Mapping[str, Any],
        model: str,
        response: dict[str, Any],
        answer: Answer,
        scenario: Scenario,
    ) -> web.StreamResponse:
        events, content_at = stream_events(response, answer.outputs, obfuscate=_obfuscates(body))
        error_event = None
        if scenario.kind == "midstream":
            k = int(scenario.value)
            cut = content_at[k] if k < len(content_at) else len(events)
            failed = {**response, "status": "failed", "completed_at": None, "output": [], "usage": None,
                      "error": {"code": "server_error", "message": _SERVER_ERROR}}  # fmt: skip
            event = {"type": "response.failed", "sequence_number": cut, "response": failed}
            error_event = encode_event(event)
        headers = {**_SSE_HEADERS, "x-request-id": f"req_{secrets.token_hex(16)}"}
        return await self.fake.stream(
            request,
            model,
            [encode_event(e) for e in events],
            content_at,
            scenario,
            headers,
            error_event=error_event,
            final_usage=(len(events) - 1, response["usage"]),
        )

    async def _replay(
        self, request: web.Request, body: dict[str, Any], model: str, key: str
    ) -> web.StreamResponse:
        case = "create." + model.removeprefix("replay-")
        entry = load_manifest(RECORDED)["cases"].get(case)
        if entry is None:
            return self.fake._status_error(404, model)
        sse = entry["file"].endswith(".sse")
        if sse != (body.get("stream") is True):
            wanted = "true" if sse else "false or absent"
            return self._invalid(f"The fake replays {case} only with stream {wanted}.", "stream", None)
        headers = case_headers(RECORDED, case)
        if not sse:
            payload = load_json(RECORDED, case)
            if entry["status"] == 200:
                self._remember(key, body, payload, [])
                self.fake.report_usage(model, payload.get("usage") or {}, stream=False)
            return self.fake._json(int(entry["status"]), payload, headers)
        raw = (fixtures_dir() / RECORDED / entry["file"]).read_bytes()
        chunks = [chunk + b"\n\n" for chunk in raw.split(b"\n\n") if chunk.strip()]
        parsed = [json.loads(chunk.split(b"data: ", 1)[1]) for chunk in chunks]
        content_at = [i for i, event in enumerate(parsed) if str(event.get("type")).endswith(".delta")]
        final = parsed[-1].get("response") or {}
        self._remember(key, body, final, [])
        usage = (len(chunks) - 1, final.get("usage") or {})
        headers = {**_SSE_HEADERS, **headers}
        return await self.fake.stream(request, model, chunks, content_at, NORMAL, headers, final_usage=usage)

    # -- the other routes -----------------------------------------------------------------------

    async def _input_tokens(self, request: web.Request) -> web.Response:
        body = await self.fake._admit(request)
        if isinstance(body, web.Response):
            return body
        previous = body.get("previous_response_id")
        stored = self._owned(str(previous), _bearer(request)) if previous is not None else None
        if previous is not None and stored is None:
            message = f"Previous response with id '{previous}' not found."
            return self._invalid(message, "previous_response_id", "previous_response_not_found")
        conversation = [*(stored.conversation if stored else []), *input_items(body)]
        tokens = self._input_tokens_of(body, conversation)
        return self.fake._json(200, {"object": "response.input_tokens", "input_tokens": tokens})

    async def _retrieve(self, request: web.Request) -> web.Response:
        admitted = await self.fake._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        response_id = request.match_info["response_id"]
        stored = self._owned(response_id, _bearer(request))
        return self._not_found(response_id) if stored is None else self.fake._json(200, stored.response)

    async def _delete(self, request: web.Request) -> web.Response:
        admitted = await self.fake._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        response_id = request.match_info["response_id"]
        if self._owned(response_id, _bearer(request)) is None:
            return self._not_found(response_id)
        with self.fake._lock:
            self._stored.pop(response_id, None)
        return self.fake._json(200, {"id": response_id, "object": "response.deleted", "deleted": True})

    async def _input_items(self, request: web.Request) -> web.Response:
        admitted = await self.fake._admit(request)
        if isinstance(admitted, web.Response):
            return admitted
        response_id = request.match_info["response_id"]
        stored = self._owned(response_id, _bearer(request))
        if stored is None:
            return self._not_found(response_id)
        order = request.query.get("order", "desc")
        limit_text = request.query.get("limit", "20")
        if order not in ("asc", "desc"):
            message = f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'."
            return self._invalid(message, "order", "invalid_value")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            message = f"Invalid 'limit': expected an integer between 1 and 100, but got {limit_text} instead."
            return self._invalid(message, "limit", "invalid_value")
        items = stored.input_items if order == "asc" else stored.input_items[::-1]
        after = request.query.get("after")
        if after is not None:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[: int(limit_text)]
        listing = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > len(page),
        }
        return self.fake._json(200, listing)
