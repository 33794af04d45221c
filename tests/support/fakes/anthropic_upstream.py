"""A fake Anthropic upstream: the Messages API (``POST /v1/messages``, ``/v1/messages/count_tokens``) on
127.0.0.1, validating requests as strictly as the real API and answering in its wire format.

Payloads are shaped from ``tests/fixtures/providers/anthropic``. Validation mirrors the ``anthropic``
SDK's request types (pydantic models with ``extra="forbid"``, so errors read like the real API's:
``max_tokens: Field required``, ``foo: Extra inputs are not permitted``,
``tools.0.custom.input_schema: Field required``) plus the semantic rules the API enforces (tool_use /
tool_result pairing, thinking budget, non-empty content ...), each quoted from real error bodies.

Magic model names (see ``fake_server``): ``fail-500`` (api_error), ``overloaded`` (529),
``rate-limited`` (429, retry-after 3), ``bad-request`` (400 ``messages.error_400.json``), ``not-found``
(404 ``messages.error_404.json``), ``slow-<s>``, ``stall-<k>``, ``reset-<k>``, ``drip-<ms>`` and
``error-mid-stream-<k>`` (``k`` text deltas, then an ``event: error`` overloaded_error). A request with
``tools`` whose model name contains ``tool`` gets ``tool_use`` blocks (two when it contains ``parallel``);
A ``Read the file /path`` prompt gets a call of Claude Code's ``Read`` tool, and a ``run the shell command
`CMD` `` prompt one of Codex CLI's shell tool (``fake_server.scripted_call``);
``thinking`` adds a signed thinking block; ``cache_control`` markers write, then read, the prompt cache.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, ValidationError

from .fake_server import (
    FakeServer,
    Scenario,
    dumps,
    estimate_tokens,
    json_reply,
    parse_scenario,
    random_id,
    reply_words,
    sample_arguments,
    scripted_call,
    split_words,
)
from .fixtures import case_headers, load_json, load_sse_events

__all__ = ["DEFAULT_KEY", "VERSIONS", "FakeAnthropic", "request_errors"]

DEFAULT_KEY = "sk-ant-upstream-1"
VERSIONS = ("2023-06-01", "2026-10-21")  # 2026-10-21 removed temperature, top_p and top_k
SAMPLING = ("temperature", "top_p", "top_k")
MAX_CACHE_BREAKPOINTS = 4
_FIXED = {"fail-500": Scenario("error", 500), "overloaded": Scenario("error", 529),
          "rate-limited": Scenario("error", 429, retry_after=3), "bad-request": Scenario("error", 400),
          "not-found": Scenario("error", 404)}  # fmt: skip
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                529: "overloaded_error"}  # fmt: skip
_ERROR_MESSAGES = {403: "Your API key does not have permission to use the specified resource.",
                   413: "Request exceeds the maximum allowed number of bytes.",
                   500: "Internal server error", 529: "Overloaded"}  # fmt: skip
_THINKING_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


# -- request schema: mirrors the SDK's *Param TypedDicts (tests/inprocess/test_fake_anthropic.py checks) --


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


def _as_blocks(value: Any) -> Any:
    """``"text"`` is shorthand for one text block."""
    return [{"type": "text", "text": value}] if isinstance(value, str) else value


class CacheControl(_Strict):
    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class TextBlock(_Strict):
    type: Literal["text"]
    text: str
    cache_control: CacheControl | None = None
    citations: list[dict[str, Any]] | None = None


class Base64ImageSource(_Strict):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str


class URLSource(_Strict):
    type: Literal["url"]
    url: str


class FileSource(_Strict):
    type: Literal["file"]
    file_id: str


class ImageBlock(_Strict):
    type: Literal["image"]
    source: Annotated[Base64ImageSource | URLSource | FileSource, Field(discriminator="type")]
    cache_control: CacheControl | None = None
    transformations: dict[str, Any] | None = None


class Base64PDFSource(_Strict):
    type: Literal["base64"]
    media_type: Literal["application/pdf"]
    data: str


class PlainTextSource(_Strict):
    type: Literal["text"]
    media_type: Literal["text/plain"]
    data: str


class ContentSource(_Strict):
    type: Literal["content"]
    content: Annotated[
        list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]], BeforeValidator(_as_blocks)
    ]


_DocSource = Base64PDFSource | PlainTextSource | ContentSource | URLSource | FileSource


class DocumentBlock(_Strict):
    type: Literal["document"]
    source: Annotated[_DocSource, Field(discriminator="type")]
    cache_control: CacheControl | None = None
    citations: dict[str, Any] | None = None
    context: str | None = None
    title: str | None = None


class ToolUseBlock(_Strict):
    type: Literal["tool_use"]
    id: str = Field(pattern=r"^[a-zA-Z0-9_-]+$")
    name: str
    input: dict[str, Any]
    cache_control: CacheControl | None = None
    caller: dict[str, Any] | None = None
    toolset_name: str | None = None


_SERVER_BLOCKS = frozenset({
    "search_result", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
    "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_search_tool_result", "container_upload",
})  # fmt: skip
_BLOCK_TAGS = ("text", "image", "document", "thinking", "redacted_thinking", "tool_use", "tool_result")


def _block_tag(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    return "server" if kind in _SERVER_BLOCKS else kind if isinstance(kind, str) else None


class ServerBlock(_Loose):
    """Server-tool blocks (web search, code execution ...): passed through, only ``type`` checked."""

    type: str


_ResultItem = Annotated[
    Annotated[TextBlock, Tag("text")] | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")] | Annotated[ServerBlock, Tag("server")],
    Discriminator(lambda v: _block_tag(v)),
]  # fmt: skip


class ToolResultBlock(_Strict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: Annotated[list[_ResultItem], BeforeValidator(_as_blocks)] | None = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None
    toolset_name: str | None = None


class ThinkingBlock(_Strict):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(_Strict):
    type: Literal["redacted_thinking"]
    data: str


Block = Annotated[
    Annotated[TextBlock, Tag("text")] | Annotated[ImageBlock, Tag("image")]
    | Annotated[DocumentBlock, Tag("document")] | Annotated[ThinkingBlock, Tag("thinking")]
    | Annotated[RedactedThinkingBlock, Tag("redacted_thinking")] | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[ToolResultBlock, Tag("tool_result")] | Annotated[ServerBlock, Tag("server")],
    Discriminator(_block_tag),
]  # fmt: skip


class Message(_Strict):
    role: Literal["user", "assistant"]
    content: Annotated[list[Block], BeforeValidator(_as_blocks)]


class InputSchema(_Loose):
    type: Literal["object"]
    properties: dict[str, Any] | None = None
    required: list[str] | None = None


class CustomTool(_Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,128}$")
    input_schema: InputSchema
    type: Literal["custom"] | None = None
    description: str | None = None
    cache_control: CacheControl | None = None
    strict: bool | None = None
    defer_loading: bool | None = None
    eager_input_streaming: bool | None = None
    input_examples: list[dict[str, Any]] | None = None
    allowed_callers: list[str] | None = None


class ServerTool(_Loose):
    type: str


_SERVER_TOOL = re.compile(
    r"(bash|code_execution|memory|text_editor|web_search|web_fetch)_20\d{6}"
    r"|(browser|computer)_toolset_20\d{6}|tool_search_tool_(bm25|regex)(_20\d{6})?"
)


def _tool_tag(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind is None or kind == "custom":
        return "custom"
    return "server" if isinstance(kind, str) and _SERVER_TOOL.fullmatch(kind) else str(kind)


Tool = Annotated[
    Annotated[CustomTool, Tag("custom")] | Annotated[ServerTool, Tag("server")], Discriminator(_tool_tag)
]


class ToolChoiceAuto(_Strict):
    type: Literal["auto", "any"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(_Strict):
    type: Literal["tool"]
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(_Strict):
    type: Literal["none"]


class ThinkingEnabled(_Strict):
    type: Literal["enabled"]
    budget_tokens: int = Field(ge=1024)
    display: Literal["summarized", "omitted"] | None = None


class ThinkingAdaptive(_Strict):
    type: Literal["adaptive"]
    display: Literal["summarized", "omitted"] | None = None


class ThinkingOther(_Strict):
    type: Literal["disabled", "between_tools"]


class Metadata(_Strict):
    user_id: str | None = None


class OutputConfig(_Strict):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: dict[str, Any] | None = None


_Text = Annotated[list[TextBlock], BeforeValidator(_as_blocks)]
_ToolChoice = Annotated[ToolChoiceAuto | ToolChoiceTool | ToolChoiceNone, Field(discriminator="type")]
_Thinking = Annotated[ThinkingEnabled | ThinkingAdaptive | ThinkingOther, Field(discriminator="type")]


class CountTokensRequest(_Strict):
    model: str = Field(min_length=1)
    messages: list[Message]
    system: _Text | None = None
    tools: list[Tool] | None = None
    tool_choice: _ToolChoice | None = None
    thinking: _Thinking | None = None
    cache_control: CacheControl | None = None
    output_config: OutputConfig | None = None
    speed: Literal["standard", "fast"] | None = None
    user_profile_id: str | None = None
    workspace_id: str | None = None


class CreateRequest(CountTokensRequest):
    max_tokens: int = Field(ge=0)
    stream: bool | None = None
    stop_sequences: list[str] | None = None
    metadata: Metadata | None = None
    service_tier: Literal["auto", "standard_only"] | None = None
    container: Any = None
    diagnostics: dict[str, Any] | None = None
    inference_geo: str | None = None
    # Removed by API version 2026-10-21 (and from the SDK), still accepted with 2023-06-01.
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)


BETA_ONLY = ("context_management", "mcp_servers", "output_format")  # accepted on ``?beta=true`` only


def _loc(loc: Iterable[int | str]) -> str:
    # pydantic puts function-validator and list labels in the path; the API shows only data keys
    return ".".join(
        str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
    )


def request_errors(body: dict[str, Any], *, create: bool, version: str, beta: bool = False) -> str | None:
    """The message of the 400 the real API answers ``body`` with, or None when it is accepted."""
    body = dict(body)
    if beta:
        for name in BETA_ONLY:
            body.pop(name, None)
    if version != VERSIONS[0]:
        for name in SAMPLING:
            if name in body:
                return f"{name}: Extra inputs are not permitted"
    try:
        parsed = (CreateRequest if create else CountTokensRequest).model_validate(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        message = re.sub(r"_(block|tool)_tag\(\)", "'type'", error["msg"])  # a tagged union, as the API's
        return f"{_loc(error['loc'])}: {message}"
    return _semantic_errors(body, parsed)


# Error messages quoted from real API answers (GitHub issues citing them are listed in the test module).
_MSG = {
    "empty": "messages: at least one message is required",
    "first": 'messages: first message must use the "user" role',
    "no_content": "messages.{i}: all messages must have non-empty content except for the optional final "
    "assistant message",
    "empty_text": "{where}: text content blocks must be non-empty",
    "trailing": "messages: final assistant content cannot end with trailing whitespace",
    "unanswered": "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
    "{ids}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
    "unexpected": "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. "
    "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
    "budget": "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
    f"at {_THINKING_DOCS}#max-tokens-and-context-window-size",
    "temperature": "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
    f"documentation at {_THINKING_DOCS}#feature-compatibility",
    "thinking_off": "messages.{i}.content.{j}: When thinking is disabled, an `assistant` message in the "
    "final position cannot contain `thinking`. To use thinking blocks, enable `thinking` in your request.",
    "thinking_first": "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
    "`{found}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block "
    "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking "
    "blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our "
    f"documentation at {_THINKING_DOCS}",
    "unique": "tools: Tool names must be unique.",
    "choice": "tool_choice.tool.name: Tool '{name}' not found in the provided tools",
    "breakpoints": "A maximum of 4 blocks with cache_control may be provided. Found {found}.",
}


def _semantic_errors(body: dict[str, Any], req: CountTokensRequest) -> str | None:
    messages: list[dict[str, Any]] = body["messages"]
    if not messages:
        return _MSG["empty"]
    if messages[0]["role"] != "user":
        return _MSG["first"]
    if isinstance(body.get("system"), list) and any(not b.get("text") for b in body["system"]):
        return _MSG["empty_text"].format(where="system")
    for i, message in enumerate(messages):
        content = message["content"]
        blocks = _as_blocks(content)
        final_assistant = i == len(messages) - 1 and message["role"] == "assistant"
        if not content and not final_assistant:
            return _MSG["no_content"].format(i=i)
        if isinstance(content, list) and any(b["type"] == "text" and not b["text"] for b in blocks):
            return _MSG["empty_text"].format(where="messages")
        tail = blocks[-1] if final_assistant and blocks else {}
        if tail.get("type") == "text" and tail["text"] != tail["text"].rstrip():
            return _MSG["trailing"]
        if (problem := _tool_pairing(messages, i, blocks)) is not None:
            return problem
    if (problem := _thinking_errors(body, req, messages)) is not None:
        return problem
    names = [t.get("name") for t in body.get("tools") or []]
    if len(set(names)) != len(names):
        return _MSG["unique"]
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool" and choice.get("name") not in names:
        return _MSG["choice"].format(name=choice.get("name"))
    found = sum(1 for _ in _cache_markers(body))
    return _MSG["breakpoints"].format(found=found) if found > MAX_CACHE_BREAKPOINTS else None


def _tool_pairing(messages: list[dict[str, Any]], i: int, blocks: list[dict[str, Any]]) -> str | None:
    """Every tool_use is answered by a tool_result at the start of the next message, and every
    tool_result answers a tool_use of the message before."""
    if messages[i]["role"] == "assistant":
        used = [b["id"] for b in blocks if b["type"] == "tool_use"]
        if not used or i + 1 >= len(messages):
            return None
        leading: list[str] = []
        for block in _as_blocks(messages[i + 1]["content"]):
            if block["type"] != "tool_result":
                break
            leading.append(block["tool_use_id"])
        missing = [u for u in used if u not in leading]
        return _MSG["unanswered"].format(i=i, ids=", ".join(missing)) if missing else None
    previous = messages[i - 1] if i > 0 and messages[i - 1]["role"] == "assistant" else None
    used_ids = (
        {b["id"] for b in _as_blocks(previous["content"]) if b["type"] == "tool_use"} if previous else set()
    )
    for j, block in enumerate(blocks):
        if block["type"] == "tool_result" and block["tool_use_id"] not in used_ids:
            return _MSG["unexpected"].format(i=i, j=j, id=block["tool_use_id"])
    return None


def _thinking_errors(
    body: dict[str, Any], req: CountTokensRequest, messages: list[dict[str, Any]]
) -> str | None:
    thinking = req.thinking
    enabled = isinstance(thinking, ThinkingEnabled | ThinkingAdaptive)
    budget = thinking.budget_tokens if isinstance(thinking, ThinkingEnabled) else 0
    if isinstance(req, CreateRequest) and budget and req.max_tokens <= budget:
        return _MSG["budget"]
    if enabled and body.get("temperature") not in (None, 1, 1.0):
        return _MSG["temperature"]
    last, i = messages[-1], len(messages) - 1
    if not enabled and last["role"] == "assistant":
        for j, block in enumerate(_as_blocks(last["content"])):
            if block["type"] in ("thinking", "redacted_thinking"):
                return _MSG["thinking_off"].format(i=i, j=j)
    # In a tool loop, the assistant turn being continued must open with its thinking block.
    results = _as_blocks(last["content"]) if last["role"] == "user" else []
    if enabled and i >= 1 and results and results[0]["type"] == "tool_result":
        turn = _as_blocks(messages[i - 1]["content"])
        found = turn[0]["type"] if turn else "nothing"
        if found not in ("thinking", "redacted_thinking"):
            return _MSG["thinking_first"].format(i=i - 1, found=found)
    return None


# -- token accounting and the prompt cache --------------------------------------------------------


def _units(body: dict[str, Any]) -> Iterable[tuple[Any, int]]:
    """The prompt in cache order (tools, system, messages), one (unit, tokens) per cacheable block."""
    for tool in body.get("tools") or []:
        yield tool, estimate_tokens(json.dumps(tool)) + 4
    system = body.get("system")
    for block in _as_blocks(system) if system else []:
        yield block, estimate_tokens(block.get("text", ""))
    for message in body["messages"]:
        yield message["role"], 3
        for block in _as_blocks(message["content"]):
            yield block, _block_tokens(block)


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "image":
        return 1568
    if kind == "document":
        return 1000 + estimate_tokens(str(block.get("source", {}).get("data", ""))[:4000])
    if kind == "tool_result":
        content = block.get("content") or []
        return 4 + sum(_block_tokens(b) for b in _as_blocks(content))
    if kind == "tool_use":
        return 4 + estimate_tokens(block.get("name", "") + json.dumps(block.get("input")))
    text = block.get("text", block.get("thinking", ""))
    return estimate_tokens(text) if isinstance(text, str) else 1


def _cache_markers(body: dict[str, Any]) -> Iterable[Any]:
    for unit, _ in _units(body):
        if isinstance(unit, dict) and unit.get("cache_control"):
            yield unit


def input_tokens(body: dict[str, Any]) -> int:
    """The deterministic prompt size ``count_tokens`` and ``usage`` report."""
    return 4 + sum(tokens for _, tokens in _units(body))


@dataclass(slots=True)
class _Usage:
    input: int
    cache_write: int = 0
    cache_read: int = 0
    ttl: str = "5m"
    output: int = 0

    def fields(self) -> dict[str, Any]:
        return dict(input_tokens=self.input, cache_creation_input_tokens=self.cache_write,
                    cache_read_input_tokens=self.cache_read)  # fmt: skip


@dataclass(slots=True)
class _PromptCache:
    """Prefix hashes seen so far: the first request with a breakpoint writes, the next reads."""

    min_tokens: int
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def usage(self, body: dict[str, Any]) -> _Usage:
        total = input_tokens(body)
        auto = body.get("cache_control")
        digest, running, breakpoints, ttl = hashlib.sha256(), 4, [], "5m"
        units = list(_units(body))
        for index, (unit, tokens) in enumerate(units):
            clean = (
                {k: v for k, v in unit.items() if k != "cache_control"} if isinstance(unit, dict) else unit
            )
            digest.update(dumps(clean))
            running += tokens
            marker = unit.get("cache_control") if isinstance(unit, dict) else None
            if marker is None and auto and index == len(units) - 1:
                marker = auto  # top-level cache_control marks the last cacheable block
            if marker:
                ttl = marker.get("ttl") or ttl
                breakpoints.append((body.get("model", "") + digest.hexdigest(), running))
        usable = [(key, size) for key, size in breakpoints if size >= self.min_tokens]
        if not usable:
            return _Usage(total)
        with self.lock:
            read = max((size for key, size in usable if key in self.seen), default=0)
            self.seen.update(key for key, _ in usable)
        write = usable[-1][1] - read
        return _Usage(total - read - write, write, read, ttl)

    def clear(self) -> None:
        with self.lock:
            self.seen.clear()


# -- the reply -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Block:
    kind: str  # text, thinking or tool_use
    pieces: list[str]
    signature: str = ""
    tool_id: str = ""
    name: str = ""
    input: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Reply:
    blocks: list[_Block]
    stop_reason: str
    usage: _Usage
    stop_sequence: str | None = None


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            blocks = _as_blocks(message["content"])
            texts = [b["text"] for b in blocks if b.get("type") == "text"]
            texts += [str(c.get("text", "")) for b in blocks if b.get("type") == "tool_result"
                      for c in _as_blocks(b.get("content") or []) if isinstance(c, dict)]  # fmt: skip
            if texts:
                return " ".join(texts)
    return ""


def _signature(text: str) -> str:
    raw = hashlib.sha512(text.encode()).digest() * 3
    return "Eu" + base64.b64encode(raw).decode()


def build_reply(body: dict[str, Any], scenario: Scenario, usage: _Usage) -> _Reply:
    """The answer to an accepted request: thinking, then tool_use blocks or an echo of the user."""
    text = _last_user_text(body["messages"])
    blocks: list[_Block] = []
    thinking = body.get("thinking") or {}
    if thinking.get("type") in ("enabled", "adaptive"):
        thought = f"The user wrote: {text or 'nothing'}. Let me answer briefly."
        shown = "" if thinking.get("display") == "omitted" else thought
        blocks.append(_Block("thinking", split_words(shown) if shown else [], _signature(thought)))
    tools = [t for t in body.get("tools") or [] if "input_schema" in t]
    choice = (body.get("tool_choice") or {}).get("type", "auto")
    model = str(body["model"])
    last = body["messages"][-1].get("content")
    answering_results = isinstance(last, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in last
    )
    schemas = {t["name"]: t["input_schema"] for t in tools}
    scripted = scripted_call(text, schemas) if choice != "none" else None
    # a model answers in words once it has the tool results it asked for
    if (scripted is not None or (tools and "tool" in model and choice != "none")) and not answering_results:
        if choice == "auto":
            blocks.append(_Block("text", split_words("I'll use the tools to answer that.")))
        count = 2 if "parallel" in model and scripted is None else 1
        for n in range(count):
            tool = tools[n % len(tools)] if scripted is None else {"name": scripted.name}
            arguments = scripted.arguments if scripted else sample_arguments(tool["input_schema"], text)
            raw = dumps(arguments).decode()
            pieces = ["", *re.findall(r".{1,12}", raw, re.S)]
            blocks.append(
                _Block("tool_use", pieces, tool_id=random_id("toolu_01"), name=tool["name"], input=arguments)
            )
        usage.output = sum(len(b.pieces) for b in blocks) + 8
        return _Reply(blocks, "tool_use", usage)
    fmt = (body.get("output_config") or {}).get("format") or {}
    structured = fmt.get("type") == "json_schema"
    kind, pieces = (
        scenario.kind,
        json_reply(fmt.get("schema"), text) if structured else reply_words(scenario, text),
    )
    stop_reason, stop_sequence = "end_turn", None
    for sequence in body.get("stop_sequences") or []:
        joined = "".join(pieces)
        if sequence and sequence in joined:
            pieces = split_words(joined[: joined.index(sequence)]) if joined.index(sequence) else []
            stop_reason, stop_sequence = "stop_sequence", sequence
            break
    limit = body.get("max_tokens", 1)
    if kind == "normal" and limit < len(pieces):  # max_tokens 0 only warms the prompt cache
        pieces, stop_reason = pieces[:limit], "max_tokens"
    blocks.append(_Block("text", pieces))
    usage.output = sum(len(b.pieces) for b in blocks)
    return _Reply(blocks, stop_reason, usage, stop_sequence)


@functools.cache
def _templates() -> dict[str, Any]:
    start = json.loads(load_sse_events("anthropic", "messages.stream_text")[0].data)["message"]
    return {
        "text": load_json("anthropic", "messages.text"),
        "start": start,
        "errors": {s: load_json("anthropic", f"messages.error_{s}") for s in (400, 401, 404, 429)},
        "headers": {
            k: v for k, v in case_headers("anthropic", "messages.stream_text").items() if k != "request-id"
        },
    }


def _usage_body(usage: _Usage) -> dict[str, Any]:
    template = _templates()["text"]["usage"]
    ttl_key = "ephemeral_1h_input_tokens" if usage.ttl == "1h" else "ephemeral_5m_input_tokens"
    creation = {**template["cache_creation"], ttl_key: usage.cache_write}
    return {**template, **usage.fields(), "cache_creation": creation, "output_tokens": usage.output}


def _block_body(block: _Block) -> dict[str, Any]:
    if block.kind == "thinking":
        return {"type": "thinking", "thinking": "".join(block.pieces), "signature": block.signature}
    if block.kind == "tool_use":
        return {"type": "tool_use", "id": block.tool_id, "name": block.name, "input": block.input,
                "caller": {"type": "direct"}}  # fmt: skip
    return {"type": "text", "text": "".join(block.pieces)}


def message_body(mid: str, model: str, reply: _Reply) -> dict[str, Any]:
    """A non-stream ``message``, shaped like ``messages.text.json``."""
    return {
        **_templates()["text"],
        "id": mid,
        "model": model,
        "content": [_block_body(b) for b in reply.blocks],
        "stop_reason": reply.stop_reason,
        "stop_sequence": reply.stop_sequence,
        "usage": _usage_body(reply.usage),
    }


def _event(name: str, payload: dict[str, Any], index: int) -> bytes:
    # Anthropic pads its data lines with trailing spaces (see the recorded .sse files)
    pad = b" " * ((index * 7) % 17)
    return b"event: " + name.encode() + b"\ndata: " + dumps(payload) + pad + b"\n\n"


_EMPTY: dict[str, Any] = {"text": {"text": ""}, "thinking": {"thinking": "", "signature": ""},
                          "tool_use": {"input": {}}}  # fmt: skip


def stream_events(mid: str, model: str, reply: _Reply) -> tuple[list[bytes], list[int]]:
    """The event sequence of ``messages.stream_*.sse`` and the indexes of its text deltas."""
    start = {**_templates()["start"], "id": mid, "model": model}
    start["usage"] = {**start["usage"], **reply.usage.fields(), "output_tokens": 1}
    start["usage"]["cache_creation"] = _usage_body(reply.usage)["cache_creation"]
    events = [_event("message_start", {"type": "message_start", "message": start}, 0)]
    content_at: list[int] = []

    def add(name: str, payload: dict[str, Any]) -> None:
        events.append(_event(name, payload, len(events)))

    for index, block in enumerate(reply.blocks):
        opening = {**_block_body(block), **_EMPTY[block.kind]}
        add("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        if index == 0:
            events.append(b'event: ping\ndata: {"type": "ping"}\n\n')
        for piece in block.pieces:
            if block.kind == "text":
                content_at.append(len(events))
                delta: dict[str, Any] = {"type": "text_delta", "text": piece}
            elif block.kind == "thinking":
                delta = {"type": "thinking_delta", "thinking": piece}
            else:
                delta = {"type": "input_json_delta", "partial_json": piece}
            add("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        if block.kind == "thinking":
            for delta in (
                {"type": "thinking_delta", "thinking": ""},
                {"type": "signature_delta", "signature": block.signature},
            ):
                add("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        add("content_block_stop", {"type": "content_block_stop", "index": index})
    stop = {"stop_reason": reply.stop_reason, "stop_sequence": reply.stop_sequence, "stop_details": None}
    usage = {**reply.usage.fields(), "output_tokens": reply.usage.output}
    add("message_delta", {"type": "message_delta", "delta": stop, "usage": usage})
    add("message_stop", {"type": "message_stop"})
    return events, content_at


# -- the server ------------------------------------------------------------------------------------


def error_body(status: int, message: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    """Anthropic's error envelope: ``{"type": "error", "error": {...}, "request_id": ...}``."""
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    text = message or _ERROR_MESSAGES.get(status, f"The fake upstream answered {status}.")
    return {
        "type": "error",
        "error": {"type": kind, "message": text},
        "request_id": request_id or random_id("req_011C"),
    }


