"""Anthropic Messages → OpenAI Chat Completions: requests, and answers back to OpenAI clients. Pure.

An Anthropic client's request becomes an OpenAI request here, for an OpenAI-format upstream; an
Anthropic-format answer (from an Anthropic upstream, or a Gemini one through `gemini_to_anthropic`)
becomes the `chat.completion` its OpenAI client expects. The other direction is `openai_to_anthropic.py`.
Requests are checked as they are translated (400 naming the field path); an unreadable upstream answer
is a 502 (`UpstreamUnavailable`).

Request decisions (Anthropic request → OpenAI request):

- `system` (a string, or text blocks joined by a blank line) → one system message, first; a
  `role: "system"` message inside `messages` → a system message at its place.
- A user turn's `tool_result` blocks → `role: "tool"` messages, in order, right after the assistant
  turn and before the rest of that user turn (one user message; a single text becomes a string). A
  `tool_use_id` without an earlier `tool_use` → 400. Result content: the string, or its text blocks
  joined by newlines; `is_error: true` → the text prefixed with "Error: " (tool messages have no error
  flag). Tool messages carry text only, so a result's images go into the user message that follows,
  and the tool message says so. Other blocks in a result (documents, search results) → 400.
- `image`: base64 → a `data:` URL, url → the URL; file-id sources → 400. `document`: a base64 PDF →
  a `file` part (filename = title, else "document.pdf"), plain text → a text part; others → 400.
- Assistant turns: texts joined → `content` (null when none), `tool_use` → `tool_calls` (`arguments` =
  compact JSON of `input`). `thinking` / `redacted_thinking` are dropped: Chat Completions cannot carry
  them, and the upstream never produced their signatures (so nothing it needs is lost). A turn left
  empty is left out. Server-tool blocks (`server_tool_use`, `*_tool_result`) → 400.
- `tools`: custom tools → functions (`input_schema` → `parameters`, `strict: true` kept);
  `cache_control`, `defer_loading`, `input_examples`, `allowed_callers` and `eager_input_streaming`
  are dropped (hints; the tool is the same). Server tools (`type` such as `web_search_20250305`,
  `bash_20250124`) → 400 naming the type.
- `tool_choice`: auto / any / none / tool → "auto" / "required" / "none" / a named function;
  `disable_parallel_tool_use: true` → `parallel_tool_calls: false`. Without tools both are left out
  (they mean nothing then, and OpenAI rejects them).
- `max_tokens` → `max_tokens` by default: the field every OpenAI-compatible server knows. OpenAI's
  own reasoning models refuse it, so the OpenAI adapter passes `max_tokens_field="max_completion_tokens"`.
- `stop_sequences` → `stop`; `temperature`, `top_p` as they are; `top_k` is passed on too (vLLM,
  OpenRouter, llama.cpp and others take it; OpenAI answers a clear 400 rather than sampling otherwise).
- `thinking` enabled → `reasoning_effort` by `budget_effort`; disabled / adaptive → nothing (the
  upstream's default). `output_config.effort` → `reasoning_effort` (the same names) and wins over a
  budget; `output_config.format` → `response_format` json_schema (name "output", strict). For a model
  that takes no reasoning parameters (`reasoning=False`: the bridge asks `model_traits.openai_reasons`
  for OpenAI's own models) both are checked, then dropped with a note: they state a preference such a
  model cannot take, and OpenAI refuses `reasoning_effort` there.
- `metadata.user_id` → `user`. `cache_control` markers are dropped everywhere (OpenAI caches prefixes
  by itself). Dropped, the answer staying correct: `service_tier`, `inference_geo`, `speed`,
  `context_management`, `diagnostics`, `user_profile_id`, `workspace_id`. `container` and
  `mcp_servers` need Anthropic's servers → 400; any other field → 400.

Answer decisions (Anthropic message → OpenAI `chat.completion`): see `anthropic_response_to_openai`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final, Literal

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.hub import OPENAI_FINISH_REASONS, new_id, openai_usage_from_anthropic
from llmgw.translate.json_fields import (
    JSON,
    arr,
    bad,
    boolean,
    compact_json,
    copy_sampling,
    obj,
    positive_int,
    string,
)

__all__ = ["anthropic_request_to_openai", "anthropic_response_to_openai", "budget_effort"]

_HANDLED: Final = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "stream",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "output_config",
    }
)
_DROPPED: Final = frozenset(
    {
        "cache_control",
        "service_tier",
        "inference_geo",
        "speed",
        "context_management",
        "diagnostics",
        "user_profile_id",
        "workspace_id",
    }
)
_NEEDS_ANTHROPIC: Final = frozenset({"container", "mcp_servers"})
_TOOL_CHOICES: Final = {"auto": "auto", "any": "required", "none": "none"}
_EFFORTS: Final = frozenset({"low", "medium", "high", "xhigh", "max"})


def budget_effort(budget: int) -> Literal["low", "medium", "high"]:
    """The `reasoning_effort` for a thinking budget: the inverse of `openai_to_anthropic.EFFORT_BUDGET`
    (a test keeps them in step), capped at "high", the highest every reasoning server accepts."""
    if budget < 4096:
        return "low"
    if budget < 16384:
        return "medium"
    return "high"


def anthropic_request_to_openai(
    body: dict[str, Any],
    *,
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
    reasoning: bool = True,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The OpenAI Chat Completions request for an Anthropic Messages request (`model` unchanged).

    `max_tokens_field` names the field `max_tokens` goes to: "max_completion_tokens" for OpenAI
    itself, the default "max_tokens" for other OpenAI-compatible servers. `reasoning=False`: the
    target model takes no reasoning parameters, so `reasoning_effort` is not sent; what was dropped
    for that is appended to `notes`.
    """
    for key, value in body.items():
        if key in _HANDLED or key in _DROPPED or (key in _NEEDS_ANTHROPIC and value is None):
            continue
        if key in _NEEDS_ANTHROPIC:
            raise bad(key, "needs Anthropic's own servers; not available for this model")
        raise bad(key, "unknown field (not supported for OpenAI-format models)")
    out: JSON = {}
    if "model" in body:
        out["model"] = body["model"]
    messages: list[JSON] = []
    system = body.get("system")
    if system is not None:
        text = system if isinstance(system, str) else "\n\n".join(_texts(system, "system"))
        if text:
            messages.append({"role": "system", "content": text})
    tool_ids: set[str] = set()
    for i, raw in enumerate(arr(body.get("messages"), "messages")):
        path = f"messages[{i}]"
        message = obj(raw, path)
        role, content = message.get("role"), message.get("content")
        if role == "user":
            messages += _user_turn(content, f"{path}.content", tool_ids)
        elif role == "assistant":
            assistant = _assistant_turn(content, f"{path}.content", tool_ids)
            if assistant is not None:
                messages.append(assistant)
        elif role == "system":  # a system message in the conversation applies from there on: so in OpenAI
            text = content if isinstance(content, str) else "\n\n".join(_texts(content, f"{path}.content"))
            messages.append({"role": "system", "content": text})
        else:
            raise bad(f"{path}.role", f"expected user, assistant or system, not {role!r}")
    out["messages"] = messages
    if body.get("max_tokens") is not None:
        out[max_tokens_field] = positive_int(body["max_tokens"], "max_tokens")
    if body.get("stop_sequences") is not None:
        stops = [
            string(s, f"stop_sequences[{i}]")
            for i, s in enumerate(arr(body["stop_sequences"], "stop_sequences"))
        ]
        if stops:
            out["stop"] = stops
    copy_sampling(body, out)
    _tools(body, out)
    _reasoning(body, out)
    if not reasoning and "reasoning_effort" in out:
        effort = out.pop("reasoning_effort")
        if notes is not None:
            notes.append(f"reasoning_effort {effort!r} dropped: the model takes no reasoning parameters")
    if body.get("metadata") is not None:
        user_id = obj(body["metadata"], "metadata").get("user_id")
        if user_id is not None:
            out["user"] = string(user_id, "metadata.user_id")
    return out


