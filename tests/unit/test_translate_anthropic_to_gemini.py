"""Anthropic → Gemini requests (llmgw.translate.anthropic_to_gemini), against recorded traffic.

Expected values are written by hand from the recorded Gemini / Anthropic / OpenAI payloads in
`tests/fixtures/providers` and from the published API references, never from the translators'
own output.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from llmgw.errors import InvalidRequest
from llmgw.translate.anthropic_to_gemini import (
    anthropic_count_tokens_to_gemini,
    anthropic_request_to_gemini,
    gemini_model_name,
)
from llmgw.translate.gemini_to_anthropic import (
    PART_SIGNATURE_PREFIX,
    THOUGHT_SIGNATURE_PREFIX,
    gemini_response_to_anthropic,
)
from tests.support.fakes.fixtures import load_json
from tests.support.gemini_payloads import (
    SIGNED_ANSWER,
    TOOLU,
    openapi_to_json_schema,
    recorded_body,
    snake_to_camel,
    user,
)

# ---- requests: what real Gemini clients sent, from an Anthropic request of the same meaning ------


def test_text_request_matches_recorded_gemini_request() -> None:
    want = recorded_body("gemini", "generate.text")
    got = anthropic_request_to_gemini(
        {
            "model": "gemini-2.5-flash",
            "max_tokens": 256,
            "system": "You are a chatbot.",
            "messages": [user("Hello!")],
        }
    )
    assert got["contents"] == want["contents"]
    assert got["systemInstruction"] == {"parts": want["systemInstruction"]["parts"]}  # role is optional there
    assert got["generationConfig"] == {"maxOutputTokens": 256}


def test_temperature_request_matches_recorded_stream_request() -> None:
    want = recorded_body("gemini", "generate.stream_text")
    got = anthropic_request_to_gemini(
        {
            "model": "gemini-2.0-flash-exp",
            "max_tokens": 100,
            "stream": True,
            "temperature": 0.0,
            "system": [{"type": "text", "text": "You are a helpful chatbot."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}
            ],
        }
    )
    assert got["contents"] == want["contents"]
    assert got["systemInstruction"]["parts"] == want["systemInstruction"]["parts"]
    assert got["generationConfig"] == {"maxOutputTokens": 100, **want["generationConfig"]}
    assert "stream" not in got and "model" not in got


def test_base64_image_request_matches_recorded_gemini_request() -> None:
    want = recorded_body("gemini", "generate.image")
    data = want["contents"][0]["parts"][1]["inlineData"]["data"]
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 100,
            "system": "You are a helpful chatbot.",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What fruit is in the image?"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": data},
                        },
                    ],
                }
            ],
        }
    )
    assert got["contents"] == want["contents"]


def test_tool_declarations_say_what_the_recorded_openapi_parameters_say() -> None:
    want = recorded_body("gemini", "generate.stream_tool_call")
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 100,
            "system": "You are a helpful chatbot.",
            "messages": [user("What is the temperature of the capital of France?")],
            "tools": [
                {
                    "name": "get_capital",
                    "description": "Get the capital of a country.",
                    "input_schema": {
                        "type": "object",
                        "properties": {"country": {"type": "string", "description": "The country name."}},
                        "required": ["country"],
                    },
                },
                {
                    "name": "get_temperature",
                    "description": "Get the temperature in a city.",
                    "input_schema": {
                        "type": "object",
                        "properties": {"city": {"type": "string", "description": "The city name."}},
                        "required": ["city"],
                    },
                },
            ],
        }
    )
    assert got["contents"] == want["contents"]
    [recorded_tool] = want["tools"]
    assert got["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": d["name"],
                    "description": d["description"],
                    "parametersJsonSchema": openapi_to_json_schema(d["parameters"]),
                }
                for d in recorded_tool["functionDeclarations"]
            ]
        }
    ]
    assert "toolConfig" not in got


def test_tool_declaration_matches_recorded_json_schema_parameters() -> None:
    want = recorded_body("gemini", "generate.tool_call")
    [declaration] = want["tools"]["function_declarations"]
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 100,
            "messages": [user("What is the capital of France?")],
            "tools": [
                {
                    "name": "get_capital",
                    "description": "Get the capital of a country.",
                    "input_schema": declaration["parameters"],
                }
            ],
        }
    )
    assert got["contents"] == want["contents"]
    assert got["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == declaration["parameters"]


def test_gemini3_tool_round_trip_matches_recorded_request() -> None:
    """pydantic-ai's Gemini 3 request: a signed call with an id, its response with images."""
    want = snake_to_camel(recorded_body("gemini", "generate.error_400"))
    prompt, call, tool_turn = want["contents"]
    signature = call["parts"][0]["thoughtSignature"]
    call_id = call["parts"][0]["functionCall"]["id"]
    jpeg = tool_turn["parts"][0]["functionResponse"]["parts"][0]["inlineData"]["data"]
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 1024,
            "messages": [
                user(prompt["parts"][0]["text"]),
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "", "signature": PART_SIGNATURE_PREFIX + signature},
                        {"type": "tool_use", "id": call_id, "name": "get_images", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": call_id,
                            "content": [
                                {
                                    "type": "image",
                                    "source": {"type": "base64", "media_type": "image/jpeg", "data": jpeg},
                                },
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "url",
                                        "url": "https://www.gstatic.com/webp/gallery3/1.png",
                                    },
                                },
                            ],
                        }
                    ],
                },
            ],
            "tools": [
                {
                    "name": "get_images",
                    "description": "",
                    "input_schema": {"additionalProperties": False, "properties": {}, "type": "object"},
                }
            ],
        }
    )
    assert got["tools"] == want["tools"]
    assert got["contents"][:2] == [prompt, call]
    # Our one documented difference: the images follow the functionResponse instead of nesting in it.
    response = tool_turn["parts"][0]["functionResponse"]
    assert got["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"id": call_id, "name": "get_images", "response": {}}},
            *response["parts"],
        ],
    }


