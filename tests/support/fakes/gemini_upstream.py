"""A fake Gemini upstream: the Gemini API's ``generateContent``, ``streamGenerateContent``,
``countTokens``, ``batchEmbedContents`` and ``models`` on 127.0.0.1 (under ``/v1beta`` and ``/v1``),
validating requests as strictly as the real API and answering in its wire format.

Payloads are shaped from ``tests/fixtures/providers/gemini``. Validation follows the API's proto
schema the way Google's JSON front end does: field names in lowerCamelCase or snake_case, a single
value accepted for a repeated field, enum names in any case, and every unknown field reported as
``Invalid JSON payload received. Unknown name "x" at 'path': Cannot find field.`` (with a
``google.rpc.BadRequest`` detail); then the semantic rules (roles, one data field per part,
function call / response turns ...), with the real API's messages.

Magic model names (see ``fake_server``): ``fail-500`` (INTERNAL), ``unavailable`` (503),
``rate-limited`` (429, retryDelay 3s), ``bad-request`` (400 ``generate.error_400.json``),
``not-found`` (404), ``slow-<s>``, ``stall-<k>``, ``reset-<k>``, ``drip-<ms>`` and
``error-mid-stream-<k>``. A request with ``tools`` whose model name contains ``tool`` gets a
``functionCall`` (two when it contains ``parallel``); a ``Read the file /path`` prompt with Claude Code's
``Read`` tool, or a ``run the shell command `CMD` `` prompt with Codex CLI's shell tool, gets a call of it
(``fake_server.scripted_call``), and the turn carrying its result an echo.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import secrets
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .fake_server import (
    FakeServer,
    Scenario,
    dumps,
    estimate_tokens,
    json_reply,
    parse_scenario,
    reply_words,
    sample_arguments,
    scripted_call,
    split_words,
)
from .fixtures import load_json

__all__ = ["DEFAULT_KEY", "PROTO", "FakeGemini", "generate_errors", "request_violations"]

DEFAULT_KEY = "AIzaSyFakeUpstreamKey0000000000000001"
_FIXED = {
    "fail-500": Scenario("error", 500),
    "unavailable": Scenario("error", 503),
    "rate-limited": Scenario("error", 429, retry_after=3),
    "bad-request": Scenario("error", 400),
    "not-found": Scenario("error", 404),
}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    403: "Method doesn't allow unregistered callers (callers without established identity). Please use API "
    "Key or other form of API consumer identity to call this API.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "The request timed out. Please try again.",
}
_PKG = "type.googleapis.com/google.ai.generativelanguage.v1beta."
_JSON = "application/json; charset=UTF-8"

# -- the request schema: the API's protos, field -> kind ("s" string, "i" int, "f" float, "b" bool,
#    "bytes", "any" any JSON, "struct" a JSON object, "E:<enum>", "M:<message>", "map:<kind>"; "*" repeated)

PROTO: dict[str, dict[str, str]] = {
    "GenerateContentRequest": {
        "model": "s", "contents": "M:Content*", "tools": "M:Tool*", "tool_config": "M:ToolConfig",
        "safety_settings": "M:SafetySetting*", "system_instruction": "M:Content",
        "generation_config": "M:GenerationConfig", "cached_content": "s", "labels": "map:s",
        "service_tier": "E:ServiceTier",
    },
    "Content": {"parts": "M:Part*", "role": "s"},
    "Part": {
        "text": "s", "inline_data": "M:Blob", "file_data": "M:FileData", "function_call": "M:FunctionCall",
        "function_response": "M:FunctionResponse", "executable_code": "M:ExecutableCode",
        "code_execution_result": "M:CodeExecutionResult", "thought": "b", "thought_signature": "bytes",
        "video_metadata": "struct", "part_metadata": "struct", "media_resolution": "struct",
    },
    "Blob": {"mime_type": "s", "data": "bytes"},
    "FileData": {"mime_type": "s", "file_uri": "s"},
    "FunctionCall": {"id": "s", "name": "s", "args": "struct"},
    "FunctionResponse": {
        "id": "s", "name": "s", "response": "struct", "parts": "M:FunctionResponsePart*",
        "will_continue": "b", "scheduling": "E:Scheduling",
    },
    "FunctionResponsePart": {"inline_data": "M:Blob", "file_data": "M:FileData"},
    "ExecutableCode": {"language": "E:Language", "code": "s"},
    "CodeExecutionResult": {"outcome": "E:Outcome", "output": "s"},
    "Tool": {
        "function_declarations": "M:FunctionDeclaration*", "google_search_retrieval": "struct",
        "code_execution": "struct", "google_search": "struct", "url_context": "struct",
        "computer_use": "struct", "file_search": "struct", "google_maps": "struct", "mcp_servers": "struct*",
    },
    "FunctionDeclaration": {
        "name": "s", "description": "s", "parameters": "M:Schema", "parameters_json_schema": "any",
        "response": "M:Schema", "response_json_schema": "any", "behavior": "E:Behavior",
    },
    "Schema": {
        "type": "E:Type", "format": "s", "title": "s", "description": "s", "nullable": "b", "enum": "s*",
        "max_items": "i", "min_items": "i", "properties": "map:M:Schema", "required": "s*",
        "min_properties": "i", "max_properties": "i", "min_length": "i", "max_length": "i", "pattern": "s",
        "example": "any", "any_of": "M:Schema*", "property_ordering": "s*", "default": "any",
        "items": "M:Schema", "minimum": "f", "maximum": "f",
    },
    "ToolConfig": {
        "function_calling_config": "M:FunctionCallingConfig", "retrieval_config": "struct",
        "include_server_side_tool_invocations": "b",
    },
    "FunctionCallingConfig": {"mode": "E:Mode", "allowed_function_names": "s*"},
    "SafetySetting": {"category": "E:HarmCategory", "threshold": "E:HarmBlockThreshold"},
    "GenerationConfig": {
        "stop_sequences": "s*", "response_mime_type": "s", "response_schema": "M:Schema",
        "response_json_schema": "any", "_response_json_schema": "any", "response_modalities": "E:Modality*",
        "candidate_count": "i", "max_output_tokens": "i", "temperature": "f", "top_p": "f", "top_k": "i",
        "seed": "i", "presence_penalty": "f", "frequency_penalty": "f", "response_logprobs": "b",
        "logprobs": "i", "enable_enhanced_civic_answers": "b", "speech_config": "struct",
        "thinking_config": "M:ThinkingConfig", "image_config": "struct",
        "media_resolution": "E:MediaResolution",
    },
    "ThinkingConfig": {"include_thoughts": "b", "thinking_budget": "i", "thinking_level": "E:ThinkingLevel"},
    "CountTokensRequest": {"contents": "M:Content*", "generate_content_request": "M:GenerateContentRequest"},
    "BatchEmbedContentsRequest": {"requests": "M:EmbedContentRequest*"},
    "EmbedContentRequest": {
        "model": "s", "content": "M:Content", "task_type": "E:TaskType", "title": "s",
        "output_dimensionality": "i",
    },
}  # fmt: skip
_ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Type": ("Type", ("TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT",
        "NULL")),
    "Mode": ("FunctionCallingConfig.Mode", ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")),
    "HarmCategory": ("HarmCategory", ("HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY")),
    "HarmBlockThreshold": ("SafetySetting.HarmBlockThreshold", ("HARM_BLOCK_THRESHOLD_UNSPECIFIED",
        "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF")),
    "Modality": ("GenerationConfig.Modality", ("MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO")),
    "MediaResolution": ("GenerationConfig.MediaResolution", ("MEDIA_RESOLUTION_UNSPECIFIED",
        "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH")),
    "ThinkingLevel": ("ThinkingConfig.ThinkingLevel", ("THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW",
        "MEDIUM", "HIGH")),
    "TaskType": ("TaskType", ("TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY")),
    "Behavior": ("FunctionDeclaration.Behavior", ("UNSPECIFIED", "BLOCKING", "NON_BLOCKING")),
    "Scheduling": ("FunctionResponse.Scheduling", ("SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE",
        "INTERRUPT")),
    "Language": ("ExecutableCode.Language", ("LANGUAGE_UNSPECIFIED", "PYTHON")),
    "Outcome": ("CodeExecutionResult.Outcome", ("OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_FAILED",
        "OUTCOME_DEADLINE_EXCEEDED")),
    "ServiceTier": ("ServiceTier", ("SERVICE_TIER_UNSPECIFIED", "STANDARD", "FLEX", "PRIORITY")),
}  # fmt: skip
_SCALARS = {"s": "TYPE_STRING", "i": "TYPE_INT32", "f": "TYPE_FLOAT", "b": "TYPE_BOOL", "bytes": "TYPE_BYTES"}
_DATA_FIELDS = (
    "text",
    "inline_data",
    "file_data",
    "function_call",
    "function_response",
    "executable_code",
    "code_execution_result",
)
_FUNCTION_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}")


# Messages of the real API's semantic 400s (the test module cites where each was seen).
_MSG = {
    "call_turn": "Please ensure that function call turn comes immediately after a user turn or after a "
    "function response turn.",
    "response_turn": "Please ensure that function response turn comes immediately after a function call "
    "turn.",
    "count": "Please ensure that the number of function response parts is equal to the number of function "
    "call parts of the function call turn.",
    "role": "Please use a valid role: user, model.",
    "name": "Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, "
    "0-9), underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.",
    "signature": "Function call is missing a thought_signature in functionCall parts. This is required for "
    "tools to work correctly, and missing thought_signature may lead to degraded model performance. "
    "Additional data, function call `default_api:{name}` , position {position}. Please refer to "
    "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
    "not_found": "models/{model} is not found for API version {version}, or is not supported for {method}. "
    "Call {lister} to see the list of available models and their supported methods.",
    # not seen in a real answer: worded here
    "response_name": "function response name does not match any function call of the previous turn",
    "embed_model": "the model of each request must be the model of the URL, models/{model}",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _unknown(name: str, path: str, why: str = "Cannot find field.") -> tuple[str, str]:
    at = f" at '{path}'" if path else ""
    return path, f'Invalid JSON payload received. Unknown name "{name}"{at}: {why}'


def _invalid(path: str, kind: str, value: Any) -> tuple[str, str]:
    return path, f"Invalid value at '{path}' ({kind}), {json.dumps(value)}"


def _check(value: Any, kind: str, path: str, name: str, out: list[tuple[str, str]]) -> Any:
    """Check ``value`` against ``kind``; return it normalised (snake_case keys, lists for repeated)."""
    if kind.endswith("*"):
        items = value if isinstance(value, list) else [value]  # a single value for a repeated field is fine
        return [_check(v, kind[:-1], f"{path}[{i}]", name, out) for i, v in enumerate(items)]
    if isinstance(value, list) and kind != "any":
        out.append(
            _unknown(name, path.rpartition(".")[0], "Proto field is not repeating, cannot start list.")
        )
        return value
    if kind.startswith("M:"):
        return _check_message(value, kind[2:], path, out)
    if kind.startswith("map:"):
        if not isinstance(value, dict):
            out.append(_invalid(path, "map", value))
            return {}
        return {
            k: _check(v, kind[4:], f"{path}[{i}].value", name, out) for i, (k, v) in enumerate(value.items())
        }
    if kind.startswith("E:"):
        full, names = _ENUMS[kind[2:]]
        if isinstance(value, str) and value.upper() in names:
            return value.upper()
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        out.append(_invalid(path, _PKG + full, value))
        return value
    if kind == "struct" and not isinstance(value, dict):
        out.append(_invalid(path, "type.googleapis.com/google.protobuf.Struct", value))
    elif kind in _SCALARS and not _scalar_ok(value, kind):
        out.append(_invalid(path, _SCALARS[kind], value))
    return value


def _scalar_ok(value: Any, kind: str) -> bool:
    if kind == "s":
        return isinstance(value, str)
    if kind == "b":
        return isinstance(value, bool)
    if kind == "bytes":
        try:
            plain = value.replace("-", "+").replace("_", "/").rstrip("=")  # standard or URL-safe alphabet
            base64.b64decode(plain + "=" * (-len(plain) % 4), validate=True)
        except (binascii.Error, AttributeError, ValueError):
            return False
        return True
    if isinstance(value, str):  # proto3 JSON accepts numbers as strings
        value = value.strip()
        return bool(re.fullmatch(r"-?\d+" if kind == "i" else r"-?\d+(\.\d*)?([eE][-+]?\d+)?", value))
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (kind == "f" or value == int(value))
    )


def _check_message(value: Any, message: str, path: str, out: list[tuple[str, str]]) -> dict[str, Any]:
    if not isinstance(value, dict):
        out.append(_invalid(path, _PKG + message, value))
        return {}
    fields = PROTO[message]
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in fields else _snake(key)
        if name not in fields:
            out.append(_unknown(key, path))
            continue
        if item is not None:
            result[name] = _check(item, fields[name], f"{path}.{name}" if path else name, key, out)
    return result


def request_violations(
    body: Any, message: str = "GenerateContentRequest"
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """``body`` normalised to snake_case, and the ``(field, description)`` violations of its JSON."""
    out: list[tuple[str, str]] = []
    return _check_message(body, message, "", out), out


# -- semantic rules (after the JSON parsed) ----------------------------------------------------------


def _star(field: str, text: str) -> str:
    return f"* GenerateContentRequest.{field}: {text}\n"


def generate_errors(req: dict[str, Any], model: str) -> str | None:
    """The message of the 400 the real API answers a well-formed ``req`` with, or None."""
    contents = req.get("contents") or []
    if not contents:
        return _star("contents", "contents is not specified")
    for i, content in enumerate([*contents, req.get("system_instruction") or {"parts": [{"text": "-"}]}]):
        where = f"contents[{i}]" if i < len(contents) else "system_instruction"
        if i < len(contents) and content.get("role", "user") not in ("user", "model", ""):
            return _MSG["role"]
        parts = content.get("parts") or []
        if not parts:
            return _star(f"{where}.parts", "contents.parts must not be empty.")
        for j, part in enumerate(parts):
            if sum(1 for f in _DATA_FIELDS if part.get(f) not in (None, "")) != 1:
                return _star(
                    f"{where}.parts[{j}].data", "required oneof field 'data' must have one initialized field"
                )
    if (problem := _turn_errors(contents, model)) is not None:
        return problem
    for t, tool in enumerate(req.get("tools") or []):
        for f, declaration in enumerate(tool.get("function_declarations") or []):
            where = f"tools[{t}].function_declarations[{f}]"
            if not _FUNCTION_NAME.fullmatch(declaration.get("name", "")):
                return _star(f"{where}.name", _MSG["name"])
            params = declaration.get("parameters")
            if params and params.get("type") == "OBJECT" and not params.get("properties"):
                return _star(f"{where}.parameters.properties", "should be non-empty for OBJECT type")
    budget = ((req.get("generation_config") or {}).get("thinking_config") or {}).get("thinking_budget")
    if budget is not None and not -1 <= int(budget) <= 32768:
        return f"The thinking budget {budget} is invalid. Please choose a value between -1 and 32768."
    return None


def _turn_errors(contents: list[dict[str, Any]], model: str) -> str | None:
    """Function calls come right after a user turn (or function responses); function responses answer the
    calls of the turn right before, one for one and by name."""
    previous: dict[str, Any] = {}
    users = [i for i, c in enumerate(contents) if _has(c, "text") and c.get("role") != "model"]
    for i, content in enumerate(contents):
        calls = [p for p in content.get("parts", []) if "function_call" in p]
        responses = [p["function_response"] for p in content.get("parts", []) if "function_response" in p]
        asked = {p["function_call"].get("name") for p in previous.get("parts", []) if "function_call" in p}
        if calls and (not previous or previous.get("role") == "model"):
            return _MSG["call_turn"]
        if responses and not asked:
            return _MSG["response_turn"]
        if responses and len(responses) != sum(1 for p in previous["parts"] if "function_call" in p):
            return _MSG["count"]
        for j, response in enumerate(responses):
            if response.get("name") not in asked:
                return _star(f"contents[{i}].parts[{j}].function_response.name", _MSG["response_name"])
        # Gemini 3 needs the thought signatures of the current turn's function calls back.
        if (
            calls
            and "gemini-3" in model
            and i > max(users, default=-1)
            and not calls[0].get("thought_signature")
        ):
            name = calls[0]["function_call"].get("name")
            return _MSG["signature"].format(name=name, position=i + 1)
        previous = content
    return None


def _has(content: dict[str, Any], field: str) -> bool:
    return any(field in p for p in content.get("parts", []))


# -- the reply ---------------------------------------------------------------------------------------


def _text_of(contents: Iterable[dict[str, Any]]) -> str:
    return " ".join(p["text"] for c in contents for p in c.get("parts", []) if isinstance(p.get("text"), str))


def prompt_tokens(req: dict[str, Any]) -> tuple[int, int]:
    """(text tokens, image tokens) of a request: a deterministic estimate."""
    contents = [
        *(req.get("contents") or []),
        *([req["system_instruction"]] if req.get("system_instruction") else []),
    ]
    text = estimate_tokens(_text_of(contents)) + 2 * len(contents)
    text += sum(
        estimate_tokens(json.dumps(p, default=str))
        for c in contents
        for p in c.get("parts", [])
        if "function_call" in p or "function_response" in p
    )
    text += estimate_tokens(json.dumps(req.get("tools") or []))
    images = 258 * sum(
        1 for c in contents for p in c.get("parts", []) if "inline_data" in p or "file_data" in p
    )
    return max(text, 1), images


@dataclass(slots=True)
class _Reply:
    thoughts: list[str]
    pieces: list[str]  # text pieces, or none for function calls
    calls: list[dict[str, Any]]
    finish: str
    prompt: tuple[int, int]
    signature: str = ""
    thought_tokens: int = 0  # counted whenever the model thinks, shown or not


def build_reply(req: dict[str, Any], model: str, scenario: Scenario) -> _Reply:
    """Thoughts (when asked for), then function calls or an echo of the last user text."""
    users = [c for c in req["contents"] if c.get("role", "user") != "model"]
    answers = [
        p["function_response"].get("response")
        for c in users[-1:]
        for p in c["parts"]
        if "function_response" in p
    ]
    # an answer to function results quotes them (and the user's words that came with them)
    text = " ".join([*(json.dumps(a) for a in answers), _text_of(users[-1:])]).strip()
    config = req.get("generation_config") or {}
    thinking = config.get("thinking_config") or {}
    # 2.5 and 3 models think unless given a zero budget; the thoughts are shown only when asked for
    thinks = thinking.get("include_thoughts") or (
        ("gemini-2.5" in model or "gemini-3" in model) and str(thinking.get("thinking_budget", -1)) != "0"
    )
    thought = split_words(f"**Answering** The user wrote: {text}.") if thinks else []
    thoughts = thought if thinking.get("include_thoughts") else []
    declarations = [d for t in req.get("tools") or [] for d in t.get("function_declarations") or []]
    mode = ((req.get("tool_config") or {}).get("function_calling_config") or {}).get("mode", "AUTO")
    last_parts = ((req.get("contents") or [{}])[-1] or {}).get("parts") or []
    answering_results = any("function_response" in p or "functionResponse" in p for p in last_parts)
    schemas = {d["name"]: d.get("parameters") or d.get("parameters_json_schema") for d in declarations}
    scripted = scripted_call(text, schemas) if mode != "NONE" else None
    # a model answers in words once it has the function results it asked for
    wanted = scripted is not None or (declarations and "tool" in model and mode != "NONE")
    if wanted and not answering_results:
        calls = [{"name": scripted.name, "args": scripted.arguments}] if scripted is not None else []
        for n in range(0 if scripted is not None else 2 if "parallel" in model else 1):
            declaration = declarations[n % len(declarations)]
            schema = declaration.get("parameters") or declaration.get("parameters_json_schema")
            calls.append({"name": declaration["name"], "args": sample_arguments(schema, text)})
        # signatures come with function calls of a thinking model (and with every Gemini 3 answer)
        signature = _signature(text) if thought else ""
        return _Reply(thoughts, [], calls, "STOP", prompt_tokens(req), signature, len(thought))
    schema = config.get("response_json_schema") or config.get("response_schema")
    structured = config.get("response_mime_type") == "application/json" and schema is not None
    kind, pieces = scenario.kind, json_reply(schema, text) if structured else reply_words(scenario, text)
    finish, limit = "STOP", config.get("max_output_tokens")
    if kind == "normal" and limit is not None and 0 < int(limit) < len(pieces):
        pieces, finish = pieces[: int(limit)], "MAX_TOKENS"
    signature = _signature(text) if thoughts or "gemini-3" in model else ""
    return _Reply(thoughts, pieces, [], finish, prompt_tokens(req), signature, len(thought))


def _signature(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest() * 4).decode()


def _usage(reply: _Reply, final: bool) -> dict[str, Any]:
    text, images = reply.prompt
    details = [{"modality": "TEXT", "tokenCount": text}]
    if images:
        details.insert(0, {"modality": "IMAGE", "tokenCount": images})
    usage: dict[str, Any] = {"promptTokenCount": text + images}
    if final:
        usage["candidatesTokenCount"] = len(reply.pieces) + 5 * len(reply.calls)
    if reply.thought_tokens and final:
        usage["thoughtsTokenCount"] = reply.thought_tokens
    usage["totalTokenCount"] = sum(v for k, v in usage.items() if k != "promptTokensDetails")
    usage["promptTokensDetails"] = details
    return usage


def _parts(reply: _Reply, pieces: list[str], thoughts: list[str], calls: bool) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": "".join(thoughts), "thought": True}] if thoughts else []
    if pieces:
        parts.append({"text": "".join(pieces)})
    if calls:
        parts.extend({"functionCall": call} for call in reply.calls)
    if reply.signature and len(parts) > len(thoughts[:1]):
        parts[len(thoughts[:1])]["thoughtSignature"] = reply.signature
    return parts


def _response(
    reply: _Reply, model: str, rid: str, parts: list[dict[str, Any]], final: bool
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if final:
        candidate.update(finishReason=reply.finish, index=0)
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(reply, final),
        "modelVersion": model,
        "responseId": rid,
    }


def response_body(reply: _Reply, model: str, rid: str) -> dict[str, Any]:
    """A ``GenerateContentResponse`` shaped like ``generate.text.json`` / ``generate.tool_call.json``."""
    return _response(reply, model, rid, _parts(reply, reply.pieces, reply.thoughts, True), True)


def stream_chunks(reply: _Reply, model: str, rid: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The chunks of ``generate.stream_*.sse``: thoughts, then one text piece a chunk (or all the calls);
    usageMetadata on each, finishReason on the last. Also the indexes of the text chunks."""
    chunks = [_response(reply, model, rid, _parts(reply, [], [t], False), False) for t in reply.thoughts]
    content_at = []
    for index, piece in enumerate(reply.pieces):
        content_at.append(len(chunks))
        parts = [{"text": piece}]
        if index == 0 and reply.signature and not reply.calls:
            parts[0]["thoughtSignature"] = reply.signature
        chunks.append(_response(reply, model, rid, parts, index == len(reply.pieces) - 1))
    if reply.calls:
        chunks.append(_response(reply, model, rid, _parts(reply, [], [], True), True))
    if not reply.pieces and not reply.calls:
        chunks.append(_response(reply, model, rid, [{"text": ""}], True))
    return chunks, content_at