def _texts(blocks: Any, path: str) -> list[str]:
    texts: list[str] = []
    for i, raw in enumerate(arr(blocks, path)):
        block = obj(raw, f"{path}[{i}]")
        if block.get("type") != "text":
            raise bad(f"{path}[{i}].type", "expected a text block")
        texts.append(string(block.get("text"), f"{path}[{i}].text"))
    return texts


def _user_turn(content: Any, path: str, tool_ids: set[str]) -> list[JSON]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[JSON] = []
    carried: list[JSON] = []  # images out of tool results, which tool messages cannot hold
    parts: list[JSON] = []
    for j, raw in enumerate(arr(content, path)):
        block = obj(raw, f"{path}[{j}]")
        if block.get("type") == "tool_result":
            message, images = _tool_message(block, f"{path}[{j}]", tool_ids)
            out.append(message)
            carried += images
        else:
            parts.append(_part(block, f"{path}[{j}]"))
    parts = carried + parts
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _part(block: JSON, path: str) -> JSON:
    """The OpenAI content part for a text, image or document block."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": string(block.get("text"), f"{path}.text")}
    if kind not in ("image", "document"):
        raise bad(f"{path}.type", f"a {kind!r} block cannot be sent to an OpenAI-format model")
    source = obj(block.get("source"), f"{path}.source")
    source_type = source.get("type")
    if kind == "image" and source_type == "base64":
        media_type = string(source.get("media_type"), f"{path}.source.media_type")
        data = string(source.get("data"), f"{path}.source.data")
        return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}
    if kind == "image" and source_type == "url":
        return {"type": "image_url", "image_url": {"url": string(source.get("url"), f"{path}.source.url")}}
    if kind == "document" and source_type == "base64" and source.get("media_type") == "application/pdf":
        data = string(source.get("data"), f"{path}.source.data")
        title = block.get("title")
        filename = title if isinstance(title, str) and title else "document.pdf"
        return {
            "type": "file",
            "file": {"filename": filename, "file_data": f"data:application/pdf;base64,{data}"},
        }
    if kind == "document" and source_type == "text":
        return {"type": "text", "text": string(source.get("data"), f"{path}.source.data")}
    raise bad(
        f"{path}.source.type", f"a {source_type!r} {kind} source cannot be sent to an OpenAI-format model"
    )


def _tool_message(block: JSON, path: str, tool_ids: set[str]) -> tuple[JSON, list[JSON]]:
    tool_id = string(block.get("tool_use_id"), f"{path}.tool_use_id")
    if tool_id not in tool_ids:
        raise bad(f"{path}.tool_use_id", f"{tool_id!r} answers no earlier tool_use")
    texts: list[str] = []
    images: list[JSON] = []
    content = block.get("content")
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        for k, raw in enumerate(arr(content, f"{path}.content")):
            inner = obj(raw, f"{path}.content[{k}]")
            if inner.get("type") not in ("text", "image"):
                raise bad(
                    f"{path}.content[{k}].type",
                    f"a {inner.get('type')!r} block cannot be sent in a tool result",
                )
            part = _part(inner, f"{path}.content[{k}]")
            if part["type"] == "text":
                texts.append(part["text"])
            else:
                images.append(part)
    text = "\n".join(texts)
    if images:
        note = f"[{len(images)} image(s) of this result follow in the next user message]"
        text = f"{text}\n{note}" if text else note
    if block.get("is_error") is True:
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": tool_id, "content": text}, images


def _assistant_turn(content: Any, path: str, tool_ids: set[str]) -> JSON | None:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[JSON] = []
    for j, raw in enumerate(arr(content, path)):
        block_path = f"{path}[{j}]"
        block = obj(raw, block_path)
        kind = block.get("type")
        if kind == "text":
            texts.append(string(block.get("text"), f"{block_path}.text"))
        elif kind == "tool_use":
            tool_id = string(block.get("id"), f"{block_path}.id")
            name = string(block.get("name"), f"{block_path}.name")
            arguments = compact_json(obj(block.get("input"), f"{block_path}.input"))
            tool_ids.add(tool_id)
            calls.append(
                {"id": tool_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            )
        elif kind not in ("thinking", "redacted_thinking"):
            raise bad(f"{block_path}.type", f"a {kind!r} block cannot be sent to an OpenAI-format model")
    if not texts and not calls:
        return None
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(body: JSON, out: JSON) -> None:
    tools: list[JSON] = []
    for i, raw in enumerate(arr(body["tools"], "tools") if body.get("tools") is not None else []):
        tool = obj(raw, f"tools[{i}]")
        if tool.get("type") not in (None, "custom"):
            raise bad(f"tools[{i}].type", f"the server tool {tool['type']!r} needs Anthropic's own servers")
        function: JSON = {"name": string(tool.get("name"), f"tools[{i}].name")}
        if tool.get("description") is not None:
            function["description"] = string(tool["description"], f"tools[{i}].description")
        function["parameters"] = obj(tool.get("input_schema"), f"tools[{i}].input_schema")
        if tool.get("strict") is True:
            function["strict"] = True
        tools.append({"type": "function", "function": function})
    if not tools:
        return
    out["tools"] = tools
    if body.get("tool_choice") is None:
        return
    choice = obj(body["tool_choice"], "tool_choice")
    kind = choice.get("type")
    if isinstance(kind, str) and kind in _TOOL_CHOICES:
        out["tool_choice"] = _TOOL_CHOICES[kind]
    elif kind == "tool":
        out["tool_choice"] = {
            "type": "function",
            "function": {"name": string(choice.get("name"), "tool_choice.name")},
        }
    else:
        raise bad("tool_choice.type", f"expected auto, any, none or tool, not {kind!r}")
    flag = choice.get("disable_parallel_tool_use")
    if flag is not None and boolean(flag, "tool_choice.disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def _reasoning(body: JSON, out: JSON) -> None:
    if body.get("thinking") is not None:
        thinking = obj(body["thinking"], "thinking")
        kind = thinking.get("type")
        if kind == "enabled":
            out["reasoning_effort"] = budget_effort(
                positive_int(thinking.get("budget_tokens"), "thinking.budget_tokens")
            )
        elif kind not in ("disabled", "adaptive"):
            raise bad("thinking.type", f"expected enabled, disabled or adaptive, not {kind!r}")
    if body.get("output_config") is None:
        return
    config = obj(body["output_config"], "output_config")
    effort = config.get("effort")
    if effort is not None:
        if not isinstance(effort, str) or effort not in _EFFORTS:
            raise bad("output_config.effort", f"expected one of {', '.join(sorted(_EFFORTS))}")
        out["reasoning_effort"] = effort
    if config.get("format") is not None:
        fmt = obj(config["format"], "output_config.format")
        if fmt.get("type") != "json_schema":
            raise bad("output_config.format.type", "expected json_schema")
        schema = obj(fmt.get("schema"), "output_config.format.schema")
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True},
        }


# --- Anthropic response → OpenAI response ---------------------------------------------------------


def anthropic_response_to_openai(
    msg: Mapping[str, Any], *, model: str, created: int | None = None
) -> dict[str, Any]:
    """The OpenAI `chat.completion` for an Anthropic message.

    `model` is the name the client asked for; `created` defaults to now. `id` is `chatcmpl-` + the
    message id without its `msg_`. Text blocks are joined into `message.content` (null when there are
    none), `tool_use` → `tool_calls` (compact JSON `arguments`), `thinking` → `message.reasoning_content`
    (the field DeepSeek-, vLLM- and OpenRouter-style clients read). `redacted_thinking` and server-tool
    blocks (never asked for by an OpenAI client) carry nothing an OpenAI client can read: dropped.
    `stop_reason` → `finish_reason` by `hub.OPENAI_FINISH_REASONS` (pause_turn → stop: the turn ended
    without a tool call for the client to run). Usage (`hub.openai_usage_from_anthropic`): `prompt_tokens`
    counts fresh, cache-read and cache-write input; `cached_tokens` the cache reads; `reasoning_tokens`
    Anthropic's `thinking_tokens` if given.
    """
    content = msg.get("content")
    if not isinstance(content, list):
        raise UpstreamUnavailable("The Anthropic answer has no content list.")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise UpstreamUnavailable("The Anthropic answer has a tool_use block without id or name.")
            function = {"name": block["name"], "arguments": compact_json(block.get("input", {}))}
            calls.append({"id": block["id"], "type": "function", "function": function})
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None, "refusal": None}
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    stop_reason = msg.get("stop_reason")
    finish = OPENAI_FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    msg_id = msg.get("id")
    out: JSON = {
        "id": "chatcmpl-" + msg_id.removeprefix("msg_")
        if isinstance(msg_id, str) and msg_id
        else new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
    }
    if isinstance(msg.get("usage"), dict):
        out["usage"] = openai_usage_from_anthropic(msg["usage"])
    return out
