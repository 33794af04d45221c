"""A Gemini client's `generateContent` / `countTokens` request → Anthropic Messages (the hub). Pure.

A client speaking Google's Gemini API (Gemini CLI, google-genai, `@ai-sdk/google`) reaches a non-Gemini
upstream through the hub: Anthropic as it is, OpenAI-format servers through `anthropic_request_to_openai`.
The answer goes back in `anthropic_to_gemini_response.py`, the stream in `streams/anthropic_to_gemini.py`.
What cannot be carried without changing the request's meaning is a 400 naming the field path
(`contents[2].parts[0].fileData.fileUri`). Fields are read in camelCase or snake_case (protobuf JSON
takes both: `gemini_schema.field`).

Request decisions (Gemini → Anthropic):
- `contents`: role `user` (or none) → user, `model` → assistant, any other → 400. Consecutive contents of
  one role form one message (Anthropic wants turns that alternate).
- Parts: `text` → text block (empty texts dropped: Anthropic refuses them). `inlineData`: image/png,
  jpeg, gif, webp → base64 image; application/pdf → base64 document; text/plain → text document;
  other types → 400. `fileData`: an http(s) URL → url image / document by its `mimeType` (the upstream
  fetches it); Files API (`generativelanguage.googleapis.com`), `gs://` and other URIs → 400: the
  gateway cannot read Google's stores. `executableCode` / `codeExecutionResult` → 400 (see tools).
- `functionCall` → `tool_use` (its `id`, else a fresh `toolu_…`); `functionResponse` → `tool_result`
  for the call of its `id`, else the oldest unanswered call of its `name` (none → 400). Its `response`:
  `{"output": text}` (Google's convention) or `{"name", "content": text}` (the Vercel AI SDK's) → that
  text, `{"error": text}` → that text with `is_error`, anything else → its compact JSON; its `parts`
  (Gemini 3's multimodal results) with `inlineData` / `fileData` → image or document blocks of the
  result. In a user message the `tool_result` blocks go first (Anthropic's rule).
- Thinking: the answer side writes the hub thinking blocks into the `thoughtSignature` of the part
  after them (`thought_signatures`); such a signature on any part becomes those blocks again, before
  the part's own block, so Claude gets its signed thinking back. The text of `thought: true` parts is
  not sent: ours is a copy shown to the user (the blocks travel in signatures), another model's
  cannot be verified by a hub upstream. A foreign signature (Gemini's own, or Gemini CLI's
  `skip_thought_signature_validator`) is ignored with a note.
- `systemInstruction` (a Content, or a string) → `system` text blocks.
- `tools`: `functionDeclarations` → tools, `parametersJsonSchema` as it is (`$schema` removed), else
  `parameters` converted by `gemini_schema.to_json_schema`, else an empty object schema; a top-level
  schema that is not an object → 400 (Anthropic's `input_schema` is one). `googleSearch` (and the old
  `googleSearchRetrieval`) → the hub's web search server tool (`web_search_20250305`, named
  `web_search`; `anthropic_to_gemini` maps it back to `googleSearch`) when the target searches
  (`web_search=True`), else 400. `codeExecution` → 400, not dropped: the model would answer without
  running the code it was asked to run, and the hub's code-execution results have no Gemini parts
  here. Any other tool (`urlContext`, `fileSearch`, `googleMaps`, `computerUse`, `retrieval`,
  `mcpServers`, other search engines...) → 400: Gemini runs them, a hub upstream cannot.
- `toolConfig.functionCallingConfig.mode`: AUTO (or unspecified, or VALIDATED, noted) → auto, NONE → none,
  ANY → any; ANY with `allowedFunctionNames` → `tool` for one name, for several only those tools are
  sent (Anthropic names one tool at most). `allowedFunctionNames` with another mode → 400.
- `generationConfig`: `maxOutputTokens` → `max_tokens` (else `default_max_tokens`: Anthropic requires
  one); `temperature` (Gemini's 0-2 scale, passed as it is: an upstream's range error reaches the
  client), `topP`, `topK`, `stopSequences` → their Anthropic names, but `topP` 1 (the whole
  distribution, as when absent) is left out: Gemini CLI sends it with `temperature`, and the newest
  Claude models refuse the two together. `candidateCount` > 1 → 400 (the hub answers one candidate).
  `responseMimeType: application/json` with `responseJsonSchema` (as it is) or `responseSchema`
  (converted) → `output_config.format` json_schema; JSON without a schema → 400 (no schema-free JSON
  mode); `text/plain` → nothing; other types → 400. `responseModalities` other than
  TEXT, `responseLogprobs`, `logprobs`, `speechConfig`, `imageConfig`, and `presencePenalty` /
  `frequencyPenalty` other than 0 → 400 (they change the answer; Anthropic has none). `seed` (best
  effort at Google too), `mediaResolution`, `enableEnhancedCivicAnswers` → dropped with a note.
- `thinkingConfig`: `thinkingBudget` 0 → disabled, -1 (dynamic) → enabled with the `medium` budget,
  n > 0 → enabled with max(n, 1024) (Anthropic's minimum); `thinkingLevel` (minimal, low, medium,
  high) → enabled with `openai_to_anthropic.EFFORT_BUDGET`'s budget. When the budget is not below
  `max_tokens`, `max_tokens` becomes budget + the asked maximum, as for chat. While thinking,
  `temperature`, `topK` and a `topP` below 0.95 are dropped with a note: Anthropic refuses them with
  thinking, and Gemini CLI sends temperature 0 with a budget. `includeThoughts` only shapes the answer
  (`gemini_include_thoughts`). No `thinkingConfig`: no thinking. Left to the upstream (it answers in
  detail): forced function calls with thinking, thinking on a model that cannot think.
- `cachedContent` → 400 (the gateway keeps no Gemini caches). `safetySettings`, `labels` → dropped
  with a note. Any other top-level field → dropped with a note.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final
from urllib.parse import urlsplit

from llmgw.translate.gemini_schema import field, to_json_schema
from llmgw.translate.hub import new_id
from llmgw.translate.json_fields import JSON, arr, bad, compact_json, number, obj, positive_int, string
from llmgw.translate.openai_to_anthropic import EFFORT_BUDGET
from llmgw.translate.thought_signatures import decode_thought_signature

__all__ = [
    "WEB_SEARCH_TOOL",
    "gemini_count_tokens_request_to_anthropic",
    "gemini_include_thoughts",
    "gemini_request_to_anthropic",
]

WEB_SEARCH_TOOL: Final = {"type": "web_search_20250305", "name": "web_search"}
_MIN_BUDGET: Final = 1024
_THINKING_TOP_P: Final = 0.95  # the lowest top_p Anthropic takes with thinking
_IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_SEARCH_TOOLS: Final = ("googleSearch", "googleSearchRetrieval")
_REFUSED_GENERATION: Final = ("responseLogprobs", "logprobs", "speechConfig", "imageConfig")
_PENALTIES: Final = ("presencePenalty", "frequencyPenalty")
_DROPPED_GENERATION: Final = (
    "seed",
    "mediaResolution",
    "enableEnhancedCivicAnswers",
)
_HANDLED: Final = frozenset(
    {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "model", "cachedContent"}
)
_NOTED: Final = ("safetySettings", "labels")


def gemini_request_to_anthropic(
    body: dict[str, Any],
    *,
    model: str,
    default_max_tokens: int,
    web_search: bool = True,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The Anthropic Messages request for a Gemini `generateContent` body (`stream` is the caller's,
    from the path). `web_search`: the target can search (else `googleSearch` is a 400). What was
    dropped is appended to `notes`."""
    said = notes if notes is not None else []
    if field(body, "cachedContent") is not None:
        raise bad("cachedContent", "the gateway keeps no Gemini context caches; send the content itself")
    out: JSON = {"model": model}
    generation = obj(field(body, "generationConfig") or {}, "generationConfig")
    out["max_tokens"] = default_max_tokens
    if field(generation, "maxOutputTokens") is not None:
        out["max_tokens"] = positive_int(
            field(generation, "maxOutputTokens"), "generationConfig.maxOutputTokens"
        )
    system = _system(field(body, "systemInstruction"))
    if system:
        out["system"] = system
    out["messages"] = _Contents(said).messages(field(body, "contents"))
    tools = _tools(field(body, "tools"), web_search)
    choice, tools = _tool_choice(field(body, "toolConfig"), tools, said)
    if tools:
        out["tools"] = tools
    if choice is not None:
        out["tool_choice"] = choice
    _generation(generation, out, said)
    for key in _NOTED:
        if field(body, key) is not None:
            said.append(f"{key} dropped: no equivalent outside Gemini")
    for key in body:
        if key not in _HANDLED and key not in _NOTED and _camel(key) not in _HANDLED | set(_NOTED):
            said.append(f"{key} dropped: not a field the gateway translates")
    return out


