"""Anthropic Messages (the hub) → OpenAI Responses API: answers, as the whole `Response` object. Pure.

An Anthropic answer (from an Anthropic upstream, or from Gemini / chat-completions upstreams through
`gemini_to_anthropic` / `openai_to_anthropic`) becomes the Response its Responses client expects. The
request went the other way in `responses_to_anthropic.py`; the same answer streamed is
`streams/anthropic_to_responses.py`, which builds its items with this module's functions, so that its
final `response.completed` equals this translation. An unreadable answer is a 502.

Answer decisions (Anthropic message → Response):
- The Response: `id` and `created_at` as given (`new_response_id`), `object: "response"`, `model` the
  name the client asked for; the request's fields echoed, each with the API's default when not sent
  (`instructions` null, `metadata` {}, `parallel_tool_calls` true, `store` true, `temperature` and
  `top_p` 1, `text.format` text, `text.verbosity` medium, `tool_choice` auto, `tools` [],
  `top_logprobs` 0, `truncation` disabled, `reasoning` {effort, summary}), `service_tier` default,
  `background` false, `error` null.
- Blocks → output items, in order, each item's id its output index under the response's (`item_id`):
  consecutive `text` blocks → one `message` item with one `output_text` part (`annotations` from the
  blocks' web-search citations as `url_citation`s over each block's span, `logprobs` []);
  `thinking` / `redacted_thinking` → a `reasoning` item whose `encrypted_content` carries the block
  (`encrypted_reasoning`), `summary` the thinking text when the request set `reasoning.summary` (else
  []); `tool_use` → `function_call` (`call_id` = the tool_use id, `name` and `namespace` as the client
  named the tool (`ToolNames`), `arguments` compact JSON; `{"_raw": text}`, an upstream's unparsable
  arguments, → that text), or `custom_tool_call` for a custom tool (`input` = the tool_use's
  `input.input`); `server_tool_use` web search + its `web_search_tool_result` → one `web_search_call`
  (`action.query` and `queries`, as OpenAI's answers carry both; `action.sources` when `include` asks
  for `web_search_call.action.sources`; status failed on a search error). Other blocks (other server
  tools' results) carry nothing a Responses client reads: dropped.
- `stop_reason` → `status`: max_tokens and model_context_window_exceeded → incomplete
  (`incomplete_details.reason` max_output_tokens); refusal → incomplete (content_filter) with a
  `refusal` part (`REFUSAL_TEXT`) closing the last message item (a new one if the answer ends
  otherwise); anything else (end_turn, tool_use, stop_sequence, pause_turn) → completed. The last item
  of an incomplete answer, a message or a call, is `incomplete`; others are `completed` (custom tool
  calls carry a `status` too, as OpenAI's answers do, though the reference leaves it out).
- Usage (`hub.responses_usage_from_anthropic`): `input_tokens` = fresh + cache reads + cache writes,
  `cached_tokens` = cache reads, `cache_write_tokens` = cache writes, `output_tokens` as reported,
  `reasoning_tokens` from `output_tokens_details.thinking_tokens` (0 when the upstream does not say).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Final

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.encrypted_reasoning import encode_reasoning
from llmgw.translate.hub import responses_usage_from_anthropic
from llmgw.translate.json_fields import JSON, compact_json
from llmgw.translate.responses_tools import WEB_SEARCH_TOOL, ToolNames

__all__ = [
    "REFUSAL_TEXT",
    "anthropic_response_to_responses",
    "call_item",
    "call_payload",
    "complete_search",
    "hub_reasoning_block",
    "is_custom",
    "item_id",
    "message_item",
    "new_response_id",
    "outcome",
    "reasoning_item",
    "refusal_part",
    "response_object",
    "search_action",
    "text_part",
    "url_citations",
    "wants_sources",
    "wants_summary",
    "web_search_item",
    "with_status",
]

REFUSAL_TEXT: Final = "The model refused to continue this answer."
_INCOMPLETE: Final = {
    "max_tokens": "max_output_tokens",
    "model_context_window_exceeded": "max_output_tokens",
    "refusal": "content_filter",
}
_SOURCES: Final = "web_search_call.action.sources"
_WITH_STATUS: Final = ("message", "function_call", "custom_tool_call")  # items an answer's end leaves open


def new_response_id() -> str:
    """A fresh Response id: `resp_` + 48 hex characters."""
    return "resp_" + secrets.token_hex(24)


def item_id(prefix: str, response_id: str, index: int) -> str:
    """The id of the output item at `index` (`msg`, `rs`, `fc`, `ctc`, `ws`): the response's own id
    stem and the index, so the stream and the whole answer name their items alike."""
    return f"{prefix}_{response_id.removeprefix('resp_')}{index:04x}"


def anthropic_response_to_responses(
    message: dict[str, Any],
    *,
    model: str,
    request: dict[str, Any],
    tools: ToolNames,
    response_id: str,
    created_at: int,
) -> dict[str, Any]:
    """The Response for an Anthropic message (the module docstring says how)."""
    content = message.get("content")
    if not isinstance(content, list):
        raise UpstreamUnavailable("The Anthropic answer has no content list.")
    summarize, sources = wants_summary(request), wants_sources(request)
    output: list[JSON] = []
    part: JSON | None = None  # the output_text part of the message item text blocks go on to
    searches: dict[Any, JSON] = {}  # server_tool_use id → its web_search_call item
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise UpstreamUnavailable("The Anthropic answer has a text block without text.")
            if part is None:
                part = text_part()
                output.append(message_item(item_id("msg", response_id, len(output)), [part]))
            part["annotations"] += url_citations(block.get("citations"), len(part["text"]), len(text))
            part["text"] += text
            continue
        if kind in ("thinking", "redacted_thinking"):
            hub = hub_reasoning_block(block)
            output.append(reasoning_item(hub, item_id("rs", response_id, len(output)), summarize))
        elif kind == "tool_use":
            tool_id, name, tool_input = block.get("id"), block.get("name"), block.get("input")
            if not isinstance(tool_id, str) or not isinstance(name, str):
                raise UpstreamUnavailable("The Anthropic answer has a tool_use block without id or name.")
            custom = is_custom(name, tools)
            payload = call_payload(tool_input if isinstance(tool_input, dict) else {}, custom)
            identifier = item_id("ctc" if custom else "fc", response_id, len(output))
            output.append(call_item(identifier, tool_id, name, tools, payload))
        elif kind == "server_tool_use" and block.get("name") == WEB_SEARCH_TOOL:
            tool_input = block.get("input")
            query = tool_input.get("query") if isinstance(tool_input, dict) else None
            item = web_search_item(
                item_id("ws", response_id, len(output)), query if isinstance(query, str) else ""
            )
            searches[block.get("id")] = item
            output.append(item)
        elif kind == "web_search_tool_result":
            search = searches.get(block.get("tool_use_id"))
            if search is not None:
                complete_search(search, block.get("content"), sources)
            continue
        else:
            continue  # nothing a Responses client reads
        part = None
    stop_reason = message.get("stop_reason")
    status, details = outcome(stop_reason)
    if stop_reason == "refusal":
        last = output[-1] if output else None
        if last is not None and last["type"] == "message":
            last["content"].append(refusal_part())
        else:
            output.append(message_item(item_id("msg", response_id, len(output)), [refusal_part()]))
    if details is not None and output and with_status(output[-1]):
        output[-1]["status"] = "incomplete"
    usage = message.get("usage")
    return response_object(
        request,
        response_id=response_id,
        created_at=created_at,
        model=model,
        status=status,
        output=output,
        usage=responses_usage_from_anthropic(usage if isinstance(usage, Mapping) else {}),
        incomplete_details=details,
    )


# --- the Response --------------------------------------------------------------------------------


def with_status(item: JSON) -> bool:
    """Whether an item takes the status of the answer it ends (message and call items)."""
    return item["type"] in _WITH_STATUS


def outcome(stop_reason: Any) -> tuple[str, JSON | None]:
    """(`status`, `incomplete_details`) for an Anthropic `stop_reason`."""
    reason = _INCOMPLETE.get(stop_reason) if isinstance(stop_reason, str) else None
    return ("incomplete", {"reason": reason}) if reason is not None else ("completed", None)


def response_object(
    request: Mapping[str, Any],
    *,
    response_id: str,
    created_at: int,
    model: str,
    status: str,
    output: list[JSON],
    usage: JSON | None,
    incomplete_details: JSON | None = None,
    error: JSON | None = None,
) -> dict[str, Any]:
    """The whole Response object: the answer's parts as given, the request's fields echoed."""

    def echo(key: str, default: Any) -> Any:
        value = request.get(key)
        return default if value is None else value

    text = request.get("text")
    text = text if isinstance(text, Mapping) else {}
    reasoning = request.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, Mapping) else {}
    summary = reasoning.get("summary", reasoning.get("generate_summary"))
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": echo("instructions", None),
        "max_output_tokens": echo("max_output_tokens", None),
        "max_tool_calls": echo("max_tool_calls", None),
        "model": model,
        "output": output,
        "parallel_tool_calls": echo("parallel_tool_calls", True),
        "previous_response_id": echo("previous_response_id", None),
        "prompt_cache_key": echo("prompt_cache_key", None),
        "reasoning": {"effort": reasoning.get("effort"), "summary": summary},
        "safety_identifier": echo("safety_identifier", None),
        "service_tier": "default",
        "store": echo("store", True),
        "temperature": echo("temperature", 1.0),
        "text": {
            "format": text.get("format") or {"type": "text"},
            "verbosity": text.get("verbosity") or "medium",
        },
        "tool_choice": echo("tool_choice", "auto"),
        "tools": echo("tools", []),
        "top_logprobs": echo("top_logprobs", 0),
        "top_p": echo("top_p", 1.0),
        "truncation": echo("truncation", "disabled"),
        "usage": usage,
        "user": echo("user", None),
        "metadata": echo("metadata", {}),
    }


def wants_summary(request: Mapping[str, Any]) -> bool:
    """Whether reasoning items carry their thinking as a summary (`reasoning.summary` set)."""
    reasoning = request.get("reasoning")
    return isinstance(reasoning, Mapping) and (
        reasoning.get("summary") is not None or reasoning.get("generate_summary") is not None
    )


def wants_sources(request: Mapping[str, Any]) -> bool:
    """Whether web search calls list their sources (`include: ["web_search_call.action.sources"]`)."""
    include = request.get("include")
    return isinstance(include, list) and _SOURCES in include


# --- output items ----------------------------------------------------------------------------------


def text_part() -> JSON:
    return {"type": "output_text", "text": "", "annotations": [], "logprobs": []}


def refusal_part() -> JSON:
    return {"type": "refusal", "refusal": REFUSAL_TEXT}


def message_item(identifier: str, content: list[JSON], status: str = "completed") -> JSON:
    return {"id": identifier, "type": "message", "status": status, "role": "assistant", "content": content}


def url_citations(citations: Any, start: int, length: int) -> list[JSON]:
    """`url_citation` annotations for a text block's web-search citations, over its span of the part."""
    out: list[JSON] = []
    for citation in citations if isinstance(citations, list) else ():
        if (
            isinstance(citation, dict)
            and citation.get("type") == "web_search_result_location"
            and isinstance(citation.get("url"), str)
        ):
            title = citation.get("title")
            out.append(
                {
                    "type": "url_citation",
                    "url": citation["url"],
                    "title": title if isinstance(title, str) else "",
                    "start_index": start,
                    "end_index": start + length,
                }
            )
    return out


