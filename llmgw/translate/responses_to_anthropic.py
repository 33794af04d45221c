"""OpenAI Responses API → Anthropic Messages (the hub): requests. Pure.

A `POST /v1/responses` request becomes an Anthropic Messages request here, for an Anthropic upstream as
it is, for Gemini through `anthropic_to_gemini`, for chat-completions servers through
`anthropic_request_to_openai`. The answer comes back in `anthropic_to_responses.py`. A request is
checked as it is translated: what cannot be carried without changing its meaning is a 400
(`InvalidRequest`, its `param` the field path, e.g. `input[3].content[0].file_id`). Tools are
`responses_tools.py`'s; the result is a `HubRequest` (the body, the client's tool names, the hosted
tools left out).

Request decisions (Responses request → Anthropic request):
- `input` as a string → one user message. As items: `message` (`type` may be left out) with role
  `user`, `assistant`, `system` or `developer`; `function_call`, `function_call_output`,
  `custom_tool_call`, `custom_tool_call_output`, `reasoning`. Consecutive items of one side form one
  turn, as Anthropic wants turns that alternate: reasoning, assistant messages and calls an assistant
  turn (thinking, text and `tool_use` blocks in their order); call outputs and user messages a user
  turn, its `tool_result` blocks first. An output's `call_id` must answer an earlier call (400). The
  items' own `id`, `status`, `phase` and `caller` say nothing the upstream needs: ignored.
- `instructions`, then `system` / `developer` messages wherever they stand → top-level `system` (one
  string for one plain text; text blocks when several or any has a cache marker), as for chat.
- Parts: `input_text` / `output_text` → text (whitespace-only texts dropped: Anthropic refuses them);
  an assistant's `refusal` → its text; `input_image` → image (a `data:` URL → base64, http(s) → url;
  `detail` dropped); `input_file` → document (`file_data`, a base64 PDF `data:` URL → base64 source,
  title = `filename`; `file_url` → url source). `file_id` → 400: the gateway has no Files API.
  `prompt_cache_breakpoint` → `cache_control: ephemeral`.
- `function_call` → `tool_use` (id = `call_id`, `arguments` parsed: invalid JSON or a non-object →
  400; a `namespace` → the hub name `<namespace>__<name>`); `custom_tool_call` → `tool_use` with input
  `{"input": <its input>}`. `function_call_output` / `custom_tool_call_output` → `tool_result`: a
  string as it is, or its `input_text` / `input_image` / `input_file` parts as blocks.
- `reasoning` items carrying the gateway's `encrypted_content` (`encrypted_reasoning`) → the hub block
  they carry, in place; one with another's encrypted content or none is dropped with a note (its
  upstream could not read it). A thinking block with an empty signature (from a chat-completions
  upstream, which never signs) is dropped too: no upstream can take it back.
- `item_reference` → 400: references are resolved by the relay, from stored responses, before
  translation; one left is one the gateway cannot resolve. Hosted tools' items (`web_search_call`,
  `local_shell_call`, `mcp_call`...) → dropped with a note: their tools run at OpenAI, and the
  answer built on them stays in the conversation as text. Any other item type → 400.
- `max_output_tokens` → `max_tokens` (else `default_max_tokens`: Anthropic requires one).
- `reasoning.effort` → `thinking` by `openai_to_anthropic.EFFORT_BUDGET` (`none` / `minimal` →
  disabled); when the budget is not below `max_tokens`, `max_tokens` becomes budget + the asked
  maximum, as for chat. `reasoning.summary` only shapes the answer (`anthropic_to_responses`).
- `text.format`: json_schema → `output_config.format` (`name`, `description` and `strict` dropped),
  text → nothing, json_object → 400 (no schema-free JSON mode). `text.verbosity` other than medium is
  dropped with a note (a hint about length; no equivalent).
- `temperature`, `top_p`, `stream` as they are (and `top_k`, as for chat); `user` (else
  `safety_identifier`) → `metadata.user_id`.
- Prompt caching: OpenAI caches a repeated prefix by itself, Anthropic only up to a marked block. With a
  `prompt_cache_key` (the client's sign that it resends its prefix: Codex sends one every turn), unless
  `prompt_cache_options.mode` is explicit, the input's last block is marked `cache_control: ephemeral`
  when it can carry one and fewer than Anthropic's 4 markers are set. Gemini caches implicitly and chat
  translation drops markers, so only Anthropic reads it.
- The gateway's own fields, never sent upstream: `store`, `include`, `previous_response_id` (expanded
  by the relay before translation), `prompt_cache_key`, `prompt_cache_retention`,
  `prompt_cache_options`, `metadata`, `truncation`, `service_tier`, `stream_options`,
  `client_metadata`. `context_management` (OpenAI's server-side compaction) is dropped with a note.
- Refused unless at their default (no translated upstream can honour them): `background` (true),
  `conversation` and `prompt` (kept on OpenAI's servers), `top_logprobs`, `moderation`.
- Any other field is dropped with a note, not refused: the Responses API grows quickly, and its clients
  send fields the reference does not list (Codex's `client_metadata` was one).
"""

