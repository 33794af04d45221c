"""How a request in the client's dialect reaches an upstream of another dialect, and back.

Anthropic Messages is the hub: an OpenAI client's chat request for an Anthropic upstream is
translated once (openai → anthropic), for a Gemini upstream twice (openai → anthropic → gemini), and
answers and streams come back the same way in reverse. Same dialect on both sides means passthrough:
the body goes upstream unchanged but for `model`, and the answer's bytes come back untouched.

A bridge also says which upstream operation it calls (`upstream_op`, the client's by default): a
Responses client's request passes through to OpenAI's own Responses API (provider type `openai`,
`NATIVE`), while the other OpenAI-format servers, which seldom have one, get chat completions. What a
translation left out that the client asked for goes back in the answer's `headers`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import orjson

from llmgw.dialects import ClientDialect, Operation, UpstreamDialect
from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.relay.output_cap import CAP_FIELDS, OutputCap, with_cap
from llmgw.relay.streams import StreamRelay
from llmgw.relay.streams.gemini import GeminiArrayRelay, GeminiPassthroughRelay
from llmgw.relay.streams.passthrough import (
    AnthropicPassthroughRelay,
    OpenAIPassthroughRelay,
    ResponsesPassthroughRelay,
)
from llmgw.relay.streams.translating import (
    ResponsesTranslatingRelay,
    StreamTranslator,
    TranslatingRelay,
    anthropic_client_relay,
    openai_client_relay,
)
from llmgw.translate.anthropic_to_gemini import anthropic_count_tokens_to_gemini, anthropic_request_to_gemini
from llmgw.translate.anthropic_to_gemini_response import (
    anthropic_count_tokens_to_gemini as anthropic_count_tokens_to_gemini_answer,
)
from llmgw.translate.anthropic_to_gemini_response import anthropic_response_to_gemini
from llmgw.translate.anthropic_to_openai import anthropic_request_to_openai, anthropic_response_to_openai
from llmgw.translate.anthropic_to_responses import anthropic_response_to_responses, new_response_id
from llmgw.translate.gemini_embeddings import (
    gemini_embed_request_to_openai,
    openai_embeddings_to_gemini_answer,
)
from llmgw.translate.gemini_request_to_anthropic import (
    gemini_count_tokens_request_to_anthropic,
    gemini_include_thoughts,
    gemini_request_to_anthropic,
)
from llmgw.translate.gemini_to_anthropic import (
    gemini_count_tokens_to_anthropic,
    gemini_response_to_anthropic,
    without_gemini_thinking,
)
from llmgw.translate.gemini_to_openai import gemini_embeddings_to_openai
from llmgw.translate.hub import lift_system_messages
from llmgw.translate.model_traits import gemini_thinks, openai_reasons
from llmgw.translate.openai_to_anthropic import openai_request_to_anthropic, openai_response_to_anthropic
from llmgw.translate.openai_to_gemini import openai_embeddings_to_gemini
from llmgw.translate.responses_to_anthropic import responses_request_to_anthropic
from llmgw.translate.responses_tools import ToolNames
from llmgw.translate.streams.anthropic_to_gemini import AnthropicToGeminiStream
from llmgw.translate.streams.anthropic_to_openai import AnthropicToOpenAIStream
from llmgw.translate.streams.anthropic_to_responses import AnthropicToResponsesStream
from llmgw.translate.streams.gemini_to_anthropic import GeminiToAnthropicStream
from llmgw.translate.streams.openai_to_anthropic import OpenAIToAnthropicStream
from llmgw.translate.usage import Usage, anthropic_usage, gemini_usage, openai_usage, responses_usage

log = logging.getLogger("llmgw")

HostedTools = Literal["leave_out", "refuse"]  # a provider's `hosted_tools` setting
LEFT_OUT_HEADER = "x-llmgw-tools-left-out"  # the hosted tools a translation did not send upstream
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Context:
    """What the translations need to know about the client's request."""

    client_model: str  # the name the client asked for: answers carry it back
    wants_usage: bool = False  # OpenAI clients: stream_options.include_usage
    default_max_tokens: int = 4096
    encoding_format: str | None = None  # embeddings
    # Set when a spend budget applies: the upstream gets exactly `cap.per_answer` as its maximum, so the
    # budget's reservation (relay/limits.py) bounds what the request can cost (relay/output_cap.py).
    cap: OutputCap | None = None
    # A Responses client's finished Response, handed over for the conversation state
    # (`relay/conversation.py`): the whole answer's, or a stream's terminal event's.
    on_response: Callable[[dict[str, Any]], None] | None = None
    # Gemini clients: a stream without `?alt=sse` is one JSON array; `:embedContent` embeds one content
    # (the upstream is asked `batchEmbedContents` of one).
    array_stream: bool = False
    embed_one: bool = False


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamUnavailable("The upstream answered with invalid JSON.") from None