def test_recorded_anthropic_tool_request() -> None:
    body = recorded_body("anthropic", "messages.tool_call")
    got = anthropic_request_to_gemini(body)
    assert got == {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "Alice, Bob, Charlie and Daisy are a family. Who is the youngest?"}],
            }
        ],
        "systemInstruction": {"parts": [{"text": body["system"]}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "retrieve_entity_info",
                        "description": "Get the knowledge about the given entity.",
                        "parametersJsonSchema": {
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}},
                            "required": ["name"],
                            "type": "object",
                        },
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {"maxOutputTokens": 4096},
    }


def test_recorded_anthropic_image_url_request() -> None:
    got = anthropic_request_to_gemini(recorded_body("anthropic", "messages.image"))
    assert got["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "What is this vegetable?"},
                {
                    "fileData": {
                        "mimeType": "image/jpeg",
                        "fileUri": "https://t3.ftcdn.net/jpg/00/85/79/92/360_F_85799278_0BBGV9OAdQDTLnKwAPBCcg1J7QtiieJY.jpg",
                    }
                },
            ],
        }
    ]


def test_recorded_anthropic_thinking_request() -> None:
    got = anthropic_request_to_gemini(recorded_body("anthropic", "messages.stream_thinking"))
    assert got == {
        "contents": [{"role": "user", "parts": [{"text": "Two names for a pet pelican, be brief"}]}],
        "generationConfig": {
            "maxOutputTokens": 8192,
            "temperature": 1.0,
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
        },
    }


def test_sampling_fields() -> None:
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 10,
            "messages": [user("hi")],
            "top_p": 0.9,
            "top_k": 40,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u1"},
            "service_tier": "auto",
            "cache_control": {"type": "ephemeral"},
        }
    )
    assert got["generationConfig"] == {
        "maxOutputTokens": 10,
        "topP": 0.9,
        "topK": 40,
        "stopSequences": ["END"],
    }
    assert set(got) == {"contents", "generationConfig"}


# ---- multi-turn tool use and thinking ------------------------------------------------------------

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "input_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
TIME_TOOL = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}