from __future__ import annotations

from typing import Any, Final

from llmgw.translate.encrypted_reasoning import decode_reasoning
from llmgw.translate.json_fields import JSON, arr, bad, copy_sampling, obj, positive_int, string
from llmgw.translate.openai_parts import (
    add_turn,
    cache_marker,
    call_arguments,
    image_source,
    pdf_document,
    tool_results_first,
)
from llmgw.translate.openai_to_anthropic import EFFORT_BUDGET
from llmgw.translate.responses_tools import (
    ClientTool,
    HubRequest,
    ToolNames,
    hub_tool_name,
    responses_tools,
)

__all__ = [
    "ClientTool",
    "HubRequest",
    "ToolNames",
    "effort_budget",
    "responses_request_to_anthropic",
]

_HANDLED: Final = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stream",
        "text",
        "reasoning",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_options",
    }
)
# The gateway's business (storage, ids, accounting, options of OpenAI's own service): never sent.
_GATEWAY: Final = frozenset(
    {
        "store",
        "include",
        "previous_response_id",
        "prompt_cache_retention",
        "metadata",
        "truncation",
        "service_tier",
        "stream_options",
        "client_metadata",
    }
)
# Fields no translated upstream can honour: accepted only at the value that means "not used".
_DEFAULT_ONLY: Final[dict[str, tuple[tuple[Any, ...], str]]] = {
    "background": ((None, False), "background responses are not available for this model"),
    "conversation": ((None,), "conversations are kept on OpenAI's servers; send the items instead"),
    "prompt": ((None,), "prompt templates are kept on OpenAI's servers; send the prompt instead"),
    "top_logprobs": ((None, 0), "this model's API returns no log probabilities"),
    "moderation": ((None,), "moderated responses are not available for this model"),
}
_NO_THINKING: Final = ("none", "minimal")
_HOSTED_ITEMS: Final = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "computer_call",
        "computer_call_output",
        "code_interpreter_call",
        "image_generation_call",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "tool_search_call",
        "tool_search_output",
    }
)
_MAX_CACHE_MARKERS: Final = 4  # Anthropic's limit per request
_CACHEABLE: Final = frozenset({"text", "image", "document", "tool_use", "tool_result"})


def effort_budget(reasoning: Any) -> int:
    """The thinking budget a request's `reasoning` adds to its answer (0: no thinking), as the
    translation sets it; for the output cap. An effort that is not one of the API's names counts 0
    (the translation refuses it)."""
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    return EFFORT_BUDGET.get(effort, 0) if isinstance(effort, str) and effort not in _NO_THINKING else 0


def responses_request_to_anthropic(
    body: dict[str, Any], *, default_max_tokens: int, web_search: bool, notes: list[str] | None = None
) -> HubRequest:
    """The hub (Anthropic Messages) request for a Responses API request (`model` unchanged).

    `default_max_tokens` is used when the client sets no maximum. `web_search`: the target has an
    equivalent of the hosted web search (Anthropic's server tool, which `anthropic_to_gemini` maps to
    Gemini's Google Search); without one it is left out like any other hosted tool. What was dropped
    along the way is appended to `notes`.
    """
    said = notes if notes is not None else []
    for key, value in body.items():
        if key in _HANDLED or key in _GATEWAY:
            continue
        if key in _DEFAULT_ONLY:
            allowed, problem = _DEFAULT_ONLY[key]
            if value not in allowed:
                raise bad(key, problem)
        elif key == "context_management":
            if value is not None:
                said.append("context_management dropped: the upstream does not compact conversations")
        else:
            said.append(f"{key} dropped: not a field the gateway translates")
    out: JSON = {}
    if "model" in body:
        out["model"] = body["model"]
    system, out["messages"] = _conversation(body, said)
    if system is not None:
        out["system"] = system
    max_tokens = default_max_tokens
    if body.get("max_output_tokens") is not None:
        max_tokens = positive_int(body["max_output_tokens"], "max_output_tokens")
    thinking = _thinking(body.get("reasoning"))
    if thinking is not None:
        budget = thinking.get("budget_tokens", 0)
        if budget and max_tokens <= budget:
            max_tokens += budget
        out["thinking"] = thinking
    out["max_tokens"] = max_tokens
    copy_sampling(body, out)
    tools = responses_tools(body, web_search=web_search, notes=said)
    if tools.tools:
        out["tools"] = tools.tools
    if tools.choice is not None:
        out["tool_choice"] = tools.choice
    for key in ("user", "safety_identifier"):
        if body.get(key) is not None:
            out["metadata"] = {"user_id": string(body[key], key)}
            break
    _text(body.get("text"), out, said)
    if body.get("prompt_cache_key") is not None and _implicit_caching(body.get("prompt_cache_options")):
        _mark_prefix(out)
    return HubRequest(out, tools.names, tools.left_out)