def gemini_count_tokens_request_to_anthropic(
    body: dict[str, Any], *, model: str, web_search: bool = True
) -> dict[str, Any]:
    """The Anthropic `count_tokens` request for a Gemini `countTokens` body: `contents` alone, or a whole
    `generateContentRequest` (whose system instruction and tools count too)."""
    inner = field(body, "generateContentRequest")
    request = (
        obj(inner, "generateContentRequest") if inner is not None else {"contents": field(body, "contents")}
    )
    whole = gemini_request_to_anthropic(request, model=model, default_max_tokens=1, web_search=web_search)
    keys = ("model", "system", "messages", "tools", "tool_choice", "thinking")
    return {k: whole[k] for k in keys if k in whole}


def gemini_include_thoughts(body: dict[str, Any]) -> bool:
    """Whether the request asked for thought parts (`generationConfig.thinkingConfig.includeThoughts`)."""
    generation = field(body, "generationConfig")
    thinking = field(generation, "thinkingConfig") if isinstance(generation, dict) else None
    return isinstance(thinking, dict) and field(thinking, "includeThoughts") is True


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.title() for w in rest)


def _system(instruction: Any) -> list[JSON]:
    if instruction is None:
        return []
    if isinstance(instruction, str):
        return [{"type": "text", "text": instruction}] if instruction else []
    parts = arr(field(obj(instruction, "systemInstruction"), "parts") or [], "systemInstruction.parts")
    blocks: list[JSON] = []
    for i, part in enumerate(parts):
        path = f"systemInstruction.parts[{i}]"
        text = string(field(obj(part, path), "text"), f"{path}.text")
        if text:
            blocks.append({"type": "text", "text": text})
    return blocks