def test_parallel_calls_keep_ids_and_names_paired() -> None:
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 100,
            "tools": [WEATHER_TOOL, TIME_TOOL],
            "messages": [
                user("Weather in Paris and Rome, and the time?"),
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        },
                        {
                            "type": "tool_use",
                            "id": "toolu_2",
                            "name": "get_weather",
                            "input": {"city": "Rome"},
                        },
                        {"type": "tool_use", "id": "toolu_3", "name": "get_time", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_3", "content": "12:00"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_2",
                            "content": [{"type": "text", "text": "18C"}],
                        },
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": "no data",
                            "is_error": True,
                        },
                        {"type": "text", "text": "Be brief."},
                    ],
                },
                {"role": "assistant", "content": "Paris: unknown, Rome: 18C, 12:00."},
            ],
        }
    )
    assert got["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {"text": "Checking."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "toolu_1"}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}, "id": "toolu_2"}},
                {"functionCall": {"name": "get_time", "args": {}, "id": "toolu_3"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": "toolu_3", "name": "get_time", "response": {"output": "12:00"}}},
                {"functionResponse": {"id": "toolu_2", "name": "get_weather", "response": {"output": "18C"}}},
                {
                    "functionResponse": {
                        "id": "toolu_1",
                        "name": "get_weather",
                        "response": {"error": "no data"},
                    }
                },
                {"text": "Be brief."},
            ],
        },
        {"role": "model", "parts": [{"text": "Paris: unknown, Rome: 18C, 12:00."}]},
    ]
    weather = got["tools"][0]["functionDeclarations"][0]
    assert "$schema" not in weather["parametersJsonSchema"]
    assert weather["parametersJsonSchema"]["additionalProperties"] is False
    assert got["tools"][0]["functionDeclarations"][1] == {
        "name": "get_time",
        "parametersJsonSchema": {"type": "object", "properties": {}},
    }


def test_signed_parts_come_back_exactly_as_gemini_sent_them() -> None:
    message = gemini_response_to_anthropic(SIGNED_ANSWER, model="gemini-3-pro")
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 100,
            "tools": [WEATHER_TOOL],
            "messages": [
                user("Weather in Paris and Rome?"),
                {"role": "assistant", "content": message["content"]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "c1", "content": "21C"},
                        {"type": "tool_result", "tool_use_id": "c2", "content": "18C"},
                    ],
                },
            ],
        }
    )
    assert got["contents"][1] == SIGNED_ANSWER["candidates"][0]["content"]
    assert [p["functionResponse"]["id"] for p in got["contents"][2]["parts"]] == ["c1", "c2"]


def test_calls_without_ids_get_generated_ids_that_pair_on_the_way_back() -> None:
    answer = load_json("gemini", "generate.tool_call")
    message = gemini_response_to_anthropic(answer, model="gemini-2.0-flash-exp")
    [call] = message["content"]
    assert TOOLU.match(call["id"])
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 100,
            "messages": [
                user("What is the capital of France?"),
                {"role": "assistant", "content": message["content"]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "Paris"}],
                },
            ],
        }
    )
    assert got["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "get_capital", "args": {"country": "France"}, "id": call["id"]}}
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": call["id"],
                        "name": "get_capital",
                        "response": {"output": "Paris"},
                    }
                }
            ],
        },
    ]


def test_signature_carriers_rebuild_empty_signed_text_parts() -> None:
    sig = PART_SIGNATURE_PREFIX
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 10,
            "messages": [
                user("hi"),
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "", "signature": sig + "A"},
                        {"type": "thinking", "thinking": "", "signature": sig + "B"},
                        {"type": "thinking", "thinking": "plan", "signature": THOUGHT_SIGNATURE_PREFIX + "T"},
                        {"type": "text", "text": "Hello"},
                        {"type": "thinking", "thinking": "", "signature": sig + "C"},
                    ],
                },
            ],
        }
    )
    assert got["contents"][1]["parts"] == [
        {"text": "", "thoughtSignature": "A"},
        {"text": "", "thoughtSignature": "B"},
        {"text": "plan", "thought": True, "thoughtSignature": "T"},
        {"text": "Hello"},
        {"text": "", "thoughtSignature": "C"},
    ]


def test_other_providers_reasoning_is_dropped() -> None:
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 10,
            "messages": [
                user("hi"),
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "thinking",
                            "thinking": "Claude's thoughts",
                            "signature": "EqQBCkgIARABGAIiQ...",
                        },
                        {"type": "redacted_thinking", "data": "EmwKAhgBEgy..."},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "x"}, {"type": "text", "text": "Hi!"}],
                },
                {"role": "user", "content": ""},
                {"role": "user", "content": []},
            ],
        }
    )
    assert got["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "Hi!"}]},
    ]


def test_consecutive_same_role_messages_are_merged() -> None:
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 10,
            "messages": [
                user("first"),
                user("second"),
                {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]},
                user("third"),
                {"role": "assistant", "content": "A"},
                {"role": "assistant", "content": [{"type": "text", "text": "B"}]},
            ],
        }
    )
    assert got["contents"] == [
        {"role": "user", "parts": [{"text": "first"}, {"text": "second"}, {"text": "third"}]},
        {"role": "model", "parts": [{"text": "A"}, {"text": "B"}]},
    ]


