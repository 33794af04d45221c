"""Pure builders for the fake OpenAI upstream's Responses API (``openai_responses.py``): a request's input
read into items, the scripted answer planned from the conversation, the ``Response`` object and its
stream events.

Shapes and field order follow the recordings in ``tests/fixtures/providers/openai/responses`` and,
where they are older than OpenAI's OpenAPI document (``tests/fixtures/openai_openapi``), the document:
``response.function_call_arguments.done`` carries the call's ``name`` (required by the document, absent
from the 2025 recording), usage carries ``input_tokens_details.cache_write_tokens``. Ids have the
recorded prefixes and lengths (``resp_``/``msg_``/``fc_``/``rs_``/``ctc_`` and 50 hex digits, ``call_``
and 24 letters or digits).

The scripted answer, for any model name (``plan``):

- tool outputs at the end of the input (``function_call_output``, ``custom_tool_call_output``) are
  answered in words quoting them (and the user's words that came with them);
- otherwise a tool call when ``tool_choice`` asks for one (``required``, or a named function or custom
  tool), or when the model name contains ``tool`` and tools are offered (``tool_choice`` ``none``
  excepted): the first tool, twice when the name also contains ``parallel`` and ``parallel_tool_calls``
  is not false. A function's arguments satisfy its schema's required properties; a custom tool's input
  is the user's text. A ``Read the file /path`` prompt with Claude Code's ``Read`` tool offered gets a
  call of it (``fake_server.scripted_read``);
- otherwise ``Echo: <the last user text>``, or, for ``text.format`` ``json_schema``, JSON satisfying the
  schema's required properties;
- reasoning models (``o1``…, ``gpt-5``…, ``codex``, or a name with ``reason``) first emit a ``reasoning``
  item, unless ``reasoning.effort`` is ``none``: its summary only when ``reasoning.summary`` is set, its
  ``encrypted_content`` only when ``include`` asks for ``reasoning.encrypted_content`` (as the API does);
- ``max_output_tokens`` smaller than the answer cuts the message and makes the response ``incomplete``
  (``max_output_tokens``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .fake_server import (
    Scenario,
    dumps,
    estimate_tokens,
    filler_words,
    random_id,
    reply_words,
    sample_arguments,
)
from .fake_server import scripted_read as _scripted_read

__all__ = [
    "Answer",
    "Output",
    "encode_event",
    "input_items",
    "is_reasoning_model",
    "item_resource",
    "new_id",
    "plan",
    "response_object",
    "stream_events",
    "text_of",
]

_OBFUSCATION = "aMT4tJgmzXEewkXHYHpNfzcqDe7kPkCx"
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5(?!-chat)|codex)|reason")
_JSON_PIECES = re.compile(r"\W+|\w+")
_OUTPUTS = ("function_call_output", "custom_tool_call_output")
_MODEL_TURN = ("function_call", "custom_tool_call", "reasoning")


def new_id(prefix: str) -> str:
    """An id as the API mints them: ``prefix`` (``resp_``, ``msg_``, ...) and 50 hex digits."""
    return prefix + secrets.token_hex(25)


def is_reasoning_model(model: str) -> bool:
    return _REASONING_MODEL.search(model) is not None


def text_of(content: Any) -> str:
    """The text of a message's content or a tool output: a string, or parts carrying ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def input_items(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's ``input`` as items: a string is one user message; a message's string content
    becomes one ``input_text`` (``output_text`` for the assistant's) part, and ``type`` is filled in."""
    raw = body.get("input")
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    items: list[dict[str, Any]] = []
    for entry in raw:
        item = dict(entry)
        if "role" in item and item.get("type", "message") == "message":
            content = item.get("content")
            if isinstance(content, str):
                kind = "output_text" if item["role"] == "assistant" else "input_text"
                part: dict[str, Any] = {"type": kind, "text": content}
                if kind == "output_text":
                    part["annotations"] = []
                content = [part]
            item = {"type": "message", **item, "content": content}
        items.append(item)
    return items


def item_resource(item: Mapping[str, Any]) -> dict[str, Any]:
    """An input item as ``GET /v1/responses/{id}/input_items`` lists it: with an id and a status."""
    kind = item.get("type", "message")
    prefix = {"message": "msg_", "function_call": "fc_", "custom_tool_call": "ctc_", "reasoning": "rs_"}
    resource = {"id": item.get("id") or new_id(prefix.get(kind, "item_")), **item}
    if kind != "reasoning" and not resource.get("status"):
        resource["status"] = "completed"
    return resource


@dataclass(frozen=True, slots=True)
class Output:
    """One output item as it ends, and the pieces its deltas carry (text, arguments, custom input, or
    the reasoning summary)."""

    item: dict[str, Any]
    pieces: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Answer:
    outputs: tuple[Output, ...]
    incomplete: bool
    output_tokens: int
    reasoning_tokens: int


def _tools(body: Mapping[str, Any]) -> list[tuple[str, str, Any, str | None]]:
    """(kind, name, parameters or format, namespace) of each function and custom tool offered."""
    found: list[tuple[str, str, Any, str | None]] = []
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "namespace":
            for inner in tool.get("tools") or ():
                if isinstance(inner, dict) and inner.get("type") in ("function", "custom"):
                    found.append((inner["type"], str(inner["name"]), inner.get("parameters"), tool["name"]))
        elif tool.get("type") in ("function", "custom"):
            found.append((tool["type"], str(tool.get("name")), tool.get("parameters"), None))
    return found


def _wanted_tools(body: Mapping[str, Any], model: str) -> list[tuple[str, str, Any, str | None]]:
    tools = _tools(body)
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return []
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        named = [t for t in tools if t[1] == choice.get("name")]
        return named[:1]
    if choice != "required" and "tool" not in model:
        return []
    parallel = "parallel" in model and body.get("parallel_tool_calls") is not False
    return [tools[0], tools[1] if len(tools) > 1 else tools[0]] if parallel else [tools[0]]


def _call(kind: str, name: str, arguments: Any, namespace: str | None) -> Output:
    """A call of a custom tool (``arguments``: its input text) or a function (the arguments object)."""
    call_id = random_id("call_", 24)
    if kind == "custom":
        value = str(arguments) or "Echo."
        item = {"id": new_id("ctc_"), "type": "custom_tool_call", "status": "completed", "call_id": call_id,
                "input": value, "name": name}  # fmt: skip
        pieces: list[str] = re.findall(r"\s*\S+", value) or [value]
    else:
        value = dumps(arguments).decode()
        item = {"id": new_id("fc_"), "type": "function_call", "status": "completed", "arguments": value,
                "call_id": call_id, "name": name}  # fmt: skip
        pieces = _JSON_PIECES.findall(value)
    if namespace is not None:
        item["namespace"] = namespace
    return Output(item, tuple(pieces))


def _reasoning(body: Mapping[str, Any], text: str, mint: Callable[[str], str]) -> Output:
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    item: dict[str, Any] = {"id": new_id("rs_"), "type": "reasoning"}
    if "reasoning.encrypted_content" in (body.get("include") or ()):
        item["encrypted_content"] = mint(item["id"])
    summary = ""
    if reasoning.get("summary") or reasoning.get("generate_summary"):
        summary = f"**Answering the user**\n\nThe user wrote: {text or '(nothing)'}"
    item["summary"] = [{"type": "summary_text", "text": summary}] if summary else []
    return Output(item, tuple(re.findall(r"\s*\S+", summary)))


def _conversation_turn(items: list[dict[str, Any]]) -> tuple[str, list[str], bool]:
    """(last user text, tool outputs since the model's last turn, whether the input ends with them)."""
    user = ""
    for item in reversed(items):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            user = text_of(item.get("content"))
            break
    results: list[str] = []
    for item in reversed(items):
        kind = item.get("type", "message")
        if kind in _MODEL_TURN or (kind == "message" and item.get("role") == "assistant"):
            break
        if kind in _OUTPUTS:
            results.insert(0, text_of(item.get("output")))
    ends_with_results = bool(items) and items[-1].get("type") in _OUTPUTS
    return user, results, ends_with_results


def plan(
    body: Mapping[str, Any],
    conversation: list[dict[str, Any]],
    model: str,
    scenario: Scenario,
    mint: Callable[[str], str],
) -> Answer:
    """The scripted answer to ``conversation`` (earlier turns and this request's input items); ``mint``
    makes the encrypted content of a reasoning item from its id."""
    user, results, ends_with_results = _conversation_turn(conversation)
    outputs: list[Output] = []
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    reasoning_tokens = 0
    if is_reasoning_model(model) and reasoning.get("effort") != "none":
        thought = _reasoning(body, user, mint)
        outputs.append(thought)
        reasoning_tokens = 8 + sum(estimate_tokens(p) for p in thought.pieces)
    text = " ".join(results if ends_with_results else [*results, user]) if results else user
    tools = {name: spec for kind, name, spec, _ in _tools(body) if kind == "function"}
    read = None if results else _scripted_read(user, tools)
    calls = [] if results else _wanted_tools(body, model)
    if read is not None:
        outputs.append(_call("function", "Read", read, None))
    for kind, name, spec, namespace in calls if read is None else ():
        arguments = text if kind == "custom" else sample_arguments(spec, text)
        outputs.append(_call(kind, name, arguments, namespace))
    if read is not None or calls:
        tokens = sum(len(o.pieces) for o in outputs if o.item["type"] != "reasoning")
        return Answer(tuple(outputs), False, tokens + reasoning_tokens, reasoning_tokens)
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        pieces = _JSON_PIECES.findall(dumps(sample_arguments(fmt.get("schema"), user)).decode())
    elif scenario.kind == "chunks":
        pieces = filler_words(int(scenario.value))
    else:
        pieces = reply_words(scenario, text)
    limit = body.get("max_output_tokens")
    incomplete = isinstance(limit, int) and limit - reasoning_tokens < len(pieces)
    if incomplete and isinstance(limit, int):
        pieces = pieces[: max(0, limit - reasoning_tokens)]
    if pieces or not incomplete:
        outputs.append(_message(pieces, incomplete))
    return Answer(tuple(outputs), incomplete, len(pieces) + reasoning_tokens, reasoning_tokens)


def _message(pieces: list[str], incomplete: bool) -> Output:
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": "".join(pieces)}
    item = {"id": new_id("msg_"), "type": "message", "status": "incomplete" if incomplete else "completed",
            "content": [part], "role": "assistant"}  # fmt: skip
    return Output(item, tuple(pieces))


def _echo_tool(tool: Any) -> Any:
    """A tool as the response echoes it: function tools with ``description`` and ``strict`` filled in."""
    if isinstance(tool, dict) and tool.get("type") == "function":
        return {"type": "function", "description": tool.get("description"), "name": tool.get("name"),
                "parameters": tool.get("parameters"), "strict": tool.get("strict", True)}  # fmt: skip
    if isinstance(tool, dict) and tool.get("type") == "custom":
        echoed = {"type": "custom", "description": tool.get("description"),
                  "format": tool.get("format", {"type": "text"}), "name": tool.get("name")}  # fmt: skip
        return {k: v for k, v in echoed.items() if v is not None}
    return tool


def response_object(
    body: Mapping[str, Any],
    *,
    response_id: str,
    created_at: int,
    model: str,
    answer: Answer,
    input_tokens: int,
    cached_tokens: int,
) -> dict[str, Any]:
    """The finished ``Response``: the answer, and the request's settings echoed with their defaults."""
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    thinking = is_reasoning_model(model)
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    fmt = text.get("format", {"type": "text"})
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        fmt = {"description": None, **fmt, "strict": fmt.get("strict", True)}
    output_tokens = answer.output_tokens
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "incomplete" if answer.incomplete else "completed",
        "background": False,
        "completed_at": None if answer.incomplete else created_at,
        "error": None,
        "frequency_penalty": 0.0,
        "incomplete_details": {"reason": "max_output_tokens"} if answer.incomplete else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": model,
        "output": [o.item for o in answer.outputs],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "presence_penalty": 0.0,
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "prompt_cache_retention": body.get("prompt_cache_retention"),
        "reasoning": {
            "effort": reasoning.get("effort", "medium" if thinking else None),
            "summary": reasoning.get("summary"),
        },
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default" if body.get("service_tier") in (None, "auto") else body["service_tier"],
        "store": body.get("store", True),
        "temperature": float(body.get("temperature", 1.0)),
        "text": {"format": fmt, "verbosity": text.get("verbosity", "medium")},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [_echo_tool(t) for t in body.get("tools") or ()],
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": float(body.get("top_p", 1.0)),
        "truncation": body.get("truncation", "disabled"),
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached_tokens, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        },
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One server-sent event as the API writes it: an ``event:`` line naming its type, then its data."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + dumps(event) + b"\n\n"


