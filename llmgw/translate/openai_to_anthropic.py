"""OpenAI Chat Completions → Anthropic Messages: requests, and answers back to Anthropic clients. Pure.

Anthropic Messages JSON is the hub: an OpenAI client's request becomes an Anthropic request here (for an
Anthropic upstream, or through `anthropic_to_gemini` for a Gemini one), and an OpenAI-format upstream's
answer becomes the Anthropic message its Anthropic client expects. The other direction is
`anthropic_to_openai.py`. Requests are checked as they are translated: what cannot be carried without
changing its meaning is a 400 (`InvalidRequest`, its `param` the field path, e.g.
`messages[2].content[0].type`). An unreadable upstream answer is a 502 (`UpstreamUnavailable`).

Request decisions (OpenAI request → Anthropic request):
- `system` / `developer` messages, wherever they stand, → top-level `system`: a string for one plain
  text, text blocks when there are several or any carries a cache marker (`cache_control`, or OpenAI's
  `prompt_cache_breakpoint` → `{"type": "ephemeral"}`). No user or assistant message left → 400.
  (Anthropic's newest API also takes `role: "system"` messages in place, but older models, other
  Anthropic-format servers and the Gemini translator do not: hoisting works everywhere.)
- Consecutive same-role messages are merged into one turn; `tool` messages become `tool_result` blocks
  of a user turn, placed first in it as Anthropic requires. Their `tool_call_id` must answer an earlier
  assistant tool call (400 otherwise). Empty or whitespace-only texts are dropped (Anthropic rejects
  them). `name` on messages and `reasoning_content` in history are dropped (no Anthropic field; a
  thinking block needs the signature the client never saw).
- `image_url`: `data:` URLs → base64 sources, http(s) → url sources; `detail` is dropped. `file` parts
  with a PDF `file_data` → `document` (title = filename); `file_id` and audio → 400.
- Tool call `arguments` are parsed into `input` (`""` → `{}`; invalid JSON or a non-object → 400).
- `tools` (function only) → `{name, description, input_schema, strict}`; no `parameters` → an empty
  object schema. `tool_choice`: auto → auto, required → any, none → none, a named function → tool;
  `parallel_tool_calls: false` → `disable_parallel_tool_use` (on an auto choice when none was given).
- `max_completion_tokens` (else `max_tokens`, else `default_max_tokens`) → `max_tokens`.
- `reasoning_effort` → `thinking` by `EFFORT_BUDGET` (none → disabled). Anthropic wants the budget
  below `max_tokens`: when it is not, `max_tokens` becomes budget + the asked maximum, so the visible
  answer keeps the room the client asked for.
- `response_format` json_schema → `output_config.format` (Anthropic's structured outputs; `name` and
  `description` dropped), text → nothing, json_object → 400 (no schema-free JSON mode).
- `stop` → `stop_sequences`; `temperature`, `top_p`, `stream` as they are, and `top_k` (not OpenAI's,
  but sent by clients of vLLM-style servers) too; `user` (else `safety_identifier`) → `metadata.user_id`.
- Dropped, the answer staying correct: `stream_options` (the caller's), `store`, `metadata`,
  `service_tier`, `prediction`, prompt-cache options, and `seed` (best effort on OpenAI too).
- Refused unless at their default (Anthropic has no equivalent, and they change the answer): `n`,
  `logprobs`, `top_logprobs`, `frequency_penalty`, `presence_penalty`, `logit_bias`, `modalities`,
  `audio`, `verbosity`, `functions`, `function_call`, `web_search_options`, `moderation`. Any other
  field is a 400 too.
- Left to the upstream to judge (it answers in detail): value ranges (OpenAI's temperature goes to 2,
  Anthropic's to 1), sampling fields on the newest Claude models (which refuse them), thinking with
  forced tool use or a changed temperature, budgeted thinking on models that only think adaptively,
  a conversation that starts with the assistant.

Answer decisions (OpenAI `chat.completion` → Anthropic message): see `openai_response_to_anthropic`.
"""

from __future__ import annotations

import json
from typing import Any, Final

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.hub import (
    AnthropicMessage,
    ContentBlock,
    anthropic_message,
    anthropic_stop_reason,
    anthropic_usage_from_openai,
    new_id,
)
from llmgw.translate.json_fields import (
    JSON,
    arr,
    bad,
    boolean,
    copy_sampling,
    obj,
    positive_int,
    string,
)
from llmgw.translate.openai_parts import (
    add_turn,
    cache_marker,
    call_arguments,
    image_source,
    pdf_document,
    tool_results_first,
)
from llmgw.translate.usage import openai_usage

__all__ = ["EFFORT_BUDGET", "openai_request_to_anthropic", "openai_response_to_anthropic"]