# ---- requests: content mappings and choices ------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "part"),
    [
        (
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a/b.PNG?size=2#top"}},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a/b.PNG?size=2#top"}},
        ),
        (
            {"type": "image", "source": {"type": "url", "url": "https://x.test/cat.webp"}},
            {"fileData": {"mimeType": "image/webp", "fileUri": "https://x.test/cat.webp"}},
        ),
        (
            {"type": "image", "source": {"type": "url", "url": "data:image/gif;base64,R0lGOD"}},
            {"inlineData": {"mimeType": "image/gif", "data": "R0lGOD"}},
        ),
        (
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0"},
            },
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0"}},
        ),
        (
            {"type": "document", "source": {"type": "url", "url": "https://x.test/paper.pdf"}},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "https://x.test/paper.pdf"}},
        ),
        (
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "plain words"},
            },
            {"text": "plain words"},
        ),
        ({"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}}, {"text": "cached"}),
    ],
)
def test_user_content_blocks(block: dict[str, Any], part: dict[str, Any]) -> None:
    got = anthropic_request_to_gemini({"max_tokens": 1, "messages": [{"role": "user", "content": [block]}]})
    assert got["contents"] == [{"role": "user", "parts": [part]}]


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ({"type": "auto"}, {"mode": "AUTO"}),
        ({"type": "any", "disable_parallel_tool_use": True}, {"mode": "ANY"}),
        ({"type": "none"}, {"mode": "NONE"}),
        ({"type": "tool", "name": "get_time"}, {"mode": "ANY", "allowedFunctionNames": ["get_time"]}),
    ],
)
def test_tool_choice(choice: dict[str, Any], config: dict[str, Any]) -> None:
    body = {
        "max_tokens": 1,
        "messages": [user("hi")],
        "tools": [WEATHER_TOOL, TIME_TOOL],
        "tool_choice": choice,
    }
    assert anthropic_request_to_gemini(body)["toolConfig"] == {"functionCallingConfig": config}


WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def test_web_search_becomes_google_search() -> None:
    # Gemini's reference: Tool.googleSearch (GoogleSearch: excludeDomains and blockingConfidence are
    # "not supported in Gemini API"), beside functionDeclarations in `tools`
    notes: list[str] = []
    search = {**WEB_SEARCH, "max_uses": 3, "user_location": {"type": "approximate", "country": "NL"}}
    body = {
        "max_tokens": 1,
        "messages": [user("hi")],
        "tools": [WEATHER_TOOL, search],
        "tool_choice": {"type": "auto"},
    }
    got = anthropic_request_to_gemini(body, notes=notes)
    assert got["tools"][1:] == [{"googleSearch": {}}]
    assert [d["name"] for d in got["tools"][0]["functionDeclarations"]] == [WEATHER_TOOL["name"]]
    assert got["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert notes == [
        "tools[1].max_uses dropped: Gemini's Google Search takes no such option",
        "tools[1].user_location dropped: Gemini's Google Search takes no such option",
    ]
    alone = anthropic_request_to_gemini({"max_tokens": 1, "messages": [user("hi")], "tools": [WEB_SEARCH]})
    assert alone["tools"] == [{"googleSearch": {}}] and "toolConfig" not in alone


@pytest.mark.parametrize("choice", [{"type": "auto"}, {"type": "none"}])
def test_tool_choice_without_tools_configures_nothing(choice: dict[str, Any]) -> None:
    body = {"max_tokens": 1, "messages": [user("hi")], "tools": [], "tool_choice": choice}
    assert set(anthropic_request_to_gemini(body)) == {"contents", "generationConfig"}


@pytest.mark.parametrize(
    ("thinking", "config"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, {"thinkingBudget": 2048, "includeThoughts": True}),
        (
            {"type": "enabled", "budget_tokens": 2048, "display": "omitted"},
            {"thinkingBudget": 2048, "includeThoughts": False},
        ),
        ({"type": "adaptive"}, {"includeThoughts": True}),
        ({"type": "disabled"}, None),
    ],
)
def test_thinking(thinking: dict[str, Any], config: dict[str, Any] | None) -> None:
    got = anthropic_request_to_gemini({"max_tokens": 4096, "messages": [user("hi")], "thinking": thinking})
    assert got["generationConfig"].get("thinkingConfig") == config


