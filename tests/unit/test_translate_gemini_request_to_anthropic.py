"""A Gemini client's requests → the hub (llmgw.translate.gemini_request_to_anthropic, gemini_schema).

The inputs are what Google's own google-genai SDK sends (captured through a mock transport) and the
recorded Gemini requests in tests/fixtures/providers/gemini; the expected hub requests are written by
hand from Anthropic's Messages reference, never from the translator's output.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from google.genai import types

from llmgw.errors import InvalidRequest
from llmgw.translate.gemini_request_to_anthropic import (
    WEB_SEARCH_TOOL,
    gemini_count_tokens_request_to_anthropic,
    gemini_include_thoughts,
    gemini_request_to_anthropic,
)
from llmgw.translate.gemini_schema import to_json_schema
from tests.support.fakes.fixtures import load_request
from tests.support.genai_sdk import GenaiRecorder

MODEL = "claude-haiku-4-5"
TEXT_ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}]
}


def sent(contents: Any, config: types.GenerateContentConfig | None = None) -> dict[str, Any]:
    """The body google-genai sends for `generate_content(contents, config)`."""
    sdk = GenaiRecorder([TEXT_ANSWER])
    sdk.client.models.generate_content(model="gemini-2.5-flash", contents=contents, config=config)
    return sdk.body


def hub(body: dict[str, Any], notes: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    return gemini_request_to_anthropic(body, model=MODEL, default_max_tokens=4096, notes=notes, **kw)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


# ---- what the SDK sends -------------------------------------------------------------------------


def test_sdk_config_with_tools_schema_and_thinking() -> None:
    config = types.GenerateContentConfig(
        system_instruction="Be brief.",
        max_output_tokens=100,
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END"],
        thinking_config=types.ThinkingConfig(thinking_budget=2000, include_thoughts=True),
        tools=[
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name="lookup",
                        description="Look a word up.",
                        parameters=types.Schema(
                            type="OBJECT",
                            properties={"word": types.Schema(type="STRING", nullable=True)},
                            required=["word"],
                        ),
                    )
                ]
            ),
            types.Tool(google_search=types.GoogleSearch()),
        ],
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode="ANY", allowed_function_names=["lookup"])
        ),
        response_mime_type="application/json",
        response_schema=types.Schema(type="ARRAY", items=types.Schema(type="INTEGER"), min_items=1),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    body = sent("Hi", config)
    assert gemini_include_thoughts(body)
    notes: list[str] = []
    assert hub(body, notes) == {
        "model": MODEL,
        "max_tokens": 2100,  # the budget (2000) is not below the asked 100: budget + 100
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [user("Hi")],
        "tools": [  # in the order the SDK sends them (it puts googleSearch first)
            {"type": "web_search_20250305", "name": "web_search"},
            {
                "name": "lookup",
                "description": "Look a word up.",
                "input_schema": {
                    "type": "object",
                    "properties": {"word": {"type": ["string", "null"]}},
                    "required": ["word"],
                },
            },
        ],
        "tool_choice": {"type": "tool", "name": "lookup"},
        "stop_sequences": ["END"],
        "output_config": {
            "format": {
                "type": "json_schema",
                "schema": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
            }
        },
        "thinking": {"type": "enabled", "budget_tokens": 2000},
    }
    assert notes == [  # Anthropic refuses them while thinking
        "generationConfig.temperature dropped: not taken while thinking",
        "generationConfig.topK dropped: not taken while thinking",
        "generationConfig.topP dropped: below 0.95, not taken while thinking",
    ]


def test_sampling_without_thinking_passes_as_it_is() -> None:
    config = types.GenerateContentConfig(temperature=0.0, top_p=0.9, top_k=40, seed=7, presence_penalty=0.0)
    notes: list[str] = []
    got = hub(sent("Hi", config), notes)
    assert (got["temperature"], got["top_p"], got["top_k"]) == (0.0, 0.9, 40)
    assert notes == ["generationConfig.seed dropped: no equivalent outside Gemini"]
    thinking = gen(temperature=1, topP=0.95, thinkingConfig={"thinkingBudget": 0})
    assert (thinking["temperature"], thinking["top_p"], thinking["thinking"]) == (
        1,
        0.95,
        {"type": "disabled"},
    )
    gemini_cli = gen(temperature=0, topP=1)  # Gemini CLI's defaults: top_p 1 is no cut at all
    assert gemini_cli["temperature"] == 0 and "top_p" not in gemini_cli


def test_sdk_json_schema_fields_pass_as_they_are() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"n": {"type": "integer"}},
    }
    config = types.GenerateContentConfig(
        tools=[
            types.Tool(
                function_declarations=[types.FunctionDeclaration(name="count", parameters_json_schema=schema)]
            )
        ],
        response_mime_type="application/json",
        response_json_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}},
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    got = hub(sent("Count", config))
    assert got["tools"] == [
        {"name": "count", "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}
    ]
    assert got["output_config"] == {
        "format": {
            "type": "json_schema",
            "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
        }
    }
    assert got["max_tokens"] == 4096 and "thinking" not in got and "tool_choice" not in got


def test_sdk_parallel_function_calls_and_responses_pair_by_id_and_by_name() -> None:
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather in Paris and Rome?")]),
        types.Content(
            role="model",
            parts=[
                types.Part(
                    function_call=types.FunctionCall(id="toolu_a", name="weather", args={"city": "Paris"})
                ),
                types.Part(
                    function_call=types.FunctionCall(id="toolu_b", name="weather", args={"city": "Rome"})
                ),
                types.Part(function_call=types.FunctionCall(name="clock", args={})),
            ],
        ),
        types.Content(
            role="user",
            parts=[
                types.Part(text="Here you are."),
                types.Part(
                    function_response=types.FunctionResponse(
                        id="toolu_b", name="weather", response={"output": "sun"}
                    )
                ),
                types.Part(
                    function_response=types.FunctionResponse(
                        id="toolu_a", name="weather", response={"error": "down"}
                    )
                ),
                types.Part(function_response=types.FunctionResponse(name="clock", response={"hour": 9})),
            ],
        ),
    ]
    got = hub(sent(history))["messages"]
    assert got[0] == user("Weather in Paris and Rome?")
    calls = got[1]["content"]
    assert calls[:2] == [
        {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_b", "name": "weather", "input": {"city": "Rome"}},
    ]
    clock_id = calls[2]["id"]
    assert calls[2] == {"type": "tool_use", "id": clock_id, "name": "clock", "input": {}}
    assert clock_id.startswith("toolu_")
    assert got[2] == {
        "role": "user",
        "content": [  # tool results first, as Anthropic wants, in their order
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": [{"type": "text", "text": "sun"}]},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_a",
                "is_error": True,
                "content": [{"type": "text", "text": "down"}],
            },
            {
                "type": "tool_result",
                "tool_use_id": clock_id,
                "content": [{"type": "text", "text": '{"hour":9}'}],
            },
            {"type": "text", "text": "Here you are."},
        ],
    }


def test_sdk_inline_and_file_data() -> None:
    pdf = base64.b64encode(b"%PDF-1.4").decode()
    parts = [
        types.Part(text="Compare"),
        types.Part(inline_data=types.Blob(mime_type="image/png", data=b"\x89PNG")),
        types.Part(inline_data=types.Blob(mime_type="application/pdf", data=b"%PDF-1.4")),
        types.Part(inline_data=types.Blob(mime_type="text/plain", data="héllo".encode())),
        types.Part(file_data=types.FileData(mime_type="image/jpeg", file_uri="https://example.com/a.jpg")),
        types.Part(
            file_data=types.FileData(mime_type="application/pdf", file_uri="https://example.com/a.pdf")
        ),
    ]
    got = hub(sent(types.Content(role="user", parts=parts)))["messages"]
    assert got == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare"},
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": base64.b64encode(b"\x89PNG").decode(),
                    },
                },
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
                },
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "héllo"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
            ],
        }
    ]


def test_sdk_count_tokens() -> None:
    sdk = GenaiRecorder([{"totalTokens": 7}])
    sdk.client.models.count_tokens(model="gemini-2.5-flash", contents="How many tokens?")
    assert sdk.requests[-1][0].endswith(":countTokens")
    assert gemini_count_tokens_request_to_anthropic(sdk.body, model=MODEL) == {
        "model": MODEL,
        "messages": [user("How many tokens?")],
    }


def test_count_tokens_with_a_whole_generate_content_request() -> None:
    body = {
        "generateContentRequest": {
            "model": "models/gemini-2.5-flash",
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "systemInstruction": {"parts": [{"text": "Terse."}]},
            "tools": [{"functionDeclarations": [{"name": "f"}]}],
            "generationConfig": {"maxOutputTokens": 5},
        }
    }
    assert gemini_count_tokens_request_to_anthropic(body, model=MODEL) == {
        "model": MODEL,
        "system": [{"type": "text", "text": "Terse."}],
        "messages": [user("Hi")],
        "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
    }


# ---- recorded requests ---------------------------------------------------------------------------


def test_recorded_text_request() -> None:
    assert hub(load_request("gemini", "generate.text")["body"]) == {
        "model": MODEL,
        "max_tokens": 4096,
        "system": [{"type": "text", "text": "You are a chatbot."}],
        "messages": [user("Hello!")],
    }


def test_recorded_tool_call_request_in_snake_case_with_one_tool_object() -> None:
    assert hub(load_request("gemini", "generate.tool_call")["body"]) == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [user("What is the capital of France?")],
        "tools": [
            {
                "name": "get_capital",
                "description": "Get the capital of a country.",
                "input_schema": {
                    "type": "object",
                    "properties": {"country": {"type": "string", "description": "The country name."}},
                    "required": ["country"],
                },
            }
        ],
    }


def test_recorded_image_request() -> None:
    body = load_request("gemini", "generate.image")["body"]
    data = body["contents"][0]["parts"][1]["inlineData"]["data"]
    assert hub(body) == {
        "model": MODEL,
        "max_tokens": 4096,
        "system": [{"type": "text", "text": "You are a helpful chatbot."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What fruit is in the image?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
                ],
            }
        ],
    }


# ---- mappings, table-tested ----------------------------------------------------------------------


def gen(**config: Any) -> dict[str, Any]:
    return hub({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": config})


@pytest.mark.parametrize(
    ("thinking", "expected", "max_tokens"),
    [
        ({"thinkingBudget": 0}, {"type": "disabled"}, 4096),
        ({"thinkingBudget": -1}, {"type": "enabled", "budget_tokens": 4096}, 8192),
        ({"thinkingBudget": 100}, {"type": "enabled", "budget_tokens": 1024}, 4096),
        (
            {"thinking_budget": 3000, "include_thoughts": True},
            {"type": "enabled", "budget_tokens": 3000},
            4096,
        ),
        ({"thinkingLevel": "HIGH"}, {"type": "enabled", "budget_tokens": 16384}, 20480),
        ({"thinkingLevel": "low"}, {"type": "enabled", "budget_tokens": 1024}, 4096),
        ({"includeThoughts": True}, None, 4096),
    ],
)
def test_thinking_config(thinking: dict[str, Any], expected: dict[str, Any] | None, max_tokens: int) -> None:
    got = gen(thinkingConfig=thinking)
    assert got.get("thinking") == expected and got["max_tokens"] == max_tokens


@pytest.mark.parametrize(
    ("config", "choice", "names"),
    [
        ({"mode": "AUTO"}, {"type": "auto"}, ["a", "b"]),
        ({"mode": "NONE"}, {"type": "none"}, ["a", "b"]),
        ({"mode": "ANY"}, {"type": "any"}, ["a", "b"]),
        ({"mode": "ANY", "allowedFunctionNames": ["b"]}, {"type": "tool", "name": "b"}, ["a", "b"]),
        ({"mode": "ANY", "allowed_function_names": ["a", "b"]}, {"type": "any"}, ["a", "b"]),
        ({"mode": "ANY", "allowedFunctionNames": ["a", "c"]}, {"type": "any"}, ["a", "c"]),
        ({"mode": "VALIDATED"}, {"type": "auto"}, ["a", "b"]),
        ({}, {"type": "auto"}, ["a", "b"]),
    ],
)
def test_function_calling_modes(config: dict[str, Any], choice: dict[str, Any], names: list[str]) -> None:
    body = {
        "contents": [{"parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}],
        "toolConfig": {"functionCallingConfig": config},
    }
    got = hub(body)
    assert got["tool_choice"] == choice
    kept = [t["name"] for t in got["tools"]]
    assert kept == (
        names
        if len(config.get("allowedFunctionNames", config.get("allowed_function_names", []))) > 1
        else ["a", "b", "c"]
    )


def test_vercel_ai_sdk_tool_results_with_parts() -> None:
    """The shape @ai-sdk/google sends (vercel/ai, packages/google/src/
    convert-to-google-generative-ai-messages.ts): `response: {name, content}`, images in the response's
    `parts` for Gemini 3, the validator sentinel."""
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Screenshot?"}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"id": "c1", "name": "shot", "args": {}},
                        "thoughtSignature": "skip_thought_signature_validator",
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "c1",
                            "name": "shot",
                            "response": {"name": "shot", "content": "Here it is."},
                            "parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}],
                        }
                    }
                ],
            },
        ]
    }
    notes: list[str] = []
    got = hub(body, notes)
    assert got["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "shot", "input": {}}]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "c1",
                    "content": [
                        {"type": "text", "text": "Here it is."},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                        },
                    ],
                }
            ],
        },
    ]
    assert notes == ["contents[1].parts[0].thoughtSignature ignored: a signature the gateway did not write"]


def test_search_tool_twice_is_one_server_tool() -> None:
    body = {
        "contents": [{"parts": [{"text": "x"}]}],
        "tools": [{"googleSearch": {}}, {"google_search_retrieval": {}}],
    }
    assert hub(body)["tools"] == [WEB_SEARCH_TOOL]


def test_consecutive_turns_of_one_role_merge_and_empty_texts_go() -> None:
    body = {
        "contents": [
            {"parts": [{"text": "a"}]},
            {"role": "user", "parts": [{"text": ""}, {"text": "b"}]},
            {"role": "model", "parts": [{"text": ""}]},
            {"role": "model", "parts": [{"text": "c"}]},
        ]
    }
    assert hub(body)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "c"}]},
    ]


def test_dropped_fields_are_noted() -> None:
    notes: list[str] = []
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "x"}]},
            {
                "role": "model",
                "parts": [
                    {"text": "mulling", "thought": True},
                    {"text": "y", "thoughtSignature": "CiQBcsjafQ=="},
                ],
            },
        ],
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {"seed": 3, "responseModalities": ["TEXT"], "candidateCount": 1},
        "somethingNew": 1,
    }
    got = hub(body, notes)
    assert got["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "y"}]}
    assert notes == [
        "contents[1].parts[1].thoughtSignature ignored: a signature the gateway did not write",
        "generationConfig.seed dropped: no equivalent outside Gemini",
        "safetySettings dropped: no equivalent outside Gemini",
        "somethingNew dropped: not a field the gateway translates",
    ]


def test_openapi_schema_refs_and_additional_properties() -> None:
    schema = {
        "type": "OBJECT",
        "defs": {"Node": {"type": "OBJECT", "properties": {"next": {"ref": "#/defs/Node"}}}},
        "properties": {
            "head": {"ref": "#/defs/Node"},
            "tags": {"type": "OBJECT", "additionalProperties": {"type": "STRING"}},
        },
        "additionalProperties": False,
    }
    assert to_json_schema(schema, "p") == {
        "type": "object",
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "properties": {
            "head": {"$ref": "#/$defs/Node"},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": False,
    }


def test_openapi_schema_conversion() -> None:
    schema = {
        "type": "OBJECT",
        "title": "Order",
        "propertyOrdering": ["items", "note"],
        "properties": {
            "items": {
                "type": "ARRAY",
                "items": {"type": "STRING", "enum": ["a", "b"]},
                "minItems": "1",
                "max_items": 3,
            },
            "note": {
                "anyOf": [{"type": "STRING", "maxLength": 10}, {"type": "NUMBER", "minimum": 0}],
                "nullable": True,
            },
            "when": {
                "type": "STRING",
                "format": "date-time",
                "example": "2026-01-01T00:00:00Z",
                "default": None,
            },
        },
        "required": ["items"],
    }
    assert to_json_schema(schema, "p") == {
        "type": "object",
        "title": "Order",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "string", "enum": ["a", "b"]},
                "minItems": 1,
                "maxItems": 3,
            },
            "note": {
                "anyOf": [
                    {"type": "string", "maxLength": 10},
                    {"type": "number", "minimum": 0},
                    {"type": "null"},
                ]
            },
            "when": {
                "type": "string",
                "format": "date-time",
                "examples": ["2026-01-01T00:00:00Z"],
                "default": None,
            },
        },
        "required": ["items"],
    }


# ---- 400s name the field ---------------------------------------------------------------------------

TEXT = {"role": "user", "parts": [{"text": "x"}]}
OURS_DAMAGED = base64.b64encode(b"llmgw1.{not json").decode()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"contents": {}}, "contents"),
        ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "contents[0].role"),
        ({"contents": [TEXT], "generationConfig": {"candidateCount": 2}}, "generationConfig.candidateCount"),
        (
            {"contents": [TEXT], "generationConfig": {"maxOutputTokens": 0}},
            "generationConfig.maxOutputTokens",
        ),
        (
            {"contents": [TEXT], "generationConfig": {"responseMimeType": "application/json"}},
            "generationConfig.responseMimeType",
        ),
        (
            {"contents": [TEXT], "generationConfig": {"responseMimeType": "text/x.enum"}},
            "generationConfig.responseMimeType",
        ),
        (
            {"contents": [TEXT], "generationConfig": {"responseModalities": ["IMAGE"]}},
            "generationConfig.responseModalities",
        ),
        (
            {"contents": [TEXT], "generationConfig": {"responseLogprobs": True}},
            "generationConfig.responseLogprobs",
        ),
        (
            {"contents": [TEXT], "generationConfig": {"presencePenalty": 0.5}},
            "generationConfig.presencePenalty",
        ),
        (
            {"contents": [TEXT], "generationConfig": {"frequency_penalty": -1}},
            "generationConfig.frequencyPenalty",
        ),
        (
            {"contents": [TEXT], "generationConfig": {"thinkingConfig": {"thinkingLevel": "huge"}}},
            "generationConfig.thinkingConfig.thinkingLevel",
        ),
        (
            {"contents": [TEXT], "generationConfig": {"thinkingConfig": {"thinkingBudget": -5}}},
            "generationConfig.thinkingConfig.thinkingBudget",
        ),
        ({"contents": [TEXT], "cachedContent": "cachedContents/1"}, "cachedContent"),
        ({"contents": [TEXT], "tools": [{"codeExecution": {}}]}, "tools[0].codeExecution"),
        ({"contents": [TEXT], "tools": [{"urlContext": {}}]}, "tools[0].urlContext"),
        ({"contents": [TEXT], "tools": [{"mcp_servers": [{}]}]}, "tools[0].mcp_servers"),
        (
            {"contents": [TEXT], "tools": [{"functionDeclarations": [], "enterpriseWebSearch": {}}]},
            "tools[0].enterpriseWebSearch",
        ),
        (
            {
                "contents": [TEXT],
                "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "STRING"}}]}],
            },
            "tools[0].functionDeclarations[0].parameters",
        ),
        (
            {
                "contents": [TEXT],
                "tools": [
                    {
                        "functionDeclarations": [
                            {
                                "name": "f",
                                "parameters": {
                                    "type": "OBJECT",
                                    "properties": {"a": {"type": "STRING", "oneOf": []}},
                                },
                            }
                        ]
                    }
                ],
            },
            "tools[0].functionDeclarations[0].parameters.properties.a.oneOf",
        ),
        (
            {
                "contents": [TEXT],
                "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "WORD"}}]}],
            },
            "tools[0].functionDeclarations[0].parameters.type",
        ),
        (
            {"contents": [TEXT], "tools": [{"functionDeclarations": [{"description": "no name"}]}]},
            "tools[0].functionDeclarations[0].name",
        ),
        (
            {
                "contents": [TEXT],
                "tools": [{"functionDeclarations": [{"name": "f"}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}},
            },
            "toolConfig.functionCallingConfig.allowedFunctionNames[0]",
        ),
        (
            {
                "contents": [TEXT],
                "tools": [{"functionDeclarations": [{"name": "f"}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}},
            },
            "toolConfig.functionCallingConfig.allowedFunctionNames",
        ),
        (
            {"contents": [TEXT], "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}},
            "toolConfig.functionCallingConfig.mode",
        ),
        (
            {
                "contents": [
                    {"parts": [{"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/a.png"}}]}
                ]
            },
            "contents[0].parts[0].fileData.fileUri",
        ),
        (
            {
                "contents": [
                    {
                        "parts": [
                            {
                                "fileData": {
                                    "mimeType": "application/pdf",
                                    "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc",
                                }
                            }
                        ]
                    }
                ]
            },
            "contents[0].parts[0].fileData.fileUri",
        ),
        (
            {
                "contents": [
                    {
                        "parts": [
                            {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/a.mp4"}}
                        ]
                    }
                ]
            },
            "contents[0].parts[0].fileData.mimeType",
        ),
        (
            {"contents": [{"parts": [{"inlineData": {"mimeType": "audio/wav", "data": "AAAA"}}]}]},
            "contents[0].parts[0].inlineData.mimeType",
        ),
        (
            {"contents": [{"parts": [{"inlineData": {"mimeType": "text/plain", "data": "%%%"}}]}]},
            "contents[0].parts[0].inlineData.data",
        ),
        (
            {"contents": [{"parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
            "contents[0].parts[0].functionResponse",
        ),
        (
            {
                "contents": [
                    {"role": "model", "parts": [{"executableCode": {"language": "PYTHON", "code": "1"}}]}
                ]
            },
            "contents[0].parts[0]",
        ),
        ({"contents": [{"parts": [{"functionCall": {"name": "f"}}]}]}, "contents[0].parts[0]"),
        (
            {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": []}}]}]},
            "contents[0].parts[0].functionCall.args",
        ),
        (
            {"contents": [{"role": "model", "parts": [{"text": "x", "thoughtSignature": OURS_DAMAGED}]}]},
            "contents[0].parts[0].thoughtSignature",
        ),
        (
            {"contents": [TEXT], "systemInstruction": {"parts": [{"inlineData": {}}]}},
            "systemInstruction.parts[0].text",
        ),
    ],
)
def test_a_request_that_cannot_be_carried_is_a_400_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        hub(body)
    assert caught.value.param == param and str(caught.value).startswith(param + ":")


def test_google_search_without_a_searching_target_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        hub({"contents": [TEXT], "tools": [{"googleSearch": {}}]}, web_search=False)
    assert caught.value.param == "tools[0].googleSearch"