# reasoning_effort → thinking.budget_tokens. 1024 is Anthropic's minimum budget; 24576 + a 4096-token
# answer still fits the smallest output limit of a thinking model (32000, Opus 4 / 4.1).
EFFORT_BUDGET: Final[dict[str, int]] = {
    "minimal": 1024,
    "low": 1024,
    "medium": 4096,
    "high": 16384,
    "xhigh": 24576,
    "max": 24576,
}

_OPENAI_HANDLED: Final = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "reasoning_effort",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "stream",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "safety_identifier",
        "response_format",
    }
)
# Bookkeeping, caching and best-effort hints: without them the answer is the same kind of answer.
_OPENAI_DROPPED: Final = frozenset(
    {
        "stream_options",
        "store",
        "metadata",
        "service_tier",
        "prediction",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "seed",
    }
)
# Fields Anthropic cannot honour: accepted only at the value that means "not used".
_OPENAI_DEFAULT_ONLY: Final[dict[str, tuple[Any, ...]]] = {
    "n": (None, 1),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "frequency_penalty": (None, 0),
    "presence_penalty": (None, 0),
    "logit_bias": (None, {}),
    "modalities": (None, ["text"]),
    "audio": (None,),
    "verbosity": (None, "medium"),
    "functions": (None,),
    "function_call": (None,),
    "web_search_options": (None,),
    "moderation": (None,),
}

_TOOL_CHOICES: Final = {"auto": "auto", "required": "any", "none": "none"}


# --- OpenAI request → Anthropic request -----------------------------------------------------------


def openai_request_to_anthropic(body: dict[str, Any], *, default_max_tokens: int = 4096) -> dict[str, Any]:
    """The Anthropic Messages request for an OpenAI Chat Completions request (`model` unchanged).

    `default_max_tokens` is used when the client sets no maximum: Anthropic requires one, OpenAI not.
    """
    for key, value in body.items():
        if key in _OPENAI_HANDLED or key in _OPENAI_DROPPED:
            continue
        allowed = _OPENAI_DEFAULT_ONLY.get(key)
        if allowed is None:
            raise bad(key, "unknown field (not supported for Anthropic models)")
        if value not in allowed:
            raise bad(key, "Anthropic has no equivalent; remove it or use its default")
    out: JSON = {}
    if "model" in body:
        out["model"] = body["model"]
    system, out["messages"] = _openai_messages(body.get("messages"))
    if system is not None:
        out["system"] = system
    max_tokens = default_max_tokens
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            max_tokens = positive_int(body[key], key)
            break
    effort = body.get("reasoning_effort")
    if effort == "none":
        out["thinking"] = {"type": "disabled"}
    elif effort is not None:
        if not isinstance(effort, str) or effort not in EFFORT_BUDGET:
            raise bad("reasoning_effort", f"expected one of none, {', '.join(EFFORT_BUDGET)}")
        budget = EFFORT_BUDGET[effort]
        if max_tokens <= budget:
            max_tokens += budget
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    out["max_tokens"] = max_tokens
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif stop is not None:
        sequences = [string(s, f"stop[{i}]") for i, s in enumerate(arr(stop, "stop"))]
        if sequences:
            out["stop_sequences"] = sequences
    copy_sampling(body, out)
    _openai_tools(body, out)
    for key in ("user", "safety_identifier"):
        if body.get(key) is not None:
            out["metadata"] = {"user_id": string(body[key], key)}
            break
    fmt = body.get("response_format")
    if fmt is not None:
        fmt = obj(fmt, "response_format")
        kind = fmt.get("type")
        if kind == "json_schema":
            spec = obj(fmt.get("json_schema"), "response_format.json_schema")
            schema = obj(spec.get("schema"), "response_format.json_schema.schema")
            out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        elif kind != "text":
            raise bad(
                "response_format.type",
                f"{kind!r} is not supported for Anthropic models (use json_schema with a schema)",
            )
    return out


def _openai_messages(value: Any) -> tuple[str | list[JSON] | None, list[JSON]]:
    system: list[JSON] = []
    turns: list[JSON] = []
    call_ids: set[str] = set()
    for i, raw in enumerate(arr(value, "messages")):
        path = f"messages[{i}]"
        message = obj(raw, path)
        role = message.get("role")
        if role in ("system", "developer"):
            system += _openai_content(message.get("content"), f"{path}.content", ("text",))
        elif role == "user":
            add_turn(turns, "user", _openai_content(message.get("content"), f"{path}.content"))
        elif role == "assistant":
            add_turn(turns, "assistant", _openai_assistant(message, path, call_ids))
        elif role == "tool":
            add_turn(turns, "user", [_openai_tool_result(message, path, call_ids)])
        elif role == "function":
            raise bad(f"{path}.role", "the deprecated 'function' role is not supported; use 'tool'")
        else:
            raise bad(f"{path}.role", f"unknown role {role!r}")
    if not turns:
        raise bad(
            "messages", "at least one user or assistant message is needed (Anthropic keeps the system apart)"
        )
    tool_results_first(turns)
    if not system:
        return None, turns
    if len(system) == 1 and "cache_control" not in system[0]:
        return str(system[0]["text"]), turns
    return system, turns