def _sse(payload: dict[str, Any]) -> bytes:
    # as recorded: ", "-less items, ": " after keys, CRLF line ends
    return b"data: " + dumps(payload, (",", ": ")) + b"\r\n\r\n"


@functools.cache
def _templates() -> dict[str, Any]:
    return {
        "invalid_key": load_json("gemini", "generate.error_401"),
        "quota": load_json("gemini", "generate.error_429"),
        "bad_request": load_json("gemini", "generate.error_400"),
        "embedding": load_json("gemini", "embed.default")["embeddings"][0]["values"],
    }


_MODELS = (
    ("gemini-2.5-flash", "Gemini 2.5 Flash", 1048576, 65536, ["generateContent", "countTokens"]),
    ("gemini-2.5-pro", "Gemini 2.5 Pro", 1048576, 65536, ["generateContent", "countTokens"]),
    ("gemini-2.0-flash", "Gemini 2.0 Flash", 1048576, 8192, ["generateContent", "countTokens"]),
    ("gemini-embedding-001", "Gemini Embedding 001", 2048, 1, ["embedContent", "countTokens"]),
)


def _model_entry(name: str, display: str, inputs: int, outputs: int, methods: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"models/{name}",
        "version": "001",
        "displayName": display,
        "inputTokenLimit": inputs,
        "outputTokenLimit": outputs,
        "supportedGenerationMethods": methods,
    }
    if "generateContent" in methods:
        entry.update(
            temperature=1, topP=0.95, topK=64, maxTemperature=2, thinking=name.startswith("gemini-2.5")
        )
    return entry


