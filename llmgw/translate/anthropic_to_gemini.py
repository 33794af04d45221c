"""Anthropic Messages → Gemini: `generateContent` and `countTokens` requests, as pure functions over JSON.

Anthropic Messages JSON is the hub for chat: Anthropic clients' requests come here as they are, OpenAI
clients' after `openai_request_to_anthropic`. Gemini's answers go back in `gemini_to_anthropic.py`;
embeddings are `openai_to_gemini.py` / `gemini_to_openai.py`. A request Gemini cannot take is a 400
naming the field.

Request decisions (Anthropic → Gemini):

- `model` goes in the URL and `stream` picks `:streamGenerateContent?alt=sse`: both are the caller's.
- `system` (string or text blocks) → `systemInstruction.parts`. Roles: user → `user`, assistant → `model`.
- A `role: "system"` message inside `messages` (Claude Code sends them to models it does not know) →
  more `systemInstruction` parts, after `system`'s, in the order they came. Gemini has one system
  instruction and no system turns; a system message applies from where it stands on, and what follows
  it is only the answer being generated, which the instruction governs. Sending it as a user turn
  instead would keep its place but hand the system's words to the user. Text only (string or text
  blocks); other blocks → 400.
  Consecutive same-role messages are merged into one content (Gemini has answered 400 to turns that
  do not alternate); a message left with no parts (e.g. only another provider's thinking) is left
  out, as Gemini rejects empty `parts`.
- Images: base64 → `inlineData`; `url` → `fileData` whose `mimeType` (required by Gemini) comes from the
  URL's extension (.png .jpg .jpeg .gif .webp, the types Anthropic accepts); any other URL is a 400
  rather than a guessed type. `data:` URLs become `inlineData`. PDF documents map the same way
  (`application/pdf`), plain-text documents become text. Files-API sources are a 400.
- `tool_use` → `functionCall {name, args, id}`; `tool_result` → `functionResponse {id, name, response}`
  with the name of the earlier `tool_use` of that id (none → 400). Ids are sent on both, so parallel
  calls stay paired. Gemini's convention for `response`: `{"output": text}`, or `{"error": text}` when
  `is_error`. Images / PDFs inside a tool result follow the `functionResponse` as sibling parts of
  the same turn (every multimodal Gemini model reads those; `functionResponse.parts` is Gemini 3 only).
- Thinking: Gemini signs parts with `thoughtSignature` and wants each signature back on the part it
  came with (Gemini 3 rejects function calls without theirs). The response side therefore encodes
  them in thinking-block signatures (see `THOUGHT_SIGNATURE_PREFIX` / `PART_SIGNATURE_PREFIX`), and
  the request side rebuilds the exact parts. Thinking blocks without our prefix (another provider's
  reasoning) and `redacted_thinking` are dropped: Gemini cannot verify or use them.
- `tools` → one `functionDeclarations` tool. `input_schema` goes to `parametersJsonSchema` (full JSON
  Schema, mutually exclusive with the OpenAPI-subset `parameters`), so nothing is lossily converted;
  only the top-level `$schema` keyword is removed. Anthropic's web search server tool
  (`web_search_20250305`, any `web_search_*` version) → a `googleSearch` tool: its `max_uses` and
  `user_location` are dropped with a note (Google Search takes no options), domain lists are a 400
  (the Gemini API cannot filter domains), and forcing it with `tool_choice` is a 400 (Gemini's tool
  config forces function calls only). Gemini runs the search itself and answers with the grounded
  text; its `groundingMetadata` is not carried back. Older Gemini models refuse search combined with
  function declarations (their 400 reaches the client). Other server tools are a 400.
- `tool_choice`: auto → AUTO, any → ANY, none → NONE, tool → ANY + `allowedFunctionNames`.
  `disable_parallel_tool_use` has no Gemini equivalent and is dropped (the model may still call
  several tools; each becomes its own `tool_use`).
- `max_tokens` → `maxOutputTokens`, `temperature` (same scale on Anthropic's 0-1), `top_p` → `topP`,
  `top_k` → `topK`, `stop_sequences` → `stopSequences`.
- `thinking`: enabled → `thinkingConfig {thinkingBudget, includeThoughts}` (`display: "omitted"` →
  `includeThoughts: false`); adaptive → `includeThoughts` only (the model's dynamic budget); disabled →
  no `thinkingConfig`, as when absent: thoughts are not returned, and a budget of 0 is rejected by the
  models that cannot stop thinking (2.5 Pro, Gemini 3), which the translator cannot tell apart.
  Only thinking models take a `thinkingConfig` (`thinking=False`: the bridge asks
  `model_traits.gemini_thinks`); for the others `thinking` is checked, then dropped with a note: a
  preference the model cannot take, which changes nothing about its answer.
- `output_config.format` (JSON schema) → `responseMimeType: application/json` + `responseJsonSchema`;
  `output_config.effort` is dropped (a hint; the answer stays correct).
- Dropped, the result staying correct: `metadata` (no Gemini field), `cache_control` (Gemini caches
  implicitly), `service_tier`, `inference_geo`, `speed`, `citations` on text. `mcp_servers` and
  `container` need Anthropic's servers: 400. Unknown block types and roles: 400 naming the field.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import urlsplit

from llmgw.errors import InvalidRequest
from llmgw.translate.gemini_to_anthropic import PART_SIGNATURE_PREFIX, THOUGHT_SIGNATURE_PREFIX
from llmgw.translate.json_fields import JSON

__all__ = ["anthropic_count_tokens_to_gemini", "anthropic_request_to_gemini", "gemini_model_name"]

_ROLES: Final = {"user": "user", "assistant": "model"}
_IMAGE_TYPES: Final = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
_DOCUMENT_TYPES: Final = {".pdf": "application/pdf"}
_ANTHROPIC_ONLY: Final = ("mcp_servers", "container")
_WEB_SEARCH_PREFIX: Final = "web_search_"  # Anthropic's web search server tool, any version
_GENERATION_FIELDS: Final = (
    ("max_tokens", "maxOutputTokens"),
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("stop_sequences", "stopSequences"),
)


def anthropic_request_to_gemini(
    body: dict[str, Any], *, thinking: bool = True, notes: list[str] | None = None
) -> dict[str, Any]:
    """The Gemini `generateContent` body for an Anthropic Messages request (model and stream excluded).

    `thinking=False`: the target model does not think, so no `thinkingConfig` is sent; what was dropped
    for that is appended to `notes`.
    """
    for key in _ANTHROPIC_ONLY:
        if body.get(key):
            raise _invalid(key, "needs Anthropic's servers; a Gemini model cannot honour it")
    system_parts = _system_parts(body.get("system"), "system")
    out: JSON = {"contents": _contents(body.get("messages"), system_parts)}
    if system_parts:
        out["systemInstruction"] = {"parts": system_parts}
    said = notes if notes is not None else []
    declarations, search = _function_declarations(body.get("tools"), said)
    tools: list[JSON] = [{"functionDeclarations": declarations}] if declarations else []
    if search is not None:
        tools.append({"googleSearch": {}})
    if tools:
        out["tools"] = tools
    tool_config = _tool_config(body.get("tool_choice"), [d["name"] for d in declarations], search)
    if tool_config is not None:
        out["toolConfig"] = tool_config
    generation = _generation_config(body)
    if not thinking and "thinkingConfig" in generation:
        del generation["thinkingConfig"]
        said.append("thinking dropped: the model does not think (no thinkingConfig)")
    if generation:
        out["generationConfig"] = generation
    return out


def anthropic_count_tokens_to_gemini(
    body: dict[str, Any], *, model: str, thinking: bool = True
) -> dict[str, Any]:
    """The Gemini `countTokens` body for an Anthropic `count_tokens` request.

    The whole prompt goes as a `generateContentRequest`, so the system instruction and the tool
    declarations are counted, as Anthropic counts them.
    """
    request = anthropic_request_to_gemini(body, thinking=thinking)
    return {"generateContentRequest": {"model": gemini_model_name(model), **request}}


def gemini_model_name(model: str) -> str:
    """Gemini's resource name for a model id (`gemini-2.5-flash` → `models/gemini-2.5-flash`)."""
    return model if model.startswith("models/") else f"models/{model}"