def _openai_content(
    content: Any, path: str, kinds: tuple[str, ...] = ("text", "image_url", "file")
) -> list[JSON]:
    """Anthropic blocks for a user / system / tool message's `content` (string or parts)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks: list[JSON] = []
    for j, raw in enumerate(arr(content, path)):
        block = _openai_part(raw, f"{path}[{j}]", kinds)
        if block is not None:
            blocks.append(block)
    return blocks


def _openai_part(raw: Any, path: str, kinds: tuple[str, ...]) -> JSON | None:
    part = obj(raw, path)
    kind = part.get("type")
    block: JSON
    if kind not in kinds:
        if kind in ("text", "image_url", "file", "input_audio", "refusal"):
            raise bad(f"{path}.type", f"a {kind!r} part is not allowed here")
        raise bad(f"{path}.type", f"unknown content part type {kind!r}")
    if kind == "text":
        text = string(part.get("text"), f"{path}.text")
        if not text.strip():
            return None
        block = {"type": "text", "text": text}
    elif kind == "image_url":
        block = {"type": "image", "source": _image_source(part.get("image_url"), f"{path}.image_url")}
    else:  # file
        block = _pdf_document(part.get("file"), f"{path}.file")
    marker = cache_marker(part)
    if marker is not None:
        block["cache_control"] = marker
    return block


def _image_source(value: Any, path: str) -> JSON:
    return image_source(string(obj(value, path).get("url"), f"{path}.url"), f"{path}.url")


def _pdf_document(value: Any, path: str) -> JSON:
    file = obj(value, path)
    if file.get("file_data") is None:
        raise bad(path, "only inline PDF files (`file_data`) can be sent to Anthropic, not file ids")
    return pdf_document(
        string(file["file_data"], f"{path}.file_data"), file.get("filename"), f"{path}.file_data"
    )


def _openai_assistant(message: JSON, path: str, call_ids: set[str]) -> list[JSON]:
    for key in ("function_call", "audio"):
        if message.get(key) is not None:
            raise bad(f"{path}.{key}", "not supported for Anthropic models")
    content = message.get("content")
    blocks: list[JSON] = []
    if isinstance(content, list):
        for j, raw in enumerate(content):
            part = obj(raw, f"{path}.content[{j}]")
            if part.get("type") == "refusal":  # what the model said, as text
                part = {"type": "text", "text": string(part.get("refusal"), f"{path}.content[{j}].refusal")}
            block = _openai_part(part, f"{path}.content[{j}]", ("text",))
            if block is not None:
                blocks.append(block)
    elif content is not None:
        blocks = _openai_content(string(content, f"{path}.content"), f"{path}.content")
    refusal = message.get("refusal")
    if not blocks and isinstance(refusal, str) and refusal.strip():
        blocks.append({"type": "text", "text": refusal})
    calls = message.get("tool_calls")
    for k, raw in enumerate(arr(calls, f"{path}.tool_calls") if calls is not None else []):
        blocks.append(_openai_tool_call(raw, f"{path}.tool_calls[{k}]", call_ids))
    return blocks


def _openai_tool_call(raw: Any, path: str, call_ids: set[str]) -> JSON:
    call = obj(raw, path)
    if call.get("type", "function") != "function":
        raise bad(f"{path}.type", "only function tool calls are supported for Anthropic models")
    call_id = string(call.get("id"), f"{path}.id")
    function = obj(call.get("function"), f"{path}.function")
    name = string(function.get("name"), f"{path}.function.name")
    arguments = string(function.get("arguments", ""), f"{path}.function.arguments")
    parsed = call_arguments(arguments, f"{path}.function.arguments")
    call_ids.add(call_id)
    return {"type": "tool_use", "id": call_id, "name": name, "input": parsed}


def _openai_tool_result(message: JSON, path: str, call_ids: set[str]) -> JSON:
    call_id = string(message.get("tool_call_id"), f"{path}.tool_call_id")
    if call_id not in call_ids:
        raise bad(f"{path}.tool_call_id", f"{call_id!r} answers no earlier assistant tool call")
    block: JSON = {"type": "tool_result", "tool_use_id": call_id}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif content is not None:
        parts = _openai_content(content, f"{path}.content")
        if parts:
            block["content"] = parts
    return block


def _openai_tools(body: JSON, out: JSON) -> None:
    tools: list[JSON] = []
    for i, raw in enumerate(arr(body["tools"], "tools") if body.get("tools") is not None else []):
        path = f"tools[{i}]"
        tool = obj(raw, path)
        if tool.get("type") != "function":
            raise bad(
                f"{path}.type", f"only function tools can be sent to Anthropic, not {tool.get('type')!r}"
            )
        function = obj(tool.get("function"), f"{path}.function")
        entry: JSON = {"name": string(function.get("name"), f"{path}.function.name")}
        if function.get("description") is not None:
            entry["description"] = string(function["description"], f"{path}.function.description")
        parameters = function.get("parameters")
        entry["input_schema"] = (
            obj(parameters, f"{path}.function.parameters")
            if parameters is not None
            else {"type": "object", "properties": {}}
        )
        if function.get("strict") is True:
            entry["strict"] = True
        tools.append(entry)
    if tools:
        out["tools"] = tools
    choice = body.get("tool_choice")
    tool_choice: JSON | None = None
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise bad("tool_choice", "expected auto, required, none or a named function")
        tool_choice = {"type": _TOOL_CHOICES[choice]}
    elif choice is not None:
        choice = obj(choice, "tool_choice")
        if choice.get("type") != "function":
            raise bad("tool_choice.type", f"{choice.get('type')!r} is not supported for Anthropic models")
        name = string(
            obj(choice.get("function"), "tool_choice.function").get("name"), "tool_choice.function.name"
        )
        tool_choice = {"type": "tool", "name": name}
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not boolean(parallel, "parallel_tool_calls") and tools:
        tool_choice = tool_choice or {"type": "auto"}
        if tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True
    if tool_choice is not None:
        out["tool_choice"] = tool_choice


# --- OpenAI response → Anthropic response ---------------------------------------------------------


def openai_response_to_anthropic(resp: dict[str, Any], *, model: str) -> AnthropicMessage:
    """The Anthropic message for an OpenAI `chat.completion` (choice 0: `n` is never above 1 here).

    `model` is the name the client asked for; `id` is `msg_` + the completion id without `chatcmpl-`.
    Blocks in order: `reasoning_content` (or a string `reasoning`) → a `thinking` block with an empty
    signature (it only has to come back through `anthropic_request_to_openai`, which drops thinking; a
    real Anthropic upstream would reject it, but that client then talks to Anthropic directly), the
    text (or the `refusal`), then `tool_calls` → `tool_use` (a call without id gets a `toolu_` id).
    Arguments that are not a JSON object are kept as `{"_raw": "<the arguments>"}` so the client sees
    what the model wrote and can answer the call with an error, instead of the whole turn failing.
    `finish_reason` → `stop_reason` by `hub.ANTHROPIC_STOP_REASONS`; `stop` is end_turn, as which stop
    sequence matched is unknown (`stop_sequence` is null), and tool_use whenever the answer calls tools
    (some compatible servers say "stop" there); a refusal → refusal. Usage
    (`hub.anthropic_usage_from_openai`): `input_tokens` = prompt - cached, `cache_read_input_tokens` =
    cached, `cache_creation_input_tokens` = 0 (OpenAI does not report writes), `output_tokens` =
    completion; reasoning tokens → `output_tokens_details.thinking_tokens`.
    """
    choices = resp.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or not isinstance(message, dict):
        raise UpstreamUnavailable("The OpenAI-format answer has no choices[0].message.")
    blocks: list[ContentBlock] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    content: Any = message.get("content")  # a string, or text parts from some compatible servers
    if isinstance(content, list):
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    refusal: Any = message.get("refusal")
    refused = not content and isinstance(refusal, str) and bool(refusal)
    if content or refused:
        blocks.append({"type": "text", "text": content or refusal})
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise UpstreamUnavailable("The OpenAI-format answer has a tool call without a function name.")
        call_id = call.get("id")
        blocks.append(
            {
                "type": "tool_use",
                "id": call_id if isinstance(call_id, str) and call_id else new_id("toolu_"),
                "name": function["name"],
                "input": _call_input(function.get("arguments")),
            }
        )
    has_calls = any(b["type"] == "tool_use" for b in blocks)
    stop_reason = anthropic_stop_reason(choice.get("finish_reason"), tool_use=has_calls, refusal=refused)
    resp_id = resp.get("id")
    message_id = (
        "msg_" + resp_id.removeprefix("chatcmpl-") if isinstance(resp_id, str) and resp_id else new_id("msg_")
    )
    usage = anthropic_usage_from_openai(openai_usage(resp))
    return anthropic_message(message_id, model, blocks, stop_reason, usage)


def _call_input(arguments: Any) -> JSON:
    if isinstance(arguments, dict):  # a few compatible servers send the object itself
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}