class Bridge:
    """Passthrough: same dialect on both sides."""

    headers: Mapping[str, str] = _NO_HEADERS  # for the client's answer, set by `request` when needed

    def __init__(
        self,
        client: ClientDialect,
        op: Operation,
        upstream: UpstreamDialect,
        ctx: Context,
        provider_type: str = "",
        hosted_tools: HostedTools = "leave_out",
    ) -> None:
        self.client, self.op, self.upstream, self.ctx = client, op, upstream, ctx
        self.provider_type = provider_type
        self.hosted_tools = hosted_tools

    @property
    def upstream_op(self) -> Operation:
        """The operation the adapter builds the upstream request for: the client's, unless the bridge
        calls another API of the upstream."""
        return self.op

    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        body = self.capped(body)
        if stream and self.upstream == "openai":
            options = body.get("stream_options") or {}
            return {**body, "stream_options": {**options, "include_usage": True}}
        if self.upstream == "anthropic":
            return lift_system_messages(body)  # the same body unless it holds system messages
        return body

    def capped(self, body: dict[str, Any]) -> dict[str, Any]:
        """Under a budget, `body` with the reserved maximum as its only cap field (`with_cap`), in the
        field this bridge's translation reads; unchanged otherwise."""
        cap = self.ctx.cap
        if cap is None or (self.client, self.op) not in CAP_FIELDS:
            return body
        return with_cap(body, self.client, self.op, self.cap_field(), cap.per_answer)

    def cap_field(self) -> str:
        """Passthrough: the field the upstream reads. For OpenAI chat that is `max_completion_tokens` at
        OpenAI itself (its reasoning models refuse `max_tokens`) and `max_tokens` at compatible servers
        (the field they all know)."""
        if self.client == "openai" and self.op is Operation.CHAT and self.provider_type != "openai":
            return "max_tokens"
        return CAP_FIELDS[(self.client, self.op)][0]

    def noted(self, notes: list[str], upstream_model: str) -> None:
        """Log what the translation dropped as a preference the model cannot take."""
        for note in notes:
            log.debug("%s → %s: %s", self.ctx.client_model, upstream_model, note)

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        """The client's answer body and the usage it reports."""
        payload = _json(raw)
        if self.upstream == "anthropic":
            usage = anthropic_usage(payload.get("usage") if isinstance(payload, dict) else None)
        else:
            usage = openai_usage(payload)
        return raw, usage

    @property
    def stream_media_type(self) -> str:
        """The content type of the client's stream."""
        return "application/json" if self.ctx.array_stream else "text/event-stream"

    def stream(self, max_event_bytes: int) -> StreamRelay:
        """The relay for a stream answer; one upstream event may hold `max_event_bytes`."""
        if self.upstream == "anthropic":
            return AnthropicPassthroughRelay(max_event_bytes)
        return OpenAIPassthroughRelay(self.ctx.wants_usage, max_event_bytes)