class _Events:
    """Numbers events from 0 and notes which carry content (the deltas stream faults count)."""

    def __init__(self, obfuscate: bool) -> None:
        self.events: list[dict[str, Any]] = []
        self.content_at: list[int] = []
        self.obfuscate = obfuscate

    def add(self, type_: str, fields: Mapping[str, Any], *, delta: bool = False) -> None:
        event = {"type": type_, "sequence_number": len(self.events), **fields}
        if delta:
            self.content_at.append(len(self.events))
            if self.obfuscate:
                event["obfuscation"] = _OBFUSCATION[: 4 + len(self.events) * 7 % 12]
        self.events.append(event)

    def deltas(self, type_: str, fields: Mapping[str, Any], pieces: Iterable[str], **extra: Any) -> None:
        for piece in pieces:
            self.add(type_, {**fields, "delta": piece, **extra}, delta=True)


def _item_events(out: _Events, index: int, output: Output) -> None:
    item = output.item
    kind = item["type"]
    at = {"item_id": item["id"], "output_index": index}
    if kind == "reasoning":
        out.add("response.output_item.added", {"output_index": index, "item": {**item, "summary": []}})
        for number, part in enumerate(item["summary"]):
            where = {**at, "summary_index": number}
            out.add("response.reasoning_summary_part.added", {**where, "part": {**part, "text": ""}})
            out.deltas("response.reasoning_summary_text.delta", where, output.pieces)
            out.add("response.reasoning_summary_text.done", {**where, "text": part["text"]})
            out.add("response.reasoning_summary_part.done", {**where, "part": part})
    elif kind == "message":
        part = item["content"][0]
        out.add("response.output_item.added", {"output_index": index,
                "item": {**item, "status": "in_progress", "content": []}})  # fmt: skip
        where = {**at, "content_index": 0}
        out.add("response.content_part.added", {**where, "part": {**part, "text": ""}})
        out.deltas("response.output_text.delta", where, output.pieces, logprobs=[])
        out.add("response.output_text.done", {**where, "text": part["text"], "logprobs": []})
        out.add("response.content_part.done", {**where, "part": part})
    elif kind == "function_call":
        out.add("response.output_item.added", {"output_index": index,
                "item": {**item, "status": "in_progress", "arguments": ""}})  # fmt: skip
        out.deltas("response.function_call_arguments.delta", at, output.pieces)
        out.add("response.function_call_arguments.done", {**at, "name": item["name"],
                "arguments": item["arguments"]})  # fmt: skip
    elif kind == "custom_tool_call":
        out.add("response.output_item.added", {"output_index": index,
                "item": {**item, "status": "in_progress", "input": ""}})  # fmt: skip
        where = {"output_index": index, "item_id": item["id"]}
        out.deltas("response.custom_tool_call_input.delta", where, output.pieces)
        out.add("response.custom_tool_call_input.done", {**where, "input": item["input"]})
    out.add("response.output_item.done", {"output_index": index, "item": item})


def stream_events(
    response: Mapping[str, Any], outputs: Iterable[Output], *, obfuscate: bool
) -> tuple[list[dict[str, Any]], list[int]]:
    """The events that stream ``response`` (its outputs' deltas cut into ``pieces``), numbered from 0,
    and the indexes of the content deltas. The last event carries the whole response."""
    out = _Events(obfuscate)
    start = {**response, "status": "in_progress", "completed_at": None, "incomplete_details": None,
             "output": [], "usage": None}  # fmt: skip
    out.add("response.created", {"response": start})
    out.add("response.in_progress", {"response": start})
    for index, output in enumerate(outputs):
        _item_events(out, index, output)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    out.add(final, {"response": dict(response)})
    return out.events, out.content_at
