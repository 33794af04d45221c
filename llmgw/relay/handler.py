"""The request hot path, top to bottom, for every client endpoint (`endpoints.ENDPOINTS`):

auth → read and check the body → route the model → the models the user and key may call (`access.py`)
→ the user's and key's limits → `forward` (bridge to the upstream's dialect, pick a key, send, retry on
the next key or fallback while nothing has reached the client; the answer read, or a stream primed) →
`deliver` (translated where needed, relayed back). The request's `Exchange` records it however it ends;
errors answer in the client's dialect.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from llmgw.dialects import Operation
from llmgw.errors import (
    ClientClosed,
    GatewayError,
    InternalError,
    InvalidRequest,
    ModelNotFound,
    ModelNotPriced,
    PayloadTooLarge,
    RequestTimeout,
    Unauthenticated,
)
from llmgw.relay.access import permitted
from llmgw.relay.auth import with_query_key
from llmgw.relay.bridge import Context
from llmgw.relay.catalog import Target
from llmgw.relay.client_watch import ClientWatch
from llmgw.relay.conversation import Conversation
from llmgw.relay.delivery import deliver
from llmgw.relay.endpoints import ClientEndpoint
from llmgw.relay.exchange import Exchange
from llmgw.relay.forward import Call, forward
from llmgw.relay.limits import WorstCase
from llmgw.relay.output_cap import CAP_FIELDS, OutputCap, output_cap, refuse_foreign_caps
from llmgw.relay.prompt_bound import PromptBound, measure, measure_async
from llmgw.relay.record import LineContext
from llmgw.relay.responses import JSON, error_response
from llmgw.relay.runtime import Gateway
from llmgw.relay.token_count import count_anthropic_request
from llmgw.services.model_patterns import ModelAccess
from llmgw.storage import UsageRow
from llmgw.translate.gemini_request_to_anthropic import gemini_count_tokens_request_to_anthropic

log = logging.getLogger("llmgw")

# Real model ids stay well under 100 characters (`openrouter/meta-llama/llama-3.1-405b-instruct:free`);
# the bound keeps what the client chose out of the ledger and the logs at any size.
MODEL_MAX_CHARS = 256
# An oversized body is read and dropped up to this many times the limit before the 413 (read_json).
DRAIN_FACTOR = 2
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


async def handle(endpoint: ClientEndpoint, request: Request) -> Response:
    """A model-calling request at `endpoint` (the app binds each row of `ENDPOINTS` to a route)."""
    gw: Gateway = request.app.state.gateway
    ex = Exchange(gw, endpoint)
    if gw.recorder.json_lines:  # only then: text mode's hot path pays one attribute read
        ex.line = LineContext(request.method, request.scope["path"], gw.client_address(request))
    headers = request.headers
    if endpoint.dialect == "gemini":  # old Gemini clients send the key as `?key=`
        headers = with_query_key(headers, request.query_params.get("key"))
    try:
        principal = gw.auth.check(headers)
    except Unauthenticated as exc:  # counted, not recorded: see record.AuthFailures
        gw.auth_failures.failed(request.client.host if request.client else None)
        return error_response(exc, ex.request_id, endpoint.dialect)
    ex.attribute(principal)
    server = gw.config.server
    try:
        body = await read_json(request, server.max_body_bytes, server.body_timeout)
        path_model = request.path_params.get("model") if endpoint.model_in_path else None
        model = ex.row.model_requested = check_body(body, endpoint, server.max_image_bytes, path_model)
        targets = gw.catalog.resolve(model, "gemini" if endpoint.dialect == "gemini" else None)
        aim(ex.row, targets)  # refused for model access: in the row of the model it named
        targets = permitted(principal.access, model, targets, alias=model in gw.catalog.aliases)
        aim(ex.row, targets)  # refused from here on (a limit, a budget): the first it may call
        call = make_call(gw, request, body, model, ex)
        if endpoint.op is Operation.COUNT_TOKENS:  # free upstream: never limited
            counted = count_locally(gw, targets[0], body, ex)
            if counted is not None:
                return counted
        else:
            budgeted = gw.limits.budget_applies(ex.row.user_id, ex.row.api_key_id)
            prompt = await measure_async(body) if budgeted else None  # counted off the loop when large
            try:
                if budgeted and gw.shared is not None:  # PostgreSQL: one round trip, every instance's holds
                    worst = worst_case_of(gw, body, targets, call.ctx.cap, endpoint, prompt)
                    await gw.shared.admit(ex.row.request_id, ex.row.user_id, ex.row.api_key_id, worst)
                else:
                    admit(gw, ex.row, body, targets, call.ctx.cap, endpoint, prompt)
            except ModelNotPriced:  # a typo'd model is unknown, not unpriced: say so first
                await refuse_unlisted(gw, request, targets, principal.access)
                raise
        watch = ClientWatch(request.receive)
        try:
            answer = await forward(gw, call, targets, ex)
        except asyncio.CancelledError:
            if not watch.client_left():
                raise
            return ex.client_left()  # the upstream call was cancelled with it
        finally:
            watch.stop()
        return deliver(ex, answer)
    except ClientClosed:  # gone while sending its body
        return ex.client_left()
    except GatewayError as exc:
        return ex.fail(exc)
    except Exception:
        # A bug of ours: the client still gets its error format and the request its ledger row.
        log.exception("request %s failed unexpectedly", ex.request_id)
        return ex.fail(InternalError("The gateway failed to handle this request."))


def aim(row: UsageRow, targets: tuple[Target, ...]) -> None:
    """A request refused before it reached a provider counts in the row of the model it would have
    gone to, its first target (forward() puts the one it reached); an unknown model, which has no
    target, keeps only the name it asked for."""
    row.provider, row.model_upstream = targets[0].provider, targets[0].model


def make_call(gw: Gateway, request: Request, body: dict[str, Any], model: str, ex: Exchange) -> Call:
    """The checked request, ready to be bridged to any target: whether it streams, the output cap a
    budget puts on it (400 for another API's cap field under a budget), what translations need to
    know, and the client headers and query parameters that are part of its meaning."""
    endpoint, row = ex.endpoint, ex.row
    # A Responses stream always carries its usage (in its last event): nothing to ask for, or hide.
    if endpoint.model_in_path:  # Gemini: the operation says it (`:streamGenerateContent`)
        stream = endpoint.always_streams
    else:
        stream = endpoint.streams and body.get("stream") is True
    row.streamed = stream
    wants_usage = False
    if stream and endpoint.dialect == "openai":
        options = body.get("stream_options") or {}
        if not isinstance(options, dict):
            raise InvalidRequest("`stream_options` must be an object.", param="stream_options")
        wants_usage = options.get("include_usage") is True
    default_max_tokens = gw.config.server.default_max_tokens
    cap = None
    if gw.limits.budget_applies(row.user_id, row.api_key_id):
        refuse_foreign_caps(body, endpoint.dialect, endpoint.op, endpoint.path)
        cap = output_cap(body, endpoint.dialect, endpoint.op, default_max_tokens)
    conversation = None
    if endpoint.dialect == "responses":
        conversation = Conversation(gw.stored_responses, body, row.user_id, row.api_key_id)
    ctx = Context(
        client_model=model,
        wants_usage=wants_usage,
        default_max_tokens=default_max_tokens,
        encoding_format=body.get("encoding_format") if endpoint.op is Operation.EMBEDDINGS else None,
        cap=cap,
        on_response=conversation.kept if conversation is not None else None,
        array_stream=stream and endpoint.dialect == "gemini" and request.query_params.get("alt") != "sse",
        embed_one=endpoint.dialect == "gemini" and endpoint.required == "content",
    )
    headers = {h: v for h in endpoint.passed_headers if (v := request.headers.get(h))}
    query = {q: v for q in endpoint.passed_query if (v := request.query_params.get(q))}
    return Call(endpoint, body, stream, ctx, headers, query, conversation)


def admit(
    gw: Gateway,
    row: UsageRow,
    body: dict[str, Any],
    targets: tuple[Target, ...],
    cap: OutputCap | None,
    endpoint: ClientEndpoint,
    prompt: PromptBound | None = None,
) -> None:
    """The user's and key's limits (relay/limits.py): 429 over one, 403 for an unpriced model under a
    budget. The worst case is worked out only when a budget applies (then `cap` is the request's output
    cap, None for an operation without output; `prompt` its prompt's bound, measured here if not yet):
    each target's sides, the dearest reserved."""
    gw.limits.admit(
        row.request_id, row.user_id, row.api_key_id, worst_case_of(gw, body, targets, cap, endpoint, prompt)
    )


def worst_case_of(
    gw: Gateway,
    body: dict[str, Any],
    targets: tuple[Target, ...],
    cap: OutputCap | None,
    endpoint: ClientEndpoint,
    prompt: PromptBound | None = None,
) -> Callable[[], WorstCase]:
    """What a request under a budget may cost at most, worked out when called: each target's sides, the
    dearest reserved; 403 for a target without a price."""

    def worst_case() -> WorstCase:
        bound = prompt if prompt is not None else measure(body)
        sides = []
        for target in targets:
            price = gw.prices.lookup(target.provider, target.model)
            if price is None:
                raise ModelNotPriced(
                    f"Model '{target.provider}/{target.model}' has no price in this gateway and a spend "
                    "budget applies to your key or user, so the gateway cannot bound what the request "
                    "would cost; ask an administrator to add its price.",
                    param="model",
                )
            sides.append((price.worst_case_usd(bound.tokens(target.model), 0), price.worst_case_usd(0, 1)))
        fields = CAP_FIELDS.get((endpoint.dialect, endpoint.op))
        # The field the client set; else its API's plain one (chat's `max_tokens`, the last of its two).
        field = (cap.source or fields[-1]) if cap is not None and fields else None
        return WorstCase(tuple(sides), cap, field)

    return worst_case


async def refuse_unlisted(
    gw: Gateway, request: Request, targets: tuple[Target, ...], access: ModelAccess
) -> None:
    """404 for a target its provider does not list (its allow-list, or its upstream's cached model list,
    as `/v1/models` shows it), naming the closest listed names the caller may call: asked only when a
    model has no price under a budget, so a typo reads "unknown model", not "no price". A provider that
    cannot list says nothing here (the 403 for the price stands)."""
    cache = getattr(request.app.state, "model_cache", None)
    if cache is None:
        return
    for target in targets:
        up = gw.upstreams.get(target.provider)
        if up is None or gw.prices.lookup(target.provider, target.model) is not None:
            continue
        try:
            listed = await cache.models_of(up)
        except Exception:  # a listing we cannot read proves nothing: the price's 403 stands
            log.debug("provider %s: its model list could not be read", target.provider, exc_info=True)
            return
        if not listed or target.model in listed:
            continue
        mine = [m for m in listed if access.allows(f"{target.provider}/{m}")]
        close = difflib.get_close_matches(target.model, mine, n=3, cutoff=0.6)
        hint = (
            (" Did you mean " + " or ".join(f"`{target.provider}/{m}`" for m in close) + "?") if close else ""
        )
        raise ModelNotFound(
            f"The model `{target.provider}/{target.model}` does not exist: provider `{target.provider}` "
            f"lists no model `{target.model}`.{hint} GET /v1/models lists the models of this gateway.",
            param="model",
        )


def count_locally(gw: Gateway, target: Target, body: dict[str, Any], ex: Exchange) -> Response | None:
    """count_tokens for an OpenAI-format upstream, which has no such endpoint: an offline tokenizer.

    Its row, like that of a count the upstream answers, holds no tokens (`usage_source` "none", cost
    0 where the model is priced): counting generates nothing and is not billed; the count is the
    answer, not usage."""
    up = gw.upstreams[target.provider]
    if up.adapter.dialect != "openai":
        return None
    ex.row.provider, ex.row.model_upstream = target.provider, target.model
    if ex.endpoint.dialect == "gemini":  # counted as the hub request it becomes, answered as Gemini does
        hub = gemini_count_tokens_request_to_anthropic(body, model=target.model, web_search=False)
        answer: dict[str, Any] = {"totalTokens": count_anthropic_request(hub)}
    else:
        answer = {"input_tokens": count_anthropic_request(body)}
    ex.row.status = 200
    ex.done()
    return Response(orjson.dumps(answer), media_type=JSON, headers={"x-request-id": ex.request_id})


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body is larger than the {limit} bytes this gateway accepts.")


async def read_json(request: Request, limit: int, deadline: float) -> dict[str, Any]:
    """The body as a JSON object; 413 past `limit` bytes (checked before and while reading), 408 when
    it is not complete within `deadline` seconds, `ClientClosed` when the client leaves mid-body.

    An oversized body is read on and dropped, up to `limit` bytes more, before the 413: a TLS proxy in
    front (nginx, Caddy) still writing it when the gateway answers and closes gets a connection reset
    and shows its client a 502 instead of the 413 (seen under load in tests/process/test_tls_proxy.py).
    """
    declared = request.headers.get("content-length")
    oversized = bool(declared and declared.isdigit() and int(declared) > limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    oversized = True
                if oversized:
                    chunks.clear()
                    if size > DRAIN_FACTOR * limit:
                        break
                else:
                    chunks.append(chunk)
    except TimeoutError:
        if oversized:
            raise too_large(limit) from None
        raise RequestTimeout(f"The request body did not arrive in full within {deadline:g} s.") from None
    except ClientDisconnect:
        if oversized:
            raise too_large(limit) from None
        raise ClientClosed("The client closed the connection before its request body arrived.") from None
    if oversized:
        raise too_large(limit)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc.msg}.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def check_body(
    body: dict[str, Any], endpoint: ClientEndpoint, limit: int, path_model: str | None = None
) -> str:
    """The requested model (the body's, or the path's for an endpoint with `model_in_path`); 400 for
    what no upstream could accept."""
    model = path_model if endpoint.model_in_path else body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("`model` is required and must be a non-empty string.", param="model")
    if len(model) > MODEL_MAX_CHARS:
        raise InvalidRequest(f"`model` is longer than {MODEL_MAX_CHARS} characters.", param="model")
    if CONTROL_CHARS.search(model):
        raise InvalidRequest("`model` must not contain control characters.", param="model")
    field = endpoint.required
    value = body.get(field)
    if endpoint.dialect == "gemini":
        check_gemini(body, endpoint, limit)
        return model
    if value is None:
        raise InvalidRequest(f"`{field}` is required.", param=field)
    if field == "messages":
        if not isinstance(value, list) or not value:
            raise InvalidRequest("`messages` must be a non-empty array.", param="messages")
        for i, m in enumerate(value):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise InvalidRequest(
                    f"`messages[{i}]` must be an object with a string `role`.", param="messages"
                )
        check_images(value, limit)
    elif endpoint.dialect == "responses":
        check_input(value, limit)
    if endpoint.dialect == "anthropic" and endpoint.op is Operation.CHAT:
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise InvalidRequest(
                "`max_tokens` is required and must be a positive integer.", param="max_tokens"
            )
    if "stream" in body and not isinstance(body["stream"], bool | None):
        raise InvalidRequest("`stream` must be a boolean.", param="stream")
    return model


def check_images(messages: list[Any], limit: int) -> None:
    """400 for an inline image over `limit` bytes decoded, in either dialect's message format."""
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                continue
            data = ""
            if part.get("type") == "image_url" and isinstance(part.get("image_url"), dict):
                url = part["image_url"].get("url")
                data = url.partition(",")[2] if isinstance(url, str) and url.startswith("data:") else ""
            elif part.get("type") == "image" and isinstance(part.get("source"), dict):
                data = part["source"].get("data") if part["source"].get("type") == "base64" else ""
            if isinstance(data, str) and len(data) * 3 // 4 > limit:
                raise InvalidRequest(
                    f"`messages[{i}].content[{j}]`: the image is larger than {limit} bytes.",
                    param=f"messages[{i}].content[{j}]",
                )


def check_input(value: Any, limit: int) -> None:
    """A Responses request's `input`: a string, or a non-empty array of items (objects); 400 for an
    inline image (an `input_image` part's `data:` URL, in a message's `content` or a tool output's
    `output`) over `limit` bytes decoded, as `check_images` does for the other dialects."""
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise InvalidRequest("`input` must be a string or a non-empty array of items.", param="input")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequest(f"`input[{i}]` must be an object.", param=f"input[{i}]")
        for name in ("content", "output"):
            parts = item.get(name)
            if not isinstance(parts, list):
                continue
            for j, part in enumerate(parts):
                if not isinstance(part, dict) or part.get("type") != "input_image":
                    continue
                url = part.get("image_url")
                data = url.partition(",")[2] if isinstance(url, str) and url.startswith("data:") else ""
                if len(data) * 3 // 4 > limit:
                    raise InvalidRequest(
                        f"`input[{i}].{name}[{j}]`: the image is larger than {limit} bytes.",
                        param=f"input[{i}].{name}[{j}]",
                    )


def check_gemini(body: dict[str, Any], endpoint: ClientEndpoint, limit: int) -> None:
    """A Gemini request's required field (countTokens: `contents` or a whole `generateContentRequest`),
    its contents an array of objects, and no `inlineData` over `limit` bytes decoded."""
    field = endpoint.required
    inner = body.get("generateContentRequest")
    if endpoint.op is Operation.COUNT_TOKENS and isinstance(inner, dict) and body.get(field) is None:
        body, where = inner, "generateContentRequest."
    else:
        where = ""
    value = body.get(field)
    if value is None:
        raise InvalidRequest(f"`{where}{field}` is required.", param=f"{where}{field}")
    if field == "requests":
        if not isinstance(value, list) or not value:
            raise InvalidRequest("`requests` must be a non-empty array.", param="requests")
        return
    contents = [value] if field == "content" else value
    if not isinstance(contents, list) or (endpoint.op is Operation.CHAT and not contents):
        raise InvalidRequest(f"`{where}{field}` must be a non-empty array.", param=f"{where}{field}")
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise InvalidRequest(f"`{where}{field}[{i}]` must be an object.", param=f"{where}{field}")
        parts = content.get("parts")
        for j, part in enumerate(parts if isinstance(parts, list) else ()):
            inline = part.get("inlineData") or part.get("inline_data") if isinstance(part, dict) else None
            data = inline.get("data") if isinstance(inline, dict) else None
            if isinstance(data, str) and len(data) * 3 // 4 > limit:
                at = f"{where}{field}[{i}].parts[{j}]"
                raise InvalidRequest(f"`{at}`: the inline data is larger than {limit} bytes.", param=at)