class Translating(Bridge):
    """A bridge that translates the request: the cap goes in the client dialect's first cap field,
    which the translation reads."""

    def cap_field(self) -> str:
        return CAP_FIELDS[(self.client, self.op)][0]


class OpenAIToAnthropic(Translating):
    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        body = {k: v for k, v in self.capped(body).items() if k != "stream_options"}
        return openai_request_to_anthropic(body, default_max_tokens=self.ctx.default_max_tokens)

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        message = _json(raw)
        out = anthropic_response_to_openai(message, model=self.ctx.client_model)
        return orjson.dumps(out), anthropic_usage(message.get("usage"))

    def stream(self, max_event_bytes: int) -> StreamRelay:
        model = self.ctx.client_model
        chain = [AnthropicToOpenAIStream(model, include_usage=self.ctx.wants_usage)]
        return openai_client_relay(chain, max_event_bytes)


class OpenAIToGemini(Translating):
    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        if self.op is Operation.EMBEDDINGS:
            return openai_embeddings_to_gemini(body, model=upstream_model)
        body = {k: v for k, v in self.capped(body).items() if k != "stream_options"}
        hub = openai_request_to_anthropic(body, default_max_tokens=self.ctx.default_max_tokens)
        notes: list[str] = []
        out = anthropic_request_to_gemini(hub, thinking=gemini_thinks(upstream_model), notes=notes)
        self.noted(notes, upstream_model)
        return out

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        payload = _json(raw)
        if self.op is Operation.EMBEDDINGS:
            out = gemini_embeddings_to_openai(
                payload, model=self.ctx.client_model, encoding_format=self.ctx.encoding_format
            )
            return orjson.dumps(out), openai_usage(out)
        message = gemini_response_to_anthropic(payload, model=self.ctx.client_model)
        out = anthropic_response_to_openai(message, model=self.ctx.client_model)
        return orjson.dumps(out), gemini_usage(payload)

    def stream(self, max_event_bytes: int) -> StreamRelay:
        model = self.ctx.client_model
        chain: list[StreamTranslator] = [
            GeminiToAnthropicStream(model),
            AnthropicToOpenAIStream(model, include_usage=self.ctx.wants_usage),
        ]
        return openai_client_relay(chain, max_event_bytes)


class AnthropicToOpenAI(Translating):
    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        body = self.capped(body)
        notes: list[str] = []
        # OpenAI's own API refuses max_tokens on reasoning models; compatible servers often know only it.
        # Which models reason is known for OpenAI's own; other servers get reasoning_effort as asked.
        if self.provider_type == "openai":
            out = anthropic_request_to_openai(
                body,
                max_tokens_field="max_completion_tokens",
                reasoning=openai_reasons(upstream_model),
                notes=notes,
            )
        else:
            out = anthropic_request_to_openai(body, max_tokens_field="max_tokens")
        self.noted(notes, upstream_model)
        if stream:
            out["stream_options"] = {"include_usage": True}
        return out

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        payload = _json(raw)
        out = openai_response_to_anthropic(payload, model=self.ctx.client_model)
        return orjson.dumps(out), openai_usage(payload)

    def stream(self, max_event_bytes: int) -> StreamRelay:
        return anthropic_client_relay([OpenAIToAnthropicStream(self.ctx.client_model)], max_event_bytes)


class AnthropicToGemini(Translating):
    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        body = self.capped(body)
        thinks = gemini_thinks(upstream_model)
        if self.op is Operation.COUNT_TOKENS:
            return anthropic_count_tokens_to_gemini(body, model=upstream_model, thinking=thinks)
        notes: list[str] = []
        out = anthropic_request_to_gemini(body, thinking=thinks, notes=notes)
        self.noted(notes, upstream_model)
        return out

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        payload = _json(raw)
        if self.op is Operation.COUNT_TOKENS:
            return orjson.dumps(gemini_count_tokens_to_anthropic(payload)), None
        out = gemini_response_to_anthropic(payload, model=self.ctx.client_model)
        return orjson.dumps(out), gemini_usage(payload)

    def stream(self, max_event_bytes: int) -> StreamRelay:
        return anthropic_client_relay([GeminiToAnthropicStream(self.ctx.client_model)], max_event_bytes)


