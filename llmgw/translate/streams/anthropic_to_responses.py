"""Anthropic stream events → OpenAI Responses API stream events: Responses clients of any upstream.

The events come from an Anthropic upstream, or through `GeminiToAnthropicStream` /
`OpenAIToAnthropicStream` for the others. The items are built with `anthropic_to_responses`' functions,
and the closing `response.completed` (or `.incomplete`) carries the Response that
`anthropic_response_to_responses` gives for the same answer whole; it is also kept in `response` (for
storage). Pure and synchronous.

Mapping decisions (Anthropic → Responses):
- Every event has `sequence_number`, from 0; `sequence_number` is the next one's (the relay numbers
  its own error event with it). `response.created` then `response.in_progress` (status in_progress,
  `output` [], `usage` null) go out before anything else, an error included.
- Items open and close in output order. A `text` block opens a `message` item (`output_item.added`,
  `content_part.added` of an empty `output_text`) unless one is open, and streams
  `output_text.delta`s (`logprobs` []); consecutive text blocks write on the same part, and a block's
  web-search citations become `output_text.annotation.added` events at its end (a citation's span is
  the block's). `thinking` / `redacted_thinking` → a `reasoning` item, done at the block's end (its
  `encrypted_content` needs the signature, which comes last); with `reasoning.summary` set its text
  streams as `reasoning_summary_part.added` / `reasoning_summary_text.delta` / `.done` /
  `reasoning_summary_part.done`. `tool_use` → `function_call` (`function_call_arguments.delta` per
  `input_json_delta`; `.done` at the block's end with the arguments in compact JSON, which the deltas
  equal as JSON) or, for a custom tool, `custom_tool_call` (its input is a string inside the JSON, so it
  goes out whole at the block's end: one `custom_tool_call_input.delta`, then `.done`). Web search
  (`server_tool_use` + `web_search_tool_result`) → a `web_search_call` item: `.in_progress`,
  `.searching` once the query is known, `.completed` and `output_item.done` with the result. Other
  blocks are skipped.
- A message or call item closes (`output_text.done`, `content_part.done`, `output_item.done`) when the
  next item opens or the answer ends, so the last one takes the answer's status (`incomplete` for an
  incomplete answer). A `refusal` stop adds the refusal part (`content_part.added`, `refusal.delta`,
  `refusal.done`, `content_part.done`) to the open message item, or to a new one.
- `message_stop` (or `finish()`) → `response.completed` or `response.incomplete` with the whole Response:
  status, usage (the `message_delta` counts over `message_start`'s) and items as the non-stream
  translation gives them.
- An `error` event (the upstream's, or one the hub translators wrote for theirs) ends the stream as
  the gateway ends a failed one (`wire.responses.failure_events`): `response.failed`, its Response's
  `error` {code, message} (rate_limit_error → rate_limit_exceeded, invalid_request_error →
  invalid_prompt, anything else → server_error), then an `error` event with the OpenAI error object
  (`wire.openai.client_error_body`), on which the openai SDK raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from llmgw.translate.anthropic_to_responses import (
    call_item,
    call_payload,
    complete_search,
    hub_reasoning_block,
    is_custom,
    item_id,
    message_item,
    outcome,
    reasoning_item,
    refusal_part,
    response_object,
    search_action,
    text_part,
    url_citations,
    wants_sources,
    wants_summary,
    web_search_item,
    with_status,
)
from llmgw.translate.hub import responses_usage_from_anthropic
from llmgw.translate.json_fields import JSON
from llmgw.translate.responses_tools import WEB_SEARCH_TOOL, ToolNames
from llmgw.translate.usage import Usage, anthropic_usage
from llmgw.wire.openai import client_error_body
from llmgw.wire.upstream_errors import parse_upstream_error

__all__ = ["AnthropicToResponsesStream"]

_ERROR_CODES: Final = {"rate_limit_error": "rate_limit_exceeded", "invalid_request_error": "invalid_prompt"}


@dataclass(slots=True)
class _Block:
    """The Anthropic content block being read, and the output item it writes (-1: none)."""

    kind: str
    index: int = -1
    start: int = 0  # text: where the block starts in its part
    citations: list[Any] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)  # tool input JSON
    start_input: Any = None
    thinking: str = ""
    signature: str = ""
    data: str = ""
    summary_open: bool = False


class AnthropicToResponsesStream:
    """Anthropic stream events (parsed) → Responses API stream events, for a Responses client."""

    def __init__(
        self, model: str, request: dict[str, Any], tools: ToolNames, response_id: str, created_at: int
    ) -> None:
        self.model = model
        self.request = request
        self.tools = tools
        self.response_id = response_id
        self.created_at = created_at
        self.response: dict[str, Any] | None = None  # the final Response once the stream ended
        self.sequence_number = 0  # the next event's
        self.output_events = 0  # tool calls, and deltas that carried text, thinking or a piece of a call
        self._summarize, self._sources = wants_summary(request), wants_sources(request)
        self._raw_usage: dict[str, Any] = {}
        self._stop_reason: Any = None
        self._output: list[JSON] = []
        self._open = -1  # the output index of the message or call item still open (-1: none)
        self._text_open = False  # the open message's last part is an output_text still written to
        self._block: _Block | None = None
        self._searches: dict[Any, int] = {}  # server_tool_use id → its item's output index
        self._started = self._ended = False

    @property
    def usage(self) -> Usage | None:
        """What the upstream reported so far (`message_delta` counts override `message_start`'s)."""
        return anthropic_usage(self._raw_usage) if self._raw_usage else None

    @property
    def ended(self) -> bool:
        """The upstream ended its stream itself (`message_stop` or an `error` event): not cut short."""
        return self._ended

    def feed(self, event: Mapping[str, Any]) -> list[JSON]:
        """The events for one Anthropic event (`ping` and anything after the end give none)."""
        kind = event.get("type")
        if self._ended or kind == "ping":
            return []
        out: list[JSON] = []
        self._start(out)
        if kind == "error":
            self._fail(event, out)
        elif kind == "message_start":
            message = event.get("message")
            if isinstance(message, Mapping):
                self._merge_usage(message.get("usage"))
        elif kind == "content_block_start":
            block = event.get("content_block")
            self._block_start(block if isinstance(block, Mapping) else {}, out)
        elif kind == "content_block_delta":
            delta = event.get("delta")
            if isinstance(delta, Mapping) and self._block is not None:
                self._block_delta(self._block, delta, out)
        elif kind == "content_block_stop":
            self._block_stop(out)
        elif kind == "message_delta":
            self._merge_usage(event.get("usage"))
            delta = event.get("delta")
            if isinstance(delta, Mapping) and delta.get("stop_reason") is not None:
                self._stop_reason = delta["stop_reason"]
        elif kind == "message_stop":
            self._complete(out)
        return out

    def finish(self) -> list[JSON]:
        """At upstream end of stream: the closing events not sent yet."""
        if self._ended:
            return []
        out: list[JSON] = []
        self._start(out)
        self._block_stop(out)
        self._complete(out)
        return out

    # --- events ----------------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> JSON:
        event = {"type": kind, "sequence_number": self.sequence_number, **fields}
        self.sequence_number += 1
        return event

    def _item_event(self, kind: str, index: int, **fields: Any) -> JSON:
        return self._event(kind, item_id=self._output[index]["id"], output_index=index, **fields)

    def _response(self, status: str, **fields: Any) -> JSON:
        return response_object(
            self.request,
            response_id=self.response_id,
            created_at=self.created_at,
            model=self.model,
            status=status,
            **fields,
        )

    def _start(self, out: list[JSON]) -> None:
        if not self._started:
            self._started = True
            for kind in ("response.created", "response.in_progress"):
                out.append(self._event(kind, response=self._response("in_progress", output=[], usage=None)))

    def _add(self, item: JSON, announced: JSON, out: list[JSON]) -> int:
        """A new output item (`announced`: how `output_item.added` shows it); the open one closes first."""
        self._close_open(out)
        index = len(self._output)
        self._output.append(item)
        out.append(self._event("response.output_item.added", output_index=index, item=announced))
        return index

    # --- blocks ----------------------------------------------------------------------------------

    def _block_start(self, block: Mapping[str, Any], out: list[JSON]) -> None:
        self._block_stop(out)  # a block the upstream left without its stop event
        kind = block.get("type")
        rid, n = self.response_id, len(self._output)
        if kind == "text":
            index = self._open_text(out)
            part = self._output[index]["content"][-1]
            self._block = _Block("text", index, start=len(part["text"]))
            self._text(self._block, block.get("text"), out)
            citations = block.get("citations")
            self._block.citations += citations if isinstance(citations, list) else []
        elif kind in ("thinking", "redacted_thinking"):
            identifier = item_id("rs", rid, n)
            reasoning: JSON = {"id": identifier, "type": "reasoning", "summary": []}
            index = self._add(reasoning, dict(reasoning), out)
            self._block = _Block(str(kind), index)
            self._block.signature = str(block.get("signature") or "")
            self._block.data = str(block.get("data") or "")
            self._thinking(self._block, block.get("thinking"), out)
        elif kind == "tool_use":
            tool_id, name = str(block.get("id") or ""), str(block.get("name") or "")
            custom = is_custom(name, self.tools)
            identifier = item_id("ctc" if custom else "fc", rid, n)
            item = call_item(identifier, tool_id, name, self.tools, "", status="in_progress")
            index = self._add(item, dict(item), out)
            self._open = index
            self.output_events += 1
            self._block = _Block("tool_use", index, start_input=block.get("input"))
        elif kind == "server_tool_use" and block.get("name") == WEB_SEARCH_TOOL:
            item = web_search_item(item_id("ws", rid, n), "")
            index = self._add(item, {**item, "action": dict(item["action"])}, out)
            self._searches[block.get("id")] = index
            out.append(self._item_event("response.web_search_call.in_progress", index))
            self._block = _Block("search", index, start_input=block.get("input"))
        elif kind == "web_search_tool_result" and block.get("tool_use_id") in self._searches:
            index = self._searches.pop(block.get("tool_use_id"))
            item = self._output[index]
            complete_search(item, block.get("content"), self._sources)
            if item["status"] == "completed":
                out.append(self._item_event("response.web_search_call.completed", index))
            out.append(self._event("response.output_item.done", output_index=index, item=item))
            self._block = _Block("done")
        else:
            self._block = _Block("skipped")

    def _block_delta(self, block: _Block, delta: Mapping[str, Any], out: list[JSON]) -> None:
        kind = delta.get("type")
        if kind == "text_delta" and block.kind == "text":
            self._text(block, delta.get("text"), out)
        elif kind == "citations_delta" and block.kind == "text":
            block.citations.append(delta.get("citation"))
        elif kind == "thinking_delta" and block.kind == "thinking":
            self._thinking(block, delta.get("thinking"), out)
        elif kind == "signature_delta" and block.kind == "thinking":
            block.signature = str(delta.get("signature") or "")
        elif kind == "input_json_delta" and block.kind in ("tool_use", "search"):
            piece = delta.get("partial_json")
            if isinstance(piece, str) and piece:
                block.pieces.append(piece)
                self.output_events += 1
                if block.kind == "tool_use" and self._output[block.index]["type"] == "function_call":
                    out.append(
                        self._item_event("response.function_call_arguments.delta", block.index, delta=piece)
                    )

    def _text(self, block: _Block, text: Any, out: list[JSON]) -> None:
        if isinstance(text, str) and text:
            content = self._output[block.index]["content"]
            content[-1]["text"] += text
            index = len(content) - 1
            out.append(
                self._item_event(
                    "response.output_text.delta", block.index, content_index=index, delta=text, logprobs=[]
                )
            )
            self.output_events += 1

    def _thinking(self, block: _Block, text: Any, out: list[JSON]) -> None:
        if not isinstance(text, str) or not text:
            return
        block.thinking += text
        self.output_events += 1
        if not self._summarize:
            return
        if not block.summary_open:
            block.summary_open = True
            part = {"type": "summary_text", "text": ""}
            out.append(
                self._item_event(
                    "response.reasoning_summary_part.added", block.index, summary_index=0, part=part
                )
            )
        out.append(
            self._item_event(
                "response.reasoning_summary_text.delta", block.index, summary_index=0, delta=text
            )
        )

    def _block_stop(self, out: list[JSON]) -> None:
        block, self._block = self._block, None
        if block is None:
            return
        if block.kind == "text":
            content = self._output[block.index]["content"]
            part = content[-1]
            for citation in url_citations(block.citations, block.start, len(part["text"]) - block.start):
                part["annotations"].append(citation)
                out.append(
                    self._item_event(
                        "response.output_text.annotation.added",
                        block.index,
                        content_index=len(content) - 1,
                        annotation_index=len(part["annotations"]) - 1,
                        annotation=citation,
                    )
                )
        elif block.kind in ("thinking", "redacted_thinking"):
            self._reasoning_done(block, out)
        elif block.kind == "tool_use":
            self._call_done(block, out)
        elif block.kind == "search":
            parsed = _parsed(block.pieces, block.start_input)
            query = parsed.get("query") if isinstance(parsed, dict) else None
            self._output[block.index]["action"] = search_action(query if isinstance(query, str) else "")
            out.append(self._item_event("response.web_search_call.searching", block.index))

    def _reasoning_done(self, block: _Block, out: list[JSON]) -> None:
        if block.kind == "redacted_thinking":
            hub = hub_reasoning_block({"type": "redacted_thinking", "data": block.data})
        else:
            hub = hub_reasoning_block(
                {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
            )
        item = reasoning_item(hub, self._output[block.index]["id"], self._summarize)
        self._output[block.index] = item
        if block.summary_open:
            text = block.thinking
            out.append(
                self._item_event(
                    "response.reasoning_summary_text.done", block.index, summary_index=0, text=text
                )
            )
            part = {"type": "summary_text", "text": text}
            out.append(
                self._item_event(
                    "response.reasoning_summary_part.done", block.index, summary_index=0, part=part
                )
            )
        out.append(self._event("response.output_item.done", output_index=block.index, item=item))

    def _call_done(self, block: _Block, out: list[JSON]) -> None:
        item = self._output[block.index]
        start = block.start_input if isinstance(block.start_input, dict) else {}
        parsed = _parsed(block.pieces, start)
        custom = item["type"] == "custom_tool_call"
        payload = call_payload(parsed, custom) if isinstance(parsed, dict) else "".join(block.pieces)
        if custom:
            item["input"] = payload
            out.append(self._item_event("response.custom_tool_call_input.delta", block.index, delta=payload))
            out.append(self._item_event("response.custom_tool_call_input.done", block.index, input=payload))
        else:
            item["arguments"] = payload
            out.append(
                self._item_event(
                    "response.function_call_arguments.done", block.index, name=item["name"], arguments=payload
                )
            )

    # --- items -----------------------------------------------------------------------------------

    def _open_text(self, out: list[JSON]) -> int:
        """The open message item with an output_text part to write on, opened as needed."""
        if self._open < 0 or self._output[self._open]["type"] != "message":
            identifier = item_id("msg", self.response_id, len(self._output))
            announced = message_item(identifier, [], status="in_progress")
            self._open = self._add(message_item(identifier, [], status="in_progress"), announced, out)
        if not self._text_open:
            content = self._output[self._open]["content"]
            content.append(text_part())
            part = text_part()
            out.append(
                self._item_event(
                    "response.content_part.added", self._open, content_index=len(content) - 1, part=part
                )
            )
            self._text_open = True
        return self._open

    def _close_text(self, out: list[JSON]) -> None:
        if self._text_open:
            self._text_open = False
            content = self._output[self._open]["content"]
            part, index = content[-1], len(content) - 1
            out.append(
                self._item_event(
                    "response.output_text.done",
                    self._open,
                    content_index=index,
                    text=part["text"],
                    logprobs=[],
                )
            )
            out.append(
                self._item_event("response.content_part.done", self._open, content_index=index, part=part)
            )

    def _close_open(self, out: list[JSON], status: str = "completed") -> None:
        """Close the open message or call item (`status` for those that have one)."""
        if self._open < 0:
            return
        self._close_text(out)
        item = self._output[self._open]
        if with_status(item):
            item["status"] = status
        out.append(self._event("response.output_item.done", output_index=self._open, item=item))
        self._open = -1

    def _refuse(self, out: list[JSON]) -> None:
        """The refusal part that closes a refused answer, on the open message or a new one."""
        if self._open < 0 or self._output[self._open]["type"] != "message":
            identifier = item_id("msg", self.response_id, len(self._output))
            announced = message_item(identifier, [], status="in_progress")
            self._open = self._add(message_item(identifier, [], status="in_progress"), announced, out)
        self._close_text(out)
        content = self._output[self._open]["content"]
        part = refusal_part()
        content.append(part)
        index = len(content) - 1
        empty = {"type": "refusal", "refusal": ""}
        out.append(
            self._item_event("response.content_part.added", self._open, content_index=index, part=empty)
        )
        out.append(
            self._item_event("response.refusal.delta", self._open, content_index=index, delta=part["refusal"])
        )
        out.append(
            self._item_event(
                "response.refusal.done", self._open, content_index=index, refusal=part["refusal"]
            )
        )
        out.append(self._item_event("response.content_part.done", self._open, content_index=index, part=part))

    # --- the end ---------------------------------------------------------------------------------

    def _complete(self, out: list[JSON]) -> None:
        status, details = outcome(self._stop_reason)
        for index in sorted(self._searches.values()):  # searches without a result (a paused turn)
            out.append(self._event("response.output_item.done", output_index=index, item=self._output[index]))
        self._searches.clear()
        if self._stop_reason == "refusal":
            self._refuse(out)
        self._close_open(out, "incomplete" if details is not None else "completed")
        usage = responses_usage_from_anthropic(self._raw_usage)
        self.response = self._response(status, output=self._output, usage=usage, incomplete_details=details)
        kind = "response.incomplete" if details is not None else "response.completed"
        out.append(self._event(kind, response=self.response))
        self._ended = True

    def _fail(self, event: Mapping[str, Any], out: list[JSON]) -> None:
        err = parse_upstream_error("anthropic", 200, orjson.dumps(dict(event)))
        failure = {"code": _ERROR_CODES.get(err.type, "server_error"), "message": err.message}
        usage = responses_usage_from_anthropic(self._raw_usage) if self._raw_usage else None
        self.response = self._response("failed", output=self._output, usage=usage, error=failure)
        out.append(self._event("response.failed", response=self.response))
        body = client_error_body(err)["error"]
        code = body["code"] or failure["code"]
        out.append(self._event("error", code=code, message=body["message"], param=body["param"], error=body))
        self._ended = True

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            self._raw_usage.update((k, v) for k, v in usage.items() if v is not None)


def _parsed(pieces: list[str], start: Any) -> Any:
    """The JSON the pieces form (`start` when there are none); None when they are not JSON (a cut call)."""
    text = "".join(pieces)
    if not text.strip():
        return start
    try:
        return json.loads(text)
    except ValueError:
        return None