def hub_reasoning_block(block: Mapping[str, Any]) -> JSON:
    """A `thinking` or `redacted_thinking` block with only the fields an upstream wants back."""
    if block.get("type") == "redacted_thinking":
        data = block.get("data")
        return {"type": "redacted_thinking", "data": data if isinstance(data, str) else ""}
    thinking, signature = block.get("thinking"), block.get("signature")
    return {
        "type": "thinking",
        "thinking": thinking if isinstance(thinking, str) else "",
        "signature": signature if isinstance(signature, str) else "",
    }


def reasoning_item(hub: JSON, identifier: str, summarize: bool) -> JSON:
    """The `reasoning` item carrying a hub thinking block (`hub_reasoning_block`)."""
    thinking = hub.get("thinking") or ""
    summary = [{"type": "summary_text", "text": thinking}] if summarize and thinking else []
    return {
        "id": identifier,
        "type": "reasoning",
        "summary": summary,
        "encrypted_content": encode_reasoning(hub),
    }


def is_custom(name: str, tools: ToolNames) -> bool:
    client = tools.get(name)
    return client is not None and client.kind == "custom"


def call_payload(tool_input: dict[str, Any], custom: bool) -> str:
    """A call's `arguments` (function) or `input` (custom tool) for a tool_use's `input`."""
    if custom and isinstance(tool_input.get("input"), str):
        return str(tool_input["input"])
    if len(tool_input) == 1 and isinstance(tool_input.get("_raw"), str):
        return str(tool_input["_raw"])  # arguments an upstream wrote that were no JSON object
    return compact_json(tool_input)