# --- the conversation ----------------------------------------------------------------------------


def _conversation(body: JSON, notes: list[str]) -> tuple[str | list[JSON] | None, list[JSON]]:
    system: list[JSON] = []
    if body.get("instructions") is not None:
        instructions = string(body["instructions"], "instructions")
        if instructions.strip():
            system.append({"type": "text", "text": instructions})
    turns: list[JSON] = []
    value = body.get("input")
    if isinstance(value, str):
        add_turn(turns, "user", _text_blocks(value))
    else:
        call_ids: set[str] = set()
        for i, raw in enumerate(arr(value, "input")):
            _item(obj(raw, f"input[{i}]"), f"input[{i}]", system, turns, call_ids, notes)
    if not turns:
        raise bad("input", "at least one user or assistant message is needed (instructions are kept apart)")
    tool_results_first(turns)
    if not system:
        return None, turns
    if len(system) == 1 and "cache_control" not in system[0]:
        return str(system[0]["text"]), turns
    return system, turns


def _item(
    item: JSON, path: str, system: list[JSON], turns: list[JSON], calls: set[str], notes: list[str]
) -> None:
    kind = item.get("type")
    if kind is None:  # EasyInputMessage and ItemReferenceParam may leave their type out
        kind = "message" if "role" in item else "item_reference" if "id" in item else None
    if kind == "message":
        _message(item, path, system, turns)
    elif kind in ("function_call", "custom_tool_call"):
        add_turn(turns, "assistant", [_call(item, path, kind, calls)])
    elif kind in ("function_call_output", "custom_tool_call_output"):
        add_turn(turns, "user", [_call_output(item, path, calls)])
    elif kind == "reasoning":
        add_turn(turns, "assistant", _reasoning(item, path, notes))
    elif kind == "item_reference":
        raise bad(path, "an item reference the gateway cannot resolve (it has no stored item of that id)")
    elif kind in _HOSTED_ITEMS:
        notes.append(f"{path} dropped: a {kind} item of a hosted tool this model does not have")
    else:
        raise bad(f"{path}.type", f"unknown input item type {kind!r}")


def _message(item: JSON, path: str, system: list[JSON], turns: list[JSON]) -> None:
    role, content = item.get("role"), item.get("content")
    cpath = f"{path}.content"
    if role in ("system", "developer"):
        system += _parts(content, cpath, ("input_text",), role)
    elif role == "user":
        add_turn(turns, "user", _parts(content, cpath, ("input_text", "input_image", "input_file"), role))
    elif role == "assistant":
        add_turn(turns, "assistant", _parts(content, cpath, ("output_text", "input_text", "refusal"), role))
    else:
        raise bad(f"{path}.role", f"expected user, assistant, system or developer, not {role!r}")


def _text_blocks(text: str) -> list[JSON]:
    return [{"type": "text", "text": text}] if text.strip() else []


def _parts(content: Any, path: str, kinds: tuple[str, ...], role: str) -> list[JSON]:
    """Anthropic blocks for a message's or an output's `content`: a string, or parts of `kinds`."""
    if isinstance(content, str):
        return _text_blocks(content)
    blocks: list[JSON] = []
    for j, raw in enumerate(arr(content, path)):
        part = obj(raw, f"{path}[{j}]")
        block = _part(part, f"{path}[{j}]", kinds, role)
        if block is not None:
            marker = cache_marker(part)
            if marker is not None:
                block["cache_control"] = marker
            blocks.append(block)
    return blocks


def _part(part: JSON, path: str, kinds: tuple[str, ...], role: str) -> JSON | None:
    kind = part.get("type")
    if kind not in kinds:
        raise bad(f"{path}.type", f"a {kind!r} part is not allowed in {role} content")
    if kind in ("input_text", "output_text", "refusal"):
        field = "refusal" if kind == "refusal" else "text"
        text = string(part.get(field), f"{path}.{field}")
        return {"type": "text", "text": text} if text.strip() else None
    if part.get("file_id") is not None:
        raise bad(
            f"{path}.file_id",
            "the gateway has no Files API to take file ids from; send the file itself (file_data or a URL)",
        )
    if kind == "input_image":
        url = string(part.get("image_url"), f"{path}.image_url")
        return {"type": "image", "source": image_source(url, f"{path}.image_url")}
    if part.get("file_data") is not None:  # input_file
        return pdf_document(
            string(part["file_data"], f"{path}.file_data"), part.get("filename"), f"{path}.file_data"
        )
    if part.get("file_url") is None:
        raise bad(path, "expected file_data or file_url")
    url = string(part["file_url"], f"{path}.file_url")
    if not url.startswith(("https://", "http://")):
        raise bad(f"{path}.file_url", "expected an http(s) URL")
    block: JSON = {"type": "document", "source": {"type": "url", "url": url}}
    if isinstance(part.get("filename"), str):
        block["title"] = part["filename"]
    return block