class FakeAnthropic(FakeServer):
    """The fake Anthropic API, run by ``start()`` in a background thread.

    ``accepted_keys`` are the keys it accepts in ``x-api-key`` (or, as API version 2026-10-21 clients
    send them, ``Authorization: Bearer``; ``bearer_keys=False`` refuses that form). ``key_behaviors`` maps
    a key to what every request with it gets: ``"ok"``, ``"429"``/``"429:<retry-after>"`` (rate_limit_error,
    retry-after 7 by default) or any 4xx/5xx status (``"401"``, ``"500"``, ``"529"`` ...).
    ``cache_min_tokens`` is the smallest cacheable prefix (1024, as on Sonnet and Opus).
    """

    name = "fake-anthropic"

    def __init__(
        self,
        accepted_keys: Iterable[str] = (DEFAULT_KEY,),
        key_behaviors: dict[str, str] | None = None,
        *,
        bearer_keys: bool = True,
        cache_min_tokens: int = 1024,
        record: bool = True,
    ) -> None:
        super().__init__(accepted_keys, key_behaviors, record=record)
        self.bearer_keys = bearer_keys
        self._cache = _PromptCache(cache_min_tokens)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    def clear(self) -> None:
        """Forget recorded requests, disconnects and the prompt cache."""
        super().clear()
        self._cache.clear()

    # -- prologue ---------------------------------------------------------------------------

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
        request_id = payload.get("request_id") if isinstance(payload, dict) else None
        all_headers = {"request-id": request_id or random_id("req_011C")}
        if status >= 400:
            all_headers["x-should-retry"] = "true" if status in (408, 409, 429) or status >= 500 else "false"
        all_headers.update(headers or {})
        return web.Response(
            status=status, body=dumps(payload), content_type="application/json", headers=all_headers
        )

    def _error(
        self, status: int, message: str | None = None, *, retry_after: int | None = None
    ) -> web.Response:
        recorded = _templates()["errors"].get(status)
        if recorded is not None and message is None:
            payload = {**recorded, "request_id": random_id("req_011C")}
        else:
            payload = error_body(status, message)
        headers: dict[str, str] = {}
        if status == 429:
            wait = str(retry_after or 7)
            headers = {"retry-after": wait, "anthropic-ratelimit-requests-limit": "50",
                       "anthropic-ratelimit-requests-remaining": "0"}  # fmt: skip
        return self._json(status, payload, headers)

    async def _admit(self, request: web.Request) -> dict[str, Any] | web.Response:
        raw = await request.read()
        x_api_key = request.headers.get("x-api-key")
        auth = request.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        key = x_api_key if x_api_key is not None else bearer
        parsed: Any = None
        problem: str | None = None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError as exc:
            problem = f"The request body is not valid JSON: {exc}"
        model = parsed.get("model") if isinstance(parsed, dict) else None
        self.record_request(request, raw, parsed, key, model if isinstance(model, str) else None)
        if not key or (x_api_key is None and not self.bearer_keys):
            return self._error(401, "x-api-key header is required")
        behavior = self.key_behaviors.get(key)
        if behavior is None and key not in self.accepted_keys:
            return self._error(401)
        if behavior is not None and behavior != "ok":
            status = int(behavior[:3])
            return self._error(status, retry_after=int(behavior[4:] or 7) if status == 429 else None)
        version = request.headers.get("anthropic-version")
        if version is None:
            return self._error(400, "anthropic-version: header is required")
        if version not in VERSIONS:
            return self._error(400, f"anthropic-version: invalid version {version!r}")
        if problem is None and not isinstance(parsed, dict):
            problem = "The request body is not valid JSON: expected an object"
        if problem is not None:
            return self._error(400, problem)
        assert isinstance(parsed, dict)
        return parsed

    def _validate(self, request: web.Request, body: dict[str, Any], *, create: bool) -> web.Response | None:
        version = request.headers.get("anthropic-version", VERSIONS[0])
        beta = request.query.get("beta") == "true"
        problem = request_errors(body, create=create, version=version, beta=beta)
        if problem is not None:
            return self._error(400, problem)
        scenario = parse_scenario(body["model"], _FIXED)
        if scenario.kind == "error":
            status = int(scenario.value)
            message = f"model: {body['model']}" if status == 404 else None
            return self._error(status, message, retry_after=scenario.retry_after)
        return None

    async def _unknown(self, request: web.Request) -> web.Response:
        await request.read()
        return self._json(404, error_body(404, "Not Found"))

    # -- endpoints --------------------------------------------------------------------------

    async def _count_tokens(self, request: web.Request) -> web.Response:
        body = await self._admit(request)
        if isinstance(body, web.Response):
            return body
        refused = self._validate(request, body, create=False)
        return refused or self._json(200, {"input_tokens": input_tokens(body)})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._admit(request)
        if isinstance(body, web.Response):
            return body
        refused = self._validate(request, body, create=True)
        if refused is not None:
            return refused
        model, stream = str(body["model"]), body.get("stream") is True
        scenario = parse_scenario(model, _FIXED)
        if scenario.kind == "midstream" and not stream:
            return self._error(529)
        if await self.before_headers(request, scenario, stream):
            return web.Response(status=500)
        reply = build_reply(body, scenario, self._cache.usage(body))
        mid, request_id = random_id("msg_01"), random_id("req_011C")
        headers = {**_templates()["headers"], "request-id": request_id}
        if not stream:
            message = message_body(mid, model, reply)
            self.report_usage(model, message["usage"], stream=False)
            return self._json(200, message, headers)
        events, content_at = stream_events(mid, model, reply)
        error = _event("error", error_body(529, request_id=request_id), 1)
        headers.update({"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"})
        # message_delta (before message_stop) carries the final, cumulative usage
        final = (len(events) - 2, {**reply.usage.fields(), "output_tokens": reply.usage.output})
        return await self.stream(request, model, events, content_at, scenario, headers, error, final)