def call_item(
    identifier: str, tool_id: str, name: str, tools: ToolNames, payload: str, status: str = "completed"
) -> JSON:
    """The `function_call` or `custom_tool_call` item of a tool_use, named as the client named the tool."""
    client = tools.get(name)
    item: JSON
    if client is not None and client.kind == "custom":
        item = {
            "id": identifier,
            "type": "custom_tool_call",
            "status": status,  # not in the reference's CustomToolCall, but in OpenAI's answers
            "call_id": tool_id,
            "name": client.name,
            "input": payload,
        }
    else:
        item = {
            "id": identifier,
            "type": "function_call",
            "status": status,
            "arguments": payload,
            "call_id": tool_id,
            "name": client.name if client is not None else name,
        }
    if client is not None and client.namespace is not None:
        item["namespace"] = client.namespace
    return item


def web_search_item(identifier: str, query: str) -> JSON:
    """A `web_search_call` item, in progress until its result completes it."""
    return {
        "id": identifier,
        "type": "web_search_call",
        "status": "in_progress",
        "action": search_action(query),
    }


def search_action(query: str) -> JSON:
    """A search's `action`: `query` (deprecated in the reference, still sent) and `queries`."""
    return {"type": "search", "query": query, "queries": [query] if query else []}


def complete_search(item: JSON, content: Any, with_sources: bool) -> None:
    """Complete a `web_search_call` item with its `web_search_tool_result` content."""
    if not isinstance(content, list):  # a `web_search_tool_result_error`
        item["status"] = "failed"
        return
    item["status"] = "completed"
    if with_sources:
        item["action"]["sources"] = [
            {"type": "url", "url": r["url"]}
            for r in content
            if isinstance(r, dict) and isinstance(r.get("url"), str)
        ]