def _contents(messages: Any, system_parts: list[JSON]) -> list[JSON]:
    """The conversation's contents; its system messages' text goes to `system_parts`."""
    if not isinstance(messages, list):
        raise _invalid("messages", "must be a list of messages")
    names: dict[str, str] = {}  # tool_use id → tool name, from the turns read so far
    contents: list[JSON] = []
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _invalid(path, "must be a message object")
        role = message.get("role")
        if role == "system":
            system_parts.extend(_system_parts(message.get("content"), f"{path}.content"))
            continue
        if role not in _ROLES:
            raise _invalid(
                f"{path}.role", f"unsupported role {role!r}; expected 'user', 'assistant' or 'system'"
            )
        content = message.get("content")
        if isinstance(content, str):
            parts = [{"text": content}] if content else []
        elif isinstance(content, list):
            parts = _parts(content, path, role, names)
        else:
            raise _invalid(f"{path}.content", "must be a string or a list of content blocks")
        if not parts:
            continue
        if contents and contents[-1]["role"] == _ROLES[role]:
            contents[-1]["parts"].extend(parts)  # Gemini may reject same-role turns in a row
        else:
            contents.append({"role": _ROLES[role], "parts": parts})
    return contents


def _parts(blocks: list[Any], path: str, role: str, names: dict[str, str]) -> list[JSON]:
    parts: list[JSON] = []
    pending: str | None = None  # a Gemini signature waiting for the next non-thought part
    for j, block in enumerate(blocks):
        bpath = f"{path}.content[{j}]"
        if not isinstance(block, dict):
            raise _invalid(bpath, "must be a content block object")
        kind = block.get("type")
        if kind == "text":
            part: JSON = {"text": _str(block, "text", bpath)}
        elif kind in ("image", "document") and role == "user":
            part = _media_part(block, bpath)
        elif kind == "tool_use" and role == "assistant":
            part = _function_call(block, bpath, names)
        elif kind == "tool_result" and role == "user":
            parts.extend(_function_response(block, bpath, names))
            continue
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            signature = block.get("signature")
            signature = signature if isinstance(signature, str) else ""
            if signature.startswith(PART_SIGNATURE_PREFIX):
                if pending is not None:
                    parts.append({"text": "", "thoughtSignature": pending})
                pending = signature.removeprefix(PART_SIGNATURE_PREFIX)
            elif kind == "thinking" and signature.startswith(THOUGHT_SIGNATURE_PREFIX):
                if pending is not None:
                    parts.append({"text": "", "thoughtSignature": pending})
                    pending = None
                parts.append(_thought_part(block, signature.removeprefix(THOUGHT_SIGNATURE_PREFIX), bpath))
            continue  # anything else is another provider's reasoning, which Gemini cannot use
        else:
            raise _invalid(f"{bpath}.type", f"unsupported content block type {kind!r} in a {role} message")
        if pending is not None:
            part["thoughtSignature"] = pending
            pending = None
        parts.append(part)
    if pending is not None:  # the signature of an empty text part: rebuild that part
        parts.append({"text": "", "thoughtSignature": pending})
    return parts