# Fields a client sends that OpenAI's Responses API refuses (400 `unknown_parameter`): Codex CLI's
# `client_metadata` (its installation, thread and turn ids), sent to every custom provider.
_NOT_FOR_OPENAI = ("client_metadata",)


class ResponsesPassthrough(Bridge):
    """A Responses client to OpenAI's own Responses API: the body passes but for `model` (and, under a
    budget, `max_output_tokens`) and the client fields OpenAI refuses (`_NOT_FOR_OPENAI`), hosted tools
    included; the answer's bytes come back untouched, its usage read from its Response (a stream's: from
    its last event)."""

    @property
    def upstream_op(self) -> Operation:
        return Operation.RESPONSES

    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        if any(name in body for name in _NOT_FOR_OPENAI):
            body = {name: value for name, value in body.items() if name not in _NOT_FOR_OPENAI}
        return self.capped(body)

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        payload = _json(raw)
        if self.ctx.on_response is not None and isinstance(payload, dict):
            self.ctx.on_response(payload)
        return raw, responses_usage(payload)

    def stream(self, max_event_bytes: int) -> StreamRelay:
        return ResponsesPassthroughRelay(max_event_bytes, self.ctx.on_response)


class ResponsesViaHub(Translating):
    """A Responses client to an upstream without the Responses API, through the hub: the request
    translated to Anthropic Messages (`responses_request_to_anthropic`), then to the upstream's dialect
    by the subclass; the answer back to Anthropic's by the subclass, then to the Response. The Response's
    id and time are minted here, once per request; the hub request's tool names name the calls back.

    Hosted tools the upstream has no equivalent for (every one but `web_search` where `web_search` is
    set) are left out of the upstream request: named in the answer's `x-llmgw-tools-left-out` header
    and a DEBUG line, or, with the provider's `hosted_tools = "refuse"`, a 400 naming the first."""

    web_search = True  # the upstream has an equivalent of the hosted web search

    def hub(self, body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
        """The Anthropic Messages request for the client's `body` (the cap applied)."""
        self.body = body  # the Response echoes the request as the client sent it
        self.response_id, self.created_at = new_response_id(), int(time.time())
        notes: list[str] = []
        hub = responses_request_to_anthropic(
            self.capped(body),
            default_max_tokens=self.ctx.default_max_tokens,
            web_search=self.web_search,
            notes=notes,
        )
        self.tools: ToolNames = hub.tools
        if hub.left_out:
            if self.hosted_tools == "refuse":
                raise InvalidRequest(
                    f"The hosted tool `{hub.left_out[0]}` has no equivalent on {_NAMES[self.upstream]} "
                    f'providers, and this provider refuses such tools (hosted_tools = "refuse"); '
                    "remove it, or use a model of an `openai` provider.",
                    param="tools",
                )
            left_out = ", ".join(hub.left_out)
            self.headers = {LEFT_OUT_HEADER: left_out}
            log.debug("%s → %s: hosted tools left out: %s", self.ctx.client_model, upstream_model, left_out)
        self.noted(notes, upstream_model)
        return hub.body

    def answer(self, message: Mapping[str, Any]) -> bytes:
        """The client's Response for the upstream's answer as an Anthropic message."""
        out = anthropic_response_to_responses(
            dict(message),
            model=self.ctx.client_model,
            request=self.body,
            tools=self.tools,
            response_id=self.response_id,
            created_at=self.created_at,
        )
        if self.ctx.on_response is not None:
            self.ctx.on_response(out)
        return orjson.dumps(out)

    def relay(self, chain: list[StreamTranslator], max_event_bytes: int) -> StreamRelay:
        """A stream relay: `chain` (the upstream's events to Anthropic's), then to Responses events."""
        last = AnthropicToResponsesStream(
            self.ctx.client_model, self.body, self.tools, self.response_id, self.created_at
        )
        return ResponsesTranslatingRelay([*chain, last], max_event_bytes, self.ctx.on_response)


class ResponsesToAnthropic(ResponsesViaHub):
    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        return without_gemini_thinking(self.hub(body, upstream_model))  # a session moved from Gemini

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        message = _json(raw)
        return self.answer(message), anthropic_usage(message.get("usage"))

    def stream(self, max_event_bytes: int) -> StreamRelay:
        return self.relay([], max_event_bytes)


class ResponsesToGemini(ResponsesViaHub):
    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        notes: list[str] = []
        hub = self.hub(body, upstream_model)
        out = anthropic_request_to_gemini(hub, thinking=gemini_thinks(upstream_model), notes=notes)
        self.noted(notes, upstream_model)
        return out

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        payload = _json(raw)
        message = gemini_response_to_anthropic(payload, model=self.ctx.client_model)
        return self.answer(message), gemini_usage(payload)

    def stream(self, max_event_bytes: int) -> StreamRelay:
        return self.relay([GeminiToAnthropicStream(self.ctx.client_model)], max_event_bytes)


class ResponsesToChat(ResponsesViaHub):
    """To the OpenAI-format servers other than OpenAI's own (`NATIVE`): chat completions, which they
    all have; no web search there."""

    web_search = False

    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        out = anthropic_request_to_openai(self.hub(body, upstream_model), max_tokens_field="max_tokens")
        if stream:
            out["stream_options"] = {"include_usage": True}
        return out

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        payload = _json(raw)
        message = openai_response_to_anthropic(payload, model=self.ctx.client_model)
        return self.answer(message), openai_usage(payload)

    def stream(self, max_event_bytes: int) -> StreamRelay:
        return self.relay([OpenAIToAnthropicStream(self.ctx.client_model)], max_event_bytes)


class GeminiPassthrough(Bridge):
    """A Gemini client to a Gemini upstream: the body passes (its model is the URL's, which the adapter
    builds from the target; under a budget `generationConfig.maxOutputTokens` is the reserved cap), the
    answer's bytes come back untouched, usage read from `usageMetadata`. The upstream always streams
    `alt=sse`; a client that asked for the JSON array gets the events re-framed (`GeminiArrayRelay`).
    `:embedContent` is asked as `batchEmbedContents` of one (the adapter's one embeddings call) and its
    answer's one embedding given back as `embedContent`'s; a batch's requests, and a countTokens'
    `generateContentRequest`, name the upstream's model (the client named its own: an alias, say)."""

    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        if self.op is Operation.EMBEDDINGS:
            name = f"models/{upstream_model}"
            if self.ctx.embed_one:
                return {"requests": [{**body, "model": name}]}
            requests = body.get("requests")
            if isinstance(requests, list):
                return {
                    **body,
                    "requests": [{**r, "model": name} if isinstance(r, dict) else r for r in requests],
                }
        inner = body.get("generateContentRequest")
        if self.op is Operation.COUNT_TOKENS and isinstance(inner, dict) and "model" in inner:
            return {**body, "generateContentRequest": {**inner, "model": f"models/{upstream_model}"}}
        return self.capped(body)

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        payload = _json(raw)
        if self.op is Operation.EMBEDDINGS:
            if self.ctx.embed_one:
                embeddings = payload.get("embeddings") if isinstance(payload, dict) else None
                if not isinstance(embeddings, list) or len(embeddings) != 1:
                    raise UpstreamUnavailable(
                        "The upstream answered an embedContent with other than one embedding"
                    )
                return orjson.dumps({"embedding": embeddings[0]}), None
            return raw, None
        if self.op is Operation.COUNT_TOKENS:
            return raw, None
        return raw, gemini_usage(payload)

    def stream(self, max_event_bytes: int) -> StreamRelay:
        relay: StreamRelay = GeminiPassthroughRelay(max_event_bytes)
        return GeminiArrayRelay(relay, max_event_bytes) if self.ctx.array_stream else relay


class GeminiViaHub(Translating):
    """A Gemini client to an upstream of another dialect, through the hub: the request translated to
    Anthropic Messages (`gemini_request_to_anthropic`, the model from the target), then to the
    upstream's dialect by the subclass; answers and streams back to Anthropic's by the subclass, then to
    Gemini's (`anthropic_response_to_gemini`, `AnthropicToGeminiStream`), thought parts when the request
    asked `includeThoughts`. `googleSearch` reaches an upstream with a web search (`web_search`)."""

    web_search = True

    def hub(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        """The Anthropic Messages request (or `count_tokens` request) for the client's `body`; `stream`
        is the path's (`:streamGenerateContent`), which the hub says in its body."""
        self.include_thoughts = gemini_include_thoughts(body)
        if self.op is Operation.COUNT_TOKENS:
            return gemini_count_tokens_request_to_anthropic(
                body, model=upstream_model, web_search=self.web_search
            )
        notes: list[str] = []
        hub = gemini_request_to_anthropic(
            self.capped(body),
            model=upstream_model,
            default_max_tokens=self.ctx.default_max_tokens,
            web_search=self.web_search,
            notes=notes,
        )
        self.noted(notes, upstream_model)
        if stream:
            hub["stream"] = True
        return hub

    def answer(self, message: Any) -> bytes:
        if self.op is Operation.COUNT_TOKENS:
            return orjson.dumps(anthropic_count_tokens_to_gemini_answer(message))
        out = anthropic_response_to_gemini(
            message, model_version=self.ctx.client_model, include_thoughts=self.include_thoughts
        )
        return orjson.dumps(out)

    def relay(self, chain: list[StreamTranslator], max_event_bytes: int) -> StreamRelay:
        last = AnthropicToGeminiStream(self.ctx.client_model, include_thoughts=self.include_thoughts)
        relay: StreamRelay = TranslatingRelay([*chain, last], "gemini", max_event_bytes)
        return GeminiArrayRelay(relay, max_event_bytes) if self.ctx.array_stream else relay


class GeminiToAnthropic(GeminiViaHub):
    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        return self.hub(body, upstream_model, stream)

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        message = _json(raw)
        if not isinstance(message, dict):
            raise UpstreamUnavailable("The upstream's answer is not a JSON object.")
        usage = None if self.op is Operation.COUNT_TOKENS else anthropic_usage(message.get("usage"))
        return self.answer(message), usage

    def stream(self, max_event_bytes: int) -> StreamRelay:
        return self.relay([], max_event_bytes)


class GeminiToOpenAI(GeminiViaHub):
    """To the OpenAI-format servers: chat completions (no web search there: `googleSearch` is a 400),
    embeddings by `gemini_embeddings.py`. Token counting never comes here: the handler counts offline."""

    web_search = False

    def request(self, body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
        if self.op is Operation.EMBEDDINGS:
            notes: list[str] = []
            out = gemini_embed_request_to_openai(
                body, model=upstream_model, batch=not self.ctx.embed_one, notes=notes
            )
            self.noted(notes, upstream_model)
            return out
        hub = self.hub(body, upstream_model, stream)
        if self.provider_type == "openai":
            out = anthropic_request_to_openai(
                hub, max_tokens_field="max_completion_tokens", reasoning=openai_reasons(upstream_model)
            )
        else:
            out = anthropic_request_to_openai(hub, max_tokens_field="max_tokens")
        if stream:
            out["stream_options"] = {"include_usage": True}
        return out

    def response(self, raw: bytes) -> tuple[bytes, Usage | None]:
        payload = _json(raw)
        if not isinstance(payload, dict):
            raise UpstreamUnavailable("The upstream's answer is not a JSON object.")
        if self.op is Operation.EMBEDDINGS:
            out = openai_embeddings_to_gemini_answer(payload, batch=not self.ctx.embed_one)
            return orjson.dumps(out), openai_usage(payload)
        message = openai_response_to_anthropic(payload, model=self.ctx.client_model)
        return self.answer(message), openai_usage(payload)

    def stream(self, max_event_bytes: int) -> StreamRelay:
        return self.relay([OpenAIToAnthropicStream(self.ctx.client_model)], max_event_bytes)


BRIDGES: dict[tuple[ClientDialect, Operation, UpstreamDialect], type[Bridge]] = {
    ("openai", Operation.CHAT, "openai"): Bridge,
    ("openai", Operation.COMPLETIONS, "openai"): Bridge,
    ("openai", Operation.EMBEDDINGS, "openai"): Bridge,
    ("openai", Operation.CHAT, "anthropic"): OpenAIToAnthropic,
    ("openai", Operation.CHAT, "gemini"): OpenAIToGemini,
    ("openai", Operation.EMBEDDINGS, "gemini"): OpenAIToGemini,
    ("anthropic", Operation.CHAT, "anthropic"): Bridge,
    ("anthropic", Operation.COUNT_TOKENS, "anthropic"): Bridge,
    ("anthropic", Operation.CHAT, "openai"): AnthropicToOpenAI,
    ("anthropic", Operation.CHAT, "gemini"): AnthropicToGemini,
    ("anthropic", Operation.COUNT_TOKENS, "gemini"): AnthropicToGemini,
    ("responses", Operation.CHAT, "openai"): ResponsesToChat,  # OpenAI's own: NATIVE, below
    ("responses", Operation.CHAT, "anthropic"): ResponsesToAnthropic,
    ("responses", Operation.CHAT, "gemini"): ResponsesToGemini,
    ("gemini", Operation.CHAT, "gemini"): GeminiPassthrough,
    ("gemini", Operation.COUNT_TOKENS, "gemini"): GeminiPassthrough,
    ("gemini", Operation.EMBEDDINGS, "gemini"): GeminiPassthrough,
    ("gemini", Operation.CHAT, "anthropic"): GeminiToAnthropic,
    ("gemini", Operation.COUNT_TOKENS, "anthropic"): GeminiToAnthropic,
    ("gemini", Operation.CHAT, "openai"): GeminiToOpenAI,
    ("gemini", Operation.EMBEDDINGS, "openai"): GeminiToOpenAI,
}

# A provider type that speaks the client's dialect itself where others of its upstream dialect do not.
NATIVE: dict[tuple[ClientDialect, Operation, str], type[Bridge]] = {
    ("responses", Operation.CHAT, "openai"): ResponsesPassthrough,
}
_NATIVE_CLIENTS = frozenset(client for client, _, _ in NATIVE)

_NAMES = {"openai": "OpenAI-format", "anthropic": "Anthropic", "gemini": "Gemini"}
_OPS = {
    Operation.CHAT: "chat",
    Operation.COMPLETIONS: "legacy completions (/v1/completions)",
    Operation.EMBEDDINGS: "embeddings",
    Operation.COUNT_TOKENS: "token counting",
    Operation.RESPONSES: "the Responses API",
}


def bridge_for(
    client: ClientDialect,
    op: Operation,
    upstream: UpstreamDialect,
    ctx: Context,
    provider_type: str = "",
    hosted_tools: HostedTools = "leave_out",
) -> Bridge:
    """The bridge for this pair (or for this provider type, `NATIVE`); 400 when the upstream's API
    cannot do what was asked."""
    cls = BRIDGES.get((client, op, upstream))
    if client in _NATIVE_CLIENTS:
        cls = NATIVE.get((client, op, provider_type), cls)
    if cls is None:
        raise InvalidRequest(
            f"{_OPS[op].capitalize()} is not available from {_NAMES[upstream]} providers.", param="model"
        )
    return cls(client, op, upstream, ctx, provider_type, hosted_tools)