def test_json_output_format() -> None:
    schema = {"$schema": "x", "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    got = anthropic_request_to_gemini(
        {
            "max_tokens": 50,
            "messages": [user("Give me a")],
            "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": schema}},
        }
    )
    assert got["generationConfig"] == {
        "maxOutputTokens": 50,
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
    }
    effort_only = {"max_tokens": 50, "messages": [user("hi")], "output_config": {"effort": "high"}}
    assert anthropic_request_to_gemini(effort_only)["generationConfig"] == {"maxOutputTokens": 50}


def test_translation_does_not_mutate_the_request() -> None:
    body = recorded_body("anthropic", "messages.tool_call")
    before = copy.deepcopy(body)
    anthropic_request_to_gemini(body)
    assert body == before


def _msg(*content: Any, role: str = "user") -> dict[str, Any]:
    return {"role": role, "content": list(content)}


def _url(url: str, kind: str = "image") -> dict[str, Any]:
    return {"type": kind, "source": {"type": "url", "url": url}}


TOOL_USE = {"type": "tool_use", "id": "t1", "name": "get_time", "input": {}}
BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"messages": "hi"}, "messages"),
    ({"messages": ["hi"]}, "messages[0]"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ({"messages": [_msg("hi")]}, "messages[0].content[0]"),
    ({"messages": [_msg({"type": "audio"})]}, "messages[0].content[0].type"),
    ({"messages": [_msg({"type": "text", "text": None})]}, "messages[0].content[0].text"),
    (
        {"messages": [user("hi"), _msg({"type": "server_tool_use"}, role="assistant")]},
        "messages[1].content[0].type",
    ),
    ({"messages": [_msg(TOOL_USE)]}, "messages[0].content[0].type"),
    ({"messages": [_msg(_url("https://x.test/a.png"), role="assistant")]}, "messages[0].content[0].type"),
    (
        {"messages": [_msg({"type": "tool_result", "tool_use_id": "t1"}, role="assistant")]},
        "messages[0].content[0].type",
    ),
    (
        {"messages": [_msg({"type": "thinking", "thinking": "x", "signature": "s"})]},
        "messages[0].content[0].type",
    ),
    (
        {"messages": [_msg({"type": "tool_result", "tool_use_id": "nope", "content": "x"})]},
        "messages[0].content[0].tool_use_id",
    ),
    (
        {
            "messages": [
                _msg(TOOL_USE, role="assistant"),
                _msg({"type": "tool_result", "tool_use_id": "t1", "content": 5}),
            ]
        },
        "messages[1].content[0].content",
    ),
    (
        {
            "messages": [
                _msg(TOOL_USE, role="assistant"),
                _msg({"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "search_result"}]}),
            ]
        },
        "messages[1].content[0].content[0].type",
    ),
    (
        {
            "messages": [
                _msg(TOOL_USE, role="assistant"),
                _msg({"type": "tool_result", "tool_use_id": "t1", "content": [_url("https://x.test/y")]}),
            ]
        },
        "messages[1].content[0].content[0].source.url",
    ),
    ({"messages": [_msg({**TOOL_USE, "input": "{}"}, role="assistant")]}, "messages[0].content[0].input"),
    ({"messages": [_msg({**TOOL_USE, "id": None}, role="assistant")]}, "messages[0].content[0].id"),
    ({"messages": [_msg({"type": "image", "source": "x"})]}, "messages[0].content[0].source"),
    (
        {"messages": [_msg({"type": "image", "source": {"type": "file", "file_id": "f"}})]},
        "messages[0].content[0].source.type",
    ),
    (
        {"messages": [_msg({"type": "image", "source": {"type": "text", "data": "x"}})]},
        "messages[0].content[0].source.type",
    ),
    (
        {"messages": [_msg({"type": "image", "source": {"type": "base64", "data": "x"}})]},
        "messages[0].content[0].source.media_type",
    ),
    ({"messages": [_msg(_url("https://x.test/photo"))]}, "messages[0].content[0].source.url"),
    ({"messages": [_msg(_url("https://x.test/doc.docx", "document"))]}, "messages[0].content[0].source.url"),
    ({"messages": [_msg(_url("https://x.test/pic.pdf"))]}, "messages[0].content[0].source.url"),
    ({"messages": [_msg(_url("data:image/png,rawbytes"))]}, "messages[0].content[0].source.url"),
    ({"messages": [_msg(_url("data:;base64,AAAA"))]}, "messages[0].content[0].source.url"),
    ({"messages": [], "system": 7}, "system"),
    ({"messages": [], "system": [{"type": "image"}]}, "system[0].type"),
    ({"messages": [], "system": ["text"]}, "system[0].type"),
    ({"messages": [], "tools": {"name": "x"}}, "tools"),
    ({"messages": [], "tools": ["x"]}, "tools[0]"),
    ({"messages": [], "tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools[0].type"),
    ({"messages": [], "tools": [{**WEB_SEARCH, "allowed_domains": ["x.test"]}]}, "tools[0].allowed_domains"),
    ({"messages": [], "tools": [{**WEB_SEARCH, "blocked_domains": ["x.test"]}]}, "tools[0].blocked_domains"),
    ({"messages": [], "tools": [{"type": "web_search_20250305"}]}, "tools[0].name"),
    (
        {"messages": [], "tools": [WEB_SEARCH], "tool_choice": {"type": "tool", "name": "web_search"}},
        "tool_choice.name",
    ),
    ({"messages": [], "tools": [{"name": "x"}]}, "tools[0].input_schema"),
    ({"messages": [], "tools": [{"input_schema": {}}]}, "tools[0].name"),
    (
        {"messages": [], "tools": [{"name": "x", "description": 1, "input_schema": {}}]},
        "tools[0].description",
    ),
    ({"messages": [], "tool_choice": "auto"}, "tool_choice"),
    ({"messages": [], "tool_choice": {"type": "required"}}, "tool_choice.type"),
    ({"messages": [], "tool_choice": {"type": "any"}}, "tool_choice"),
    (
        {"messages": [], "tools": [TIME_TOOL], "tool_choice": {"type": "tool", "name": "other"}},
        "tool_choice.name",
    ),
    ({"messages": [], "tools": [TIME_TOOL], "tool_choice": {"type": "tool"}}, "tool_choice.name"),
    ({"messages": [], "thinking": True}, "thinking"),
    ({"messages": [], "thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
    ({"messages": [], "thinking": {"type": "enabled", "budget_tokens": True}}, "thinking.budget_tokens"),
    ({"messages": [], "thinking": {"type": "on"}}, "thinking.type"),
    ({"messages": [], "output_config": "json"}, "output_config"),
    ({"messages": [], "output_config": {"format": {"type": "text"}}}, "output_config.format.type"),
    ({"messages": [], "output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema"),
    (
        {"messages": [], "mcp_servers": [{"type": "url", "url": "https://mcp.test", "name": "m"}]},
        "mcp_servers",
    ),
    ({"messages": [], "container": "container_1"}, "container"),
]


@pytest.mark.parametrize(("body", "param"), BAD_REQUESTS, ids=[p for _, p in BAD_REQUESTS])
def test_requests_gemini_cannot_take_are_400s_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        anthropic_request_to_gemini({"max_tokens": 1, **body})
    assert caught.value.status == 400
    assert caught.value.param == param
    assert caught.value.message.startswith(f"{param}: ")


# ---- count_tokens --------------------------------------------------------------------------------


def test_count_tokens_request_matches_recorded_and_keeps_system_and_tools() -> None:
    want = recorded_body("gemini", "count_tokens.default")
    got = anthropic_count_tokens_to_gemini(
        {"model": "x", "messages": [user("Hello, world!")]}, model="gemini-embedding-2-preview"
    )
    assert got == {
        "generateContentRequest": {"model": "models/gemini-embedding-2-preview", "contents": want["contents"]}
    }
    body = recorded_body("anthropic", "count_tokens.default")
    request = anthropic_count_tokens_to_gemini(
        {**body, "tools": [TIME_TOOL]}, model="models/gemini-2.5-flash"
    )["generateContentRequest"]
    assert request["model"] == "models/gemini-2.5-flash"
    assert request["systemInstruction"] == {"parts": [{"text": "You are a helpful assistant."}]}
    assert request["tools"][0]["functionDeclarations"][0]["name"] == "get_time"
    assert request["contents"] == [
        {"role": "user", "parts": [{"text": body["messages"][0]["content"][0]["text"]}]}
    ]


def test_model_name() -> None:
    assert gemini_model_name("gemini-2.5-flash") == gemini_model_name("models/gemini-2.5-flash")