def _thought_part(block: JSON, signature: str, path: str) -> JSON:
    part: JSON = {"text": _str(block, "thinking", path), "thought": True}
    if signature:
        part["thoughtSignature"] = signature
    return part


def _media_part(block: JSON, path: str) -> JSON:
    source = block.get("source")
    spath = f"{path}.source"
    if not isinstance(source, dict):
        raise _invalid(spath, "must be an object")
    kind = source.get("type")
    if kind == "base64":
        return {
            "inlineData": {"mimeType": _str(source, "media_type", spath), "data": _str(source, "data", spath)}
        }
    if kind == "url":
        types = _IMAGE_TYPES if block.get("type") == "image" else _DOCUMENT_TYPES
        return _url_part(_str(source, "url", spath), types, f"{spath}.url")
    if kind == "text" and block.get("type") == "document":
        return {"text": _str(source, "data", spath)}
    raise _invalid(f"{spath}.type", f"unsupported source type {kind!r} for a Gemini model")


def _url_part(url: str, types: dict[str, str], path: str) -> JSON:
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        media_type, _, encoding = head.partition(";")
        if not sep or encoding != "base64" or not media_type:
            raise _invalid(path, "a data: URL must look like data:<media type>;base64,<data>")
        return {"inlineData": {"mimeType": media_type, "data": data}}
    mime = types.get(PurePosixPath(urlsplit(url).path).suffix.lower())
    if mime is None:
        known = ", ".join(types)
        raise _invalid(
            path, f"Gemini needs the media type of a URL, told by its extension ({known}); send base64"
        )
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _function_call(block: JSON, path: str, names: dict[str, str]) -> JSON:
    call_id, name = _str(block, "id", path), _str(block, "name", path)
    args = block.get("input", {})
    if not isinstance(args, dict):
        raise _invalid(f"{path}.input", "must be an object")
    names[call_id] = name
    return {"functionCall": {"name": name, "args": args, "id": call_id}}