def _call(item: JSON, path: str, kind: str, calls: set[str]) -> JSON:
    call_id = string(item.get("call_id"), f"{path}.call_id")
    name = string(item.get("name"), f"{path}.name")
    namespace = item.get("namespace")
    if namespace is not None:
        name = hub_tool_name(string(namespace, f"{path}.namespace"), name)
    if kind == "function_call":
        tool_input = call_arguments(
            string(item.get("arguments", ""), f"{path}.arguments"), f"{path}.arguments"
        )
    else:
        tool_input = {"input": string(item.get("input"), f"{path}.input")}
    calls.add(call_id)
    return {"type": "tool_use", "id": call_id, "name": name, "input": tool_input}


def _call_output(item: JSON, path: str, calls: set[str]) -> JSON:
    call_id = string(item.get("call_id"), f"{path}.call_id")
    if call_id not in calls:
        raise bad(f"{path}.call_id", f"{call_id!r} answers no earlier function_call or custom_tool_call")
    block: JSON = {"type": "tool_result", "tool_use_id": call_id}
    output = item.get("output")
    if isinstance(output, str):
        if output:
            block["content"] = output
    else:
        kinds = ("input_text", "input_image", "input_file")
        blocks = _parts(arr(output, f"{path}.output"), f"{path}.output", kinds, "tool output")
        if blocks:
            block["content"] = blocks
    return block


def _reasoning(item: JSON, path: str, notes: list[str]) -> list[JSON]:
    encrypted = item.get("encrypted_content")
    block = (
        decode_reasoning(string(encrypted, f"{path}.encrypted_content"), f"{path}.encrypted_content")
        if encrypted is not None
        else None
    )
    if block is None:
        notes.append(f"{path} dropped: a reasoning item without the gateway's encrypted_content")
        return []
    if block["type"] == "thinking" and not block["signature"]:
        return []  # unsigned thinking (a chat-completions upstream's): no upstream takes it back
    return [block]


# --- reasoning, text format, caching ---------------------------------------------------------------


def _thinking(value: Any) -> JSON | None:
    if value is None:
        return None
    reasoning = obj(value, "reasoning")
    for key in ("summary", "generate_summary"):
        if reasoning.get(key) is not None:
            string(reasoning[key], f"reasoning.{key}")
    effort = reasoning.get("effort")
    if effort is None:
        return None
    if isinstance(effort, str) and effort in _NO_THINKING:
        return {"type": "disabled"}
    if not isinstance(effort, str) or effort not in EFFORT_BUDGET:
        raise bad("reasoning.effort", f"expected one of none, {', '.join(EFFORT_BUDGET)}")
    return {"type": "enabled", "budget_tokens": EFFORT_BUDGET[effort]}


def _text(value: Any, out: JSON, notes: list[str]) -> None:
    if value is None:
        return
    text = obj(value, "text")
    verbosity = text.get("verbosity")
    if verbosity not in (None, "medium"):
        notes.append(f"text.verbosity {verbosity!r} dropped: the model has no verbosity setting")
    if text.get("format") is None:
        return
    fmt = obj(text["format"], "text.format")
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = obj(fmt.get("schema"), "text.format.schema")
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    elif kind != "text":
        raise bad(
            "text.format.type", f"{kind!r} is not supported for this model (use json_schema with a schema)"
        )


def _implicit_caching(options: Any) -> bool:
    return not (isinstance(options, dict) and options.get("mode") == "explicit")


def _mark_prefix(out: JSON) -> None:
    """Mark the input's last block for Anthropic's prompt cache (see the module docstring)."""
    system = out.get("system")
    blocks: list[JSON] = [
        *(system if isinstance(system, list) else []),
        *(b for turn in out["messages"] for b in turn["content"]),
    ]
    blocks += [inner for b in blocks if isinstance(b.get("content"), list) for inner in b["content"]]
    if sum("cache_control" in b for b in blocks) >= _MAX_CACHE_MARKERS:
        return
    last = out["messages"][-1]["content"][-1]
    if last["type"] in _CACHEABLE and "cache_control" not in last:
        last["cache_control"] = {"type": "ephemeral"}