class _Contents:
    """`contents` → Anthropic messages, pairing function responses with their calls."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.unanswered: list[tuple[str, str]] = []  # (id, name) of calls not yet answered, in order

    def messages(self, contents: Any) -> list[JSON]:
        messages: list[JSON] = []
        for i, content in enumerate(arr(contents, "contents")):
            path = f"contents[{i}]"
            content = obj(content, path)
            role = field(content, "role") or "user"
            if role not in ("user", "model"):
                raise bad(f"{path}.role", f"unsupported role {role!r}; expected 'user' or 'model'")
            hub_role = "user" if role == "user" else "assistant"
            blocks: list[JSON] = []
            for j, part in enumerate(arr(field(content, "parts") or [], f"{path}.parts")):
                blocks.extend(self._part(obj(part, f"{path}.parts[{j}]"), f"{path}.parts[{j}]", role))
            if not blocks:
                continue
            if messages and messages[-1]["role"] == hub_role:
                messages[-1]["content"].extend(blocks)
            else:
                messages.append({"role": hub_role, "content": blocks})
        for message in messages:  # Anthropic wants a user turn's tool results first
            if message["role"] == "user":
                message["content"].sort(key=lambda b: b.get("type") != "tool_result")
        return messages

    def _part(self, part: JSON, path: str, role: str) -> list[JSON]:
        blocks = self._signature(part, path)
        if part.get("thought") is True:
            return blocks  # its text is a copy shown to the user (or another model's): not sent
        text = part.get("text")
        call, response = field(part, "functionCall"), field(part, "functionResponse")
        inline, file = field(part, "inlineData"), field(part, "fileData")
        if text is not None:
            if string(text, f"{path}.text"):
                blocks.append({"type": "text", "text": text})
        elif call is not None and role == "model":
            blocks.append(self._call(obj(call, f"{path}.functionCall"), f"{path}.functionCall"))
        elif response is not None and role == "user":
            blocks.append(
                self._response(obj(response, f"{path}.functionResponse"), f"{path}.functionResponse")
            )
        elif inline is not None and role == "user":
            blocks.append(_inline(obj(inline, f"{path}.inlineData"), f"{path}.inlineData"))
        elif file is not None and role == "user":
            blocks.append(_file(obj(file, f"{path}.fileData"), f"{path}.fileData"))
        elif field(part, "executableCode") is not None or field(part, "codeExecutionResult") is not None:
            raise bad(path, "code execution parts cannot be carried to a non-Gemini model")
        elif not blocks and "thoughtSignature" not in part and "thought_signature" not in part:
            raise bad(path, f"unsupported part in a {role} content")
        return blocks

    def _signature(self, part: JSON, path: str) -> list[JSON]:
        """The hub block a thoughtSignature of ours carries (none for another's)."""
        signature = field(part, "thoughtSignature")
        if signature is None:
            return []
        spath = f"{path}.thoughtSignature"
        blocks = decode_thought_signature(string(signature, spath), spath)
        if blocks is None:
            self.notes.append(f"{spath} ignored: a signature the gateway did not write")
            return []
        # an unsigned thinking block (a chat-completions upstream's) could reach no upstream
        return [b for b in blocks if b["type"] == "redacted_thinking" or b["signature"]]

    def _call(self, call: JSON, path: str) -> JSON:
        name = string(call.get("name"), f"{path}.name")
        call_id = call.get("id")
        call_id = string(call_id, f"{path}.id") if call_id is not None else new_id("toolu_")
        args = call.get("args") if call.get("args") is not None else {}
        self.unanswered.append((call_id, name))
        return {"type": "tool_use", "id": call_id, "name": name, "input": obj(args, f"{path}.args")}

    def _response(self, response: JSON, path: str) -> JSON:
        name = string(response.get("name"), f"{path}.name")
        wanted = response.get("id")
        match = [c for c in self.unanswered if (c[0] == wanted if wanted is not None else c[1] == name)]
        if not match:
            said = f"id {wanted!r}" if wanted is not None else f"name {name!r}"
            raise bad(path, f"no earlier functionCall with the {said} is waiting for this response")
        self.unanswered.remove(match[0])
        result = response.get("response") if response.get("response") is not None else {}
        result = obj(result, f"{path}.response")
        block: JSON = {"type": "tool_result", "tool_use_id": match[0][0]}
        if set(result) == {"error"} and isinstance(result["error"], str):
            text, block["is_error"] = result["error"], True
        elif set(result) == {"output"} and isinstance(result["output"], str):
            text = result["output"]
        elif set(result) <= {"name", "content"} and isinstance(result.get("content"), str):
            text = result["content"]  # the Vercel AI SDK's shape: {name, content}
        else:
            text = compact_json(result) if result else ""
        content: list[JSON] = [{"type": "text", "text": text}] if text else []
        for k, part in enumerate(arr(response.get("parts") or [], f"{path}.parts")):
            ppath = f"{path}.parts[{k}]"
            part = obj(part, ppath)
            if field(part, "inlineData") is not None:
                content.append(_inline(obj(field(part, "inlineData"), ppath), f"{ppath}.inlineData"))
            elif field(part, "fileData") is not None:
                content.append(_file(obj(field(part, "fileData"), ppath), f"{ppath}.fileData"))
            else:
                raise bad(ppath, "a function response part must hold inlineData or fileData")
        block["content"] = content
        return block


def _inline(data: JSON, path: str) -> JSON:
    mime = string(field(data, "mimeType"), f"{path}.mimeType")
    payload = string(data.get("data"), f"{path}.data")
    if mime in _IMAGE_TYPES:
        return {"type": "image", "source": {"type": "base64", "media_type": mime, "data": payload}}
    if mime == "application/pdf":
        return {"type": "document", "source": {"type": "base64", "media_type": mime, "data": payload}}
    if mime == "text/plain":
        try:
            text = base64.b64decode(payload, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise bad(f"{path}.data", "not base64 of UTF-8 text") from None
        return {"type": "document", "source": {"type": "text", "media_type": mime, "data": text}}
    raise bad(f"{path}.mimeType", f"{mime!r} cannot be sent to a non-Gemini model (images, PDF and text can)")


def _file(data: JSON, path: str) -> JSON:
    uri = string(field(data, "fileUri"), f"{path}.fileUri")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or parts.hostname == "generativelanguage.googleapis.com":
        raise bad(
            f"{path}.fileUri", "only a public http(s) URL can be sent to a non-Gemini model; send inlineData"
        )
    mime = field(data, "mimeType")
    if mime is None or string(mime, f"{path}.mimeType").startswith("image/"):
        return {"type": "image", "source": {"type": "url", "url": uri}}
    if mime == "application/pdf":
        return {"type": "document", "source": {"type": "url", "url": uri}}
    raise bad(
        f"{path}.mimeType", f"{mime!r} cannot be sent by URL to a non-Gemini model (images and PDF can)"
    )


def _tools(tools: Any, web_search: bool) -> list[JSON]:
    if tools is None:
        return []
    listed = [tools] if isinstance(tools, dict) else arr(tools, "tools")  # one tool object: protobuf JSON
    out: list[JSON] = []
    for i, tool in enumerate(listed):
        path = f"tools[{i}]"
        tool = obj(tool, path)
        declarations = field(tool, "functionDeclarations")
        for j, declaration in enumerate(arr(declarations or [], f"{path}.functionDeclarations")):
            out.append(
                _declaration(
                    obj(declaration, f"{path}.functionDeclarations[{j}]"), f"{path}.functionDeclarations[{j}]"
                )
            )
        for key in tool:
            kind = _camel(key)
            if kind in _SEARCH_TOOLS:
                if not web_search:
                    raise bad(f"{path}.{key}", "the target model cannot search the web")
                if WEB_SEARCH_TOOL not in out:
                    out.append(dict(WEB_SEARCH_TOOL))
            elif kind != "functionDeclarations":
                raise bad(f"{path}.{key}", "a Gemini-only tool: a non-Gemini model cannot run it")
    return out


def _declaration(declaration: JSON, path: str) -> JSON:
    tool: JSON = {"name": string(declaration.get("name"), f"{path}.name")}
    if declaration.get("description") is not None:
        tool["description"] = string(declaration["description"], f"{path}.description")
    json_schema = field(declaration, "parametersJsonSchema")
    if json_schema is not None:
        schema = {k: v for k, v in obj(json_schema, f"{path}.parametersJsonSchema").items() if k != "$schema"}
        spath = f"{path}.parametersJsonSchema"
    elif declaration.get("parameters") is not None:
        schema, spath = to_json_schema(declaration["parameters"], f"{path}.parameters"), f"{path}.parameters"
    else:
        schema, spath = {"type": "object", "properties": {}}, path
    if schema.get("type") != "object":
        raise bad(spath, "the parameters must be an object schema")
    tool["input_schema"] = schema
    return tool


def _tool_choice(config: Any, tools: list[JSON], notes: list[str]) -> tuple[JSON | None, list[JSON]]:
    calling = field(obj(config, "toolConfig"), "functionCallingConfig") if config is not None else None
    if calling is None:
        return None, tools
    path = "toolConfig.functionCallingConfig"
    calling = obj(calling, path)
    mode = calling.get("mode") or "AUTO"
    allowed = field(calling, "allowedFunctionNames")
    if allowed is not None and mode != "ANY":
        raise bad(f"{path}.allowedFunctionNames", "only mode ANY takes allowedFunctionNames")
    if mode in ("AUTO", "MODE_UNSPECIFIED", "VALIDATED"):
        if mode == "VALIDATED":
            notes.append(f"{path}.mode VALIDATED sent as auto: no constrained function calling")
        return ({"type": "auto"} if tools else None), tools
    if mode == "NONE":
        return ({"type": "none"} if tools else None), tools
    if mode != "ANY":
        raise bad(f"{path}.mode", f"unknown mode {mode!r}")
    declared = [t["name"] for t in tools if "input_schema" in t]
    if not declared:
        raise bad(f"{path}.mode", "ANY needs at least one function declaration")
    if not allowed:
        return {"type": "any"}, tools
    names = [
        string(n, f"{path}.allowedFunctionNames[{i}]")
        for i, n in enumerate(arr(allowed, f"{path}.allowedFunctionNames"))
    ]
    for i, name in enumerate(names):
        if name not in declared:
            raise bad(f"{path}.allowedFunctionNames[{i}]", f"no function declaration named {name!r}")
    if len(names) == 1:
        return {"type": "tool", "name": names[0]}, tools
    return {"type": "any"}, [t for t in tools if t.get("name") in names and "input_schema" in t]


def _generation(config: JSON, out: JSON, notes: list[str]) -> None:
    path = "generationConfig"
    count = field(config, "candidateCount")
    if count is not None and positive_int(count, f"{path}.candidateCount") > 1:
        raise bad(f"{path}.candidateCount", "the gateway answers one candidate for a non-Gemini model")
    for gemini, anthropic in (("temperature", "temperature"), ("topP", "top_p"), ("topK", "top_k")):
        if field(config, gemini) is not None:
            out[anthropic] = number(field(config, gemini), f"{path}.{gemini}")
    if out.get("top_p") == 1:  # the whole distribution, as when absent
        del out["top_p"]
    stops = field(config, "stopSequences")
    if stops is not None:
        out["stop_sequences"] = [
            string(s, f"{path}.stopSequences[{i}]") for i, s in enumerate(arr(stops, f"{path}.stopSequences"))
        ]
    for key in _REFUSED_GENERATION:
        if field(config, key) not in (None, False):
            raise bad(f"{path}.{key}", "a non-Gemini model cannot honour it")
    modalities = field(config, "responseModalities")
    if modalities is not None and any(m != "TEXT" for m in arr(modalities, f"{path}.responseModalities")):
        raise bad(f"{path}.responseModalities", "a non-Gemini model answers TEXT only")
    for key in _PENALTIES:
        if field(config, key) not in (None, 0):
            raise bad(f"{path}.{key}", "a non-Gemini model cannot honour it (only 0 is accepted)")
    for key in _DROPPED_GENERATION:
        if field(config, key) is not None:
            notes.append(f"{path}.{key} dropped: no equivalent outside Gemini")
    _response_format(config, out)
    thinking = _thinking(field(config, "thinkingConfig"))
    if thinking is not None:
        out["thinking"] = thinking
        budget = thinking.get("budget_tokens", 0)
        if budget and out["max_tokens"] <= budget:
            out["max_tokens"] += budget
        if budget:
            _thinking_sampling(out, notes)


def _thinking_sampling(out: JSON, notes: list[str]) -> None:
    """Leave out the sampling settings Anthropic refuses while thinking (Gemini CLI sends temperature 0
    with a thinking budget): a hint about variety, not about what the answer is."""
    path = "generationConfig"
    for key, name in (("temperature", "temperature"), ("top_k", "topK")):
        if key in out:
            del out[key]
            notes.append(f"{path}.{name} dropped: not taken while thinking")
    if "top_p" in out and out["top_p"] < _THINKING_TOP_P:
        del out["top_p"]
        notes.append(f"{path}.topP dropped: below {_THINKING_TOP_P}, not taken while thinking")


def _response_format(config: JSON, out: JSON) -> None:
    path = "generationConfig"
    mime = field(config, "responseMimeType")
    json_schema, schema = field(config, "responseJsonSchema"), field(config, "responseSchema")
    if mime in (None, "text/plain") and json_schema is None and schema is None:
        return
    if mime != "application/json":
        raise bad(
            f"{path}.responseMimeType",
            "a non-Gemini model takes application/json (with a schema) or text/plain",
        )
    if json_schema is not None:
        converted = {
            k: v for k, v in obj(json_schema, f"{path}.responseJsonSchema").items() if k != "$schema"
        }
    elif schema is not None:
        converted = to_json_schema(schema, f"{path}.responseSchema")
    else:
        raise bad(f"{path}.responseMimeType", "JSON output needs responseSchema or responseJsonSchema here")
    out["output_config"] = {"format": {"type": "json_schema", "schema": converted}}


def _thinking(config: Any) -> JSON | None:
    if config is None:
        return None
    path = "generationConfig.thinkingConfig"
    config = obj(config, path)
    budget, level = field(config, "thinkingBudget"), field(config, "thinkingLevel")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < -1:
            raise bad(f"{path}.thinkingBudget", "expected -1, 0 or a positive integer")
        if budget == 0:
            return {"type": "disabled"}
        return {
            "type": "enabled",
            "budget_tokens": EFFORT_BUDGET["medium"] if budget == -1 else max(budget, _MIN_BUDGET),
        }
    if level is not None:
        name = level.lower() if isinstance(level, str) else None
        if name not in ("minimal", "low", "medium", "high"):
            raise bad(f"{path}.thinkingLevel", "expected MINIMAL, LOW, MEDIUM or HIGH")
        return {"type": "enabled", "budget_tokens": EFFORT_BUDGET[name]}
    return None