def _function_response(block: JSON, path: str, names: dict[str, str]) -> list[JSON]:
    call_id = _str(block, "tool_use_id", path)
    name = names.get(call_id)
    if name is None:
        raise _invalid(f"{path}.tool_use_id", f"no earlier tool_use block has the id {call_id!r}")
    content = block.get("content", "")
    texts: list[str] = []
    media: list[JSON] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for k, item in enumerate(content):
            ipath = f"{path}.content[{k}]"
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "text":
                texts.append(_str(item, "text", ipath))
            elif kind in ("image", "document"):
                media.append(_media_part(item, ipath))
            else:
                raise _invalid(f"{ipath}.type", f"unsupported tool result block type {kind!r}")
    else:
        raise _invalid(f"{path}.content", "must be a string or a list of content blocks")
    # Gemini's convention: "output" for a result, "error" for a failure; {} when there is no text
    is_error = bool(block.get("is_error"))
    result = {"error" if is_error else "output": "\n".join(texts)} if texts or is_error else {}
    response = {"id": call_id, "name": name, "response": result}
    return [{"functionResponse": response}, *media]


def _system_parts(content: Any, path: str) -> list[JSON]:
    """The text parts of `system` or of a system message (empty texts left out: Gemini refuses them)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise _invalid(path, "must be a string or a list of text blocks")
    parts: list[JSON] = []
    for i, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _invalid(f"{path}[{i}].type", "only text blocks can form a system prompt")
        text = _str(block, "text", f"{path}[{i}]")
        if text:
            parts.append({"text": text})
    return parts


def _function_declarations(tools: Any, notes: list[str]) -> tuple[list[JSON], str | None]:
    """The function declarations of `tools`, and the name of its web search server tool (if any)."""
    if tools is None:
        return [], None
    if not isinstance(tools, list):
        raise _invalid("tools", "must be a list of tools")
    declarations: list[JSON] = []
    search: str | None = None
    for i, tool in enumerate(tools):
        path = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise _invalid(path, "must be a tool object")
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith(_WEB_SEARCH_PREFIX):
            search = _web_search(tool, path, notes)
            continue
        if kind not in (None, "custom"):
            raise _invalid(f"{path}.type", f"Anthropic server tool {tool['type']!r} has no Gemini equivalent")
        declaration: JSON = {"name": _str(tool, "name", path)}
        if tool.get("description") is not None:
            declaration["description"] = _str(tool, "description", path)
        declaration["parametersJsonSchema"] = _json_schema(tool.get("input_schema"), f"{path}.input_schema")
        declarations.append(declaration)
    return declarations, search


def _web_search(tool: JSON, path: str, notes: list[str]) -> str:
    """Check Anthropic's web search server tool for Gemini's Google Search (which takes no options);
    its name."""
    for key in ("allowed_domains", "blocked_domains"):
        if tool.get(key):
            raise _invalid(
                f"{path}.{key}", "Gemini's Google Search cannot be limited to or kept from domains"
            )
    for key in ("max_uses", "user_location"):
        if tool.get(key) is not None:
            notes.append(f"{path}.{key} dropped: Gemini's Google Search takes no such option")
    return _str(tool, "name", path)


def _json_schema(schema: Any, path: str) -> JSON:
    if not isinstance(schema, dict):
        raise _invalid(path, "must be a JSON Schema object")
    return {k: v for k, v in schema.items() if k != "$schema"}  # a meta keyword, no constraint


def _tool_config(choice: Any, tool_names: list[str], search: str | None) -> JSON | None:
    if choice is None:
        return None
    if not isinstance(choice, dict):
        raise _invalid("tool_choice", "must be an object")
    kind = choice.get("type")
    config: JSON
    if kind == "auto":
        config = {"mode": "AUTO"}
    elif kind == "none":
        config = {"mode": "NONE"}
    elif kind == "any":
        config = {"mode": "ANY"}
    elif kind == "tool":
        name = _str(choice, "name", "tool_choice")
        if name == search:
            raise _invalid("tool_choice.name", "Gemini cannot be made to search; let it choose (auto)")
        if name not in tool_names:
            raise _invalid("tool_choice.name", f"no tool named {name!r} in tools")
        config = {"mode": "ANY", "allowedFunctionNames": [name]}
    else:
        raise _invalid("tool_choice.type", f"unsupported tool_choice type {kind!r}")
    if not tool_names:
        if kind == "any":
            raise _invalid("tool_choice", "'any' needs at least one tool")
        return None  # auto / none without tools: nothing to configure
    return {"functionCallingConfig": config}


def _generation_config(body: JSON) -> JSON:
    config: JSON = {
        gemini: body[anthropic] for anthropic, gemini in _GENERATION_FIELDS if body.get(anthropic) is not None
    }
    thinking = _thinking_config(body.get("thinking"))
    if thinking is not None:
        config["thinkingConfig"] = thinking
    output = body.get("output_config")
    if output is not None:
        if not isinstance(output, dict):
            raise _invalid("output_config", "must be an object")
        fmt = output.get("format")
        if fmt is not None:
            if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
                raise _invalid("output_config.format.type", "only 'json_schema' is supported")
            config["responseMimeType"] = "application/json"
            config["responseJsonSchema"] = _json_schema(fmt.get("schema"), "output_config.format.schema")
    return config


def _thinking_config(thinking: Any) -> JSON | None:
    if thinking is None:
        return None
    if not isinstance(thinking, dict):
        raise _invalid("thinking", "must be an object")
    kind = thinking.get("type")
    include = thinking.get("display") != "omitted"
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            raise _invalid("thinking.budget_tokens", "must be an integer")
        return {"thinkingBudget": budget, "includeThoughts": include}
    if kind == "adaptive":
        return {"includeThoughts": include}
    if kind == "disabled":
        return None
    raise _invalid("thinking.type", f"unsupported thinking type {kind!r}")


def _str(obj: JSON, key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _invalid(f"{path}.{key}", "must be a string")
    return value


def _invalid(param: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {problem}", param=param)