def status_body(code: int, message: str | None = None, details: list[Any] | None = None) -> dict[str, Any]:
    """A ``google.rpc.Status`` error envelope."""
    status = _STATUS.get(code, "INVALID_ARGUMENT" if code < 500 else "INTERNAL")
    error: dict[str, Any] = {
        "code": code,
        "message": message or _MESSAGES.get(code, status),
        "status": status,
    }
    if details:
        error["details"] = details
    return {"error": error}


def _quota(retry: int) -> dict[str, Any]:
    """``generate.error_429.json`` with its retry delay set: Gemini sends no Retry-After header, only
    the RetryInfo detail (and the delay in the message)."""
    body = json.loads(json.dumps(_templates()["quota"]))
    error = body["error"]
    error["message"] = re.sub(r"Please retry in [\d.]+s", f"Please retry in {retry}s", error["message"])
    for detail in error["details"]:
        if detail["@type"].endswith("RetryInfo"):
            detail["retryDelay"] = f"{retry}s"
    return body


class FakeGemini(FakeServer):
    """The fake Gemini API, run by ``start()`` in a background thread.

    ``accepted_keys`` are the keys it accepts in ``x-goog-api-key`` (or, like the real API, a ``?key=``
    query parameter: recorded, so a test can assert it is never used). ``key_behaviors`` maps a key to
    what every request with it gets: ``"ok"``, ``"429"``/``"429:<retryDelay seconds>"``
    (RESOURCE_EXHAUSTED, 7 s by default) or any 4xx/5xx status (``"500"``, ``"503"`` ...).
    """

    name = "fake-gemini"

    def __init__(
        self,
        accepted_keys: Iterable[str] = (DEFAULT_KEY,),
        key_behaviors: dict[str, str] | None = None,
        *,
        record: bool = True,
    ) -> None:
        super().__init__(accepted_keys, key_behaviors, record=record)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{version:v1beta|v1}/models/{target}", self._post)
        app.router.add_get("/{version:v1beta|v1}/models", self._list_models)
        app.router.add_get("/{version:v1beta|v1}/models/{model}", self._get_model)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    @staticmethod
    def _json(status: int, payload: Any) -> web.Response:
        return web.Response(status=status, body=dumps(payload, (",", ": ")), headers={"Content-Type": _JSON})

    def _error(self, code: int, message: str | None = None, *, retry: int | None = None) -> web.Response:
        if code == 429:
            return self._json(429, _quota(retry or 7))
        if code == 400 and message is None:
            return self._json(400, _templates()["bad_request"])
        return self._json(code, status_body(code, message))

    async def _admit(self, request: web.Request, model: str | None) -> dict[str, Any] | web.Response:
        raw = await request.read()
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        parsed: Any = None
        problem: str | None = None
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError as exc:
            problem = f"Invalid JSON payload received. {exc}."
        self.record_request(request, raw, parsed, key, model)
        if not key:
            return self._error(403)
        behavior = self.key_behaviors.get(key)
        if behavior is None and key not in self.accepted_keys:
            return self._json(400, _templates()["invalid_key"])
        if behavior is not None and behavior != "ok":
            code = int(behavior[:3])
            return self._error(code, retry=int(behavior[4:] or 7) if code == 429 else None)
        if problem is None and not isinstance(parsed, dict):
            problem = 'Invalid JSON payload received. Unknown name "": Root element must be a message.'
        if problem is not None:
            return self._json(400, status_body(400, problem))
        assert isinstance(parsed, dict)
        return parsed

    def _violations(self, body: Any, message: str) -> tuple[dict[str, Any], web.Response | None]:
        normalised, violations = request_violations(body, message)
        if not violations:
            return normalised, None
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": f, "description": d} for f, d in violations],
            }
        ]
        return normalised, self._json(400, status_body(400, "\n".join(d for _, d in violations), details))

    def _scenario(self, model: str, method: str, version: str) -> tuple[Scenario, web.Response | None]:
        scenario = parse_scenario(model, _FIXED)
        if scenario.kind != "error":
            return scenario, None
        code = int(scenario.value)
        if code == 404:
            lister = "ModelService.ListModels" if method == "generateContent" else "ListModels"
            message = _MSG["not_found"].format(model=model, version=version, method=method, lister=lister)
            return scenario, self._json(404, status_body(404, message))
        return scenario, self._error(code, retry=scenario.retry_after)

    async def _unknown(self, request: web.Request) -> web.Response:
        await request.read()
        return self._json(404, status_body(404, "Method not found."))

    async def _list_models(self, request: web.Request) -> web.Response:
        admitted = await self._admit(request, None)
        if isinstance(admitted, web.Response):
            return admitted
        return self._json(200, {"models": [_model_entry(*m) for m in _MODELS]})

    async def _get_model(self, request: web.Request) -> web.Response:
        model = request.match_info["model"]
        admitted = await self._admit(request, model)
        if isinstance(admitted, web.Response):
            return admitted
        known = {m[0]: m for m in _MODELS}
        if model not in known:
            return self._json(
                404,
                status_body(
                    404, f"models/{model} is not found for API version {request.match_info['version']}"
                ),
            )
        return self._json(200, _model_entry(*known[model]))

    async def _post(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["target"].rpartition(":")
        body = await self._admit(request, model or None)
        if isinstance(body, web.Response):
            return body
        version = request.match_info["version"]
        if method in ("generateContent", "streamGenerateContent"):
            return await self._generate(
                request, body, model, version, stream=method == "streamGenerateContent"
            )
        if method == "countTokens":
            return self._count_tokens(body, model, version)
        if method == "batchEmbedContents":
            return self._embed(body, model, version)
        return self._json(404, status_body(404, "Method not found."))

    # -- endpoints ------------------------------------------------------------------------------

    def _count_tokens(self, body: dict[str, Any], model: str, version: str) -> web.Response:
        req, refused = self._violations(body, "CountTokensRequest")
        if refused is not None:
            return refused
        inner = req.get("generate_content_request") or {"contents": req.get("contents") or []}
        problem = generate_errors(inner, model)
        if problem is not None:
            return self._json(
                400, status_body(400, problem.replace("GenerateContentRequest", "CountTokensRequest"))
            )
        _, failed = self._scenario(model, "countTokens", version)
        if failed is not None:
            return failed
        text, images = prompt_tokens(inner)
        details = [{"modality": "TEXT", "tokenCount": text}] + (
            [{"modality": "IMAGE", "tokenCount": images}] if images else []
        )
        return self._json(200, {"totalTokens": text + images, "promptTokensDetails": details})

    def _embed(self, body: dict[str, Any], model: str, version: str) -> web.Response:
        req, refused = self._violations(body, "BatchEmbedContentsRequest")
        if refused is not None:
            return refused
        for i, item in enumerate(req.get("requests") or []):
            if item.get("model") != f"models/{model}":
                message = _MSG["embed_model"].format(model=model)
                return self._json(
                    400, status_body(400, f"* BatchEmbedContentsRequest.requests[{i}].model: {message}\n")
                )
            if not _text_of([item.get("content") or {}]):
                return self._json(
                    400,
                    status_body(
                        400,
                        f"* BatchEmbedContentsRequest.requests[{i}].content: "
                        "contents.parts must not be empty.\n",
                    ),
                )
        _, failed = self._scenario(model, "embedContent", version)
        if failed is not None:
            return failed
        base = _templates()["embedding"]
        embeddings = []
        for item in req.get("requests") or []:
            shift = zlib.crc32(_text_of([item["content"]]).encode()) % len(base)
            values = base[shift:] + base[:shift]
            size = item.get("output_dimensionality")
            embeddings.append({"values": values[: int(size)] if size else values})
        return self._json(200, {"embeddings": embeddings})

    async def _generate(
        self, request: web.Request, body: dict[str, Any], model: str, version: str, *, stream: bool
    ) -> web.StreamResponse:
        req, refused = self._violations(body, "GenerateContentRequest")
        if refused is not None:
            return refused
        if (problem := generate_errors(req, model)) is not None:
            return self._json(400, status_body(400, problem))
        scenario, failed = self._scenario(model, "generateContent", version)
        if failed is not None:
            return failed
        if await self.before_headers(request, scenario, stream):
            return web.Response(status=500)
        reply = build_reply(req, model, scenario)
        rid = base64.urlsafe_b64encode(secrets.token_bytes(17)).decode()[:23]
        if not stream:
            answer = response_body(reply, model, rid)
            self.report_usage(model, answer["usageMetadata"], stream=False)
            return self._json(200, answer)
        chunks, content_at = stream_chunks(reply, model, rid)
        error = status_body(503)
        final = (len(chunks) - 1, chunks[-1]["usageMetadata"])  # the last chunk's: it has finishReason
        if request.query.get("alt") == "sse":
            events = [_sse(chunk) for chunk in chunks]
            return await self.stream(
                request,
                model,
                events,
                content_at,
                scenario,
                {"Content-Type": "text/event-stream"},
                _sse(error),
                final,
            )
        # Without alt=sse the API streams one JSON array, element by element.
        pretty = [json.dumps(chunk, indent=2, ensure_ascii=False).encode() for chunk in chunks]
        events = [(b"[" if i == 0 else b"\n,\r\n") + p for i, p in enumerate(pretty)] + [b"\n]"]
        midstream = b"\n,\r\n" + json.dumps(error, indent=2).encode() + b"\n]"
        return await self.stream(
            request, model, events, content_at, scenario, {"Content-Type": _JSON}, midstream, final
        )
