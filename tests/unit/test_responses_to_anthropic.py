"""Responses API → Anthropic (the hub): requests (llmgw.translate.responses_to_anthropic, responses_tools).

Expected payloads are written by hand from the OpenAI reference (the OpenAPI document's `CreateResponse`,
`InputItem`, `Tool`), Anthropic's and the recorded traffic (tests/fixtures/providers, and request bodies
of pydantic/pydantic-ai's Responses cassettes, MIT, quoted below with their path and commit), never taken
from the translator's own output. Every produced request passes the Anthropic SDK's request type.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from llmgw.errors import InvalidRequest
from llmgw.translate.anthropic_to_gemini import anthropic_request_to_gemini
from llmgw.translate.anthropic_to_openai import anthropic_request_to_openai
from llmgw.translate.encrypted_reasoning import encode_reasoning
from llmgw.translate.responses_to_anthropic import (
    ClientTool,
    HubRequest,
    effort_budget,
    responses_request_to_anthropic,
)
from tests.support.fakes.fixtures import load_manifest, load_request
from tests.support.openai_anthropic_payloads import (
    ANTHROPIC_REQUEST,
    PDF,
    PNG,
    SAMPLING,
    assert_valid,
    assistant,
    text,
    tool_result,
    tool_use,
    user,
)
from tests.support.responses_schema import validate_request

JSON = dict[str, Any]
HI = {"role": "user", "content": "hi"}
GET_CAPITAL = {
    "type": "function",
    "name": "get_capital",
    "description": "",
    "parameters": {
        "additionalProperties": False,
        "properties": {"country": {"type": "string"}},
        "required": ["country"],
        "type": "object",
    },
    "strict": True,
}
CAPITAL_SCHEMA = GET_CAPITAL["parameters"]
FILE_SEARCH = {"type": "file_search", "vector_store_ids": ["vs_1"]}
CUSTOM_SCHEMA = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
THINKING = {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCkYIBRgCKkA"}


def rq(*items: Any, **fields: Any) -> JSON:
    """A Responses request body."""
    return {"model": "m", "input": list(items), **fields}


def to_hub(
    body: JSON, *, web_search: bool = True, notes: list[str] | None = None, valid: bool = True, **kw: Any
) -> HubRequest:
    """The translation of `body`, which is a valid CreateResponse (checked) unless `valid=False`."""
    if valid:
        validate_request(body)
    hub = responses_request_to_anthropic(body, default_max_tokens=kw.pop("default_max_tokens", 4096),
                                         web_search=web_search, notes=notes)  # fmt: skip
    assert_valid(ANTHROPIC_REQUEST, {k: v for k, v in hub.body.items() if k not in SAMPLING})
    return hub


def hub_body(body: JSON, **kw: Any) -> JSON:
    return to_hub(body, **kw).body


# --- recorded requests -----------------------------------------------------------------------------


def test_recorded_text_request() -> None:
    hub = to_hub(load_request("openai", "responses.text")["body"])
    assert hub.body == {
        "model": "gpt-4o",
        "messages": [user(text("What is the capital of France?"))],
        "max_tokens": 4096,
        "stream": False,
    }
    assert hub.tools == {} and hub.left_out == ()


def test_recorded_function_call_round_trip() -> None:
    body = load_request("openai", "responses.stream_text")["body"]
    call_id = "fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2"
    hub = to_hub(body, default_max_tokens=1000)
    assert hub.body == {
        "model": "gpt-4o",
        "messages": [
            user(text("What is the capital of France?")),
            assistant(tool_use(call_id, "get_capital", {"country": "France"})),
            user(tool_result(call_id, "Paris")),
        ],
        "max_tokens": 1000,
        "stream": True,
        "tools": [{"name": "get_capital", "description": "", "input_schema": CAPITAL_SCHEMA, "strict": True}],
        "tool_choice": {"type": "auto"},
    }  # `instructions: ""` says nothing: no system prompt
    assert hub.tools == {"get_capital": ClientTool("get_capital", "function")}


def test_recorded_image_request() -> None:
    body = load_request("openai", "responses.image")["body"]  # its base64 is elided in the recording
    body["input"][0]["content"][1]["image_url"] = f"data:image/png;base64,{PNG}"
    assert hub_body(body)["messages"] == [
        user(
            text("What fruit is in the image?"),
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        )
    ]


RECORDED = "openai/responses"  # requests OpenAI answered (their answers: tests/fixtures/providers/README.md)
RECORDED_CASES = [
    case
    for case, entry in load_manifest(RECORDED)["cases"].items()
    if case.startswith("create.") and entry.get("status", 200) == 200
]


@pytest.mark.parametrize("case", RECORDED_CASES)
def test_every_recorded_request_translates(case: str) -> None:
    body = load_request(RECORDED, case)["body"]
    if case == "create.previous_response_tool_output":
        # it answers a call of the stored response it continues: the relay puts that response's items
        # first; alone, the output answers no call
        with pytest.raises(InvalidRequest) as err:
            responses_request_to_anthropic(body, default_max_tokens=100, web_search=True)
        assert err.value.param == "input[0].call_id"
        return
    hub = to_hub(body)
    assert hub.body["messages"][0]["role"] == "user"
    assert hub.left_out == ()


def test_recorded_structured_output_after_a_tool_call() -> None:
    hub = to_hub(load_request(RECORDED, "create.json_schema")["body"])
    call_id = "call_tTAThu8l2S9hNky2krdwijGP"
    schema = {
        "additionalProperties": False,
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
        "type": "object",
    }
    assert hub.body == {
        "model": "gpt-4o",
        "messages": [
            user(text("What is the largest city in the user country?")),
            assistant(tool_use(call_id, "get_user_country", {})),  # its empty text is no block
            user(tool_result(call_id, "Mexico")),
        ],
        "max_tokens": 4096,
        "stream": False,
        "tools": [
            {
                "name": "get_user_country",
                "description": "",
                "input_schema": {"additionalProperties": False, "properties": {}, "type": "object"},
            }
        ],
        "tool_choice": {"type": "auto"},
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }


# pydantic/pydantic-ai tests/models/cassettes/test_openai_responses/test_gpt5_lark_grammar_sql_tool.yaml
# (commit d119a87176a8342c58c3b1baa42263f58210b82e), interaction 1's request; OpenAI's encrypted
# reasoning content shortened.
LARK = (
    '\n    start: select_stmt\n    select_stmt: "SELECT" columns "FROM" table\n    columns: "*" |'
    ' WORD ("," WORD)*\n    table: WORD\n    %import common.WORD\n    %import common.WS\n    %ignore WS\n    '
)
RECORDED_CUSTOM_TOOL = {
    "include": ["reasoning.encrypted_content"],
    "input": [
        {"content": "Get all data from the users table", "role": "user"},
        {
            "encrypted_content": "gAAAAABpVw--FRzGLuYKp6IbtWu45tkZ79St7I8yQGGZuOo1Og2EpJTK9rI01D9fPMdu",
            "id": "rs_0136e8c220478b070069570fbb294c81918125881e701ca63c",
            "summary": [],
            "type": "reasoning",
        },
        {
            "call_id": "call_hR80aw24wWb4MTIIVyoHMbLI",
            "id": "ctc_0136e8c220478b070069570fbdbe388191a87d002f6b984987",
            "input": '{"query":"SELECT * FROM users"}',
            "name": "run_sql",
            "type": "custom_tool_call",
        },
        {
            "call_id": "call_hR80aw24wWb4MTIIVyoHMbLI",
            "output": "Executed successfully: 5 rows",
            "type": "custom_tool_call_output",
        },
    ],
    "model": "gpt-5",
    "stream": False,
    "tool_choice": "auto",
    "tools": [
        {
            "description": "Execute a constrained SQL SELECT query.",
            "format": {"definition": LARK, "syntax": "lark", "type": "grammar"},
            "name": "run_sql",
            "type": "custom",
        }
    ],
}


def test_recorded_custom_tool_with_a_grammar_and_openai_reasoning() -> None:
    notes: list[str] = []
    hub = to_hub(RECORDED_CUSTOM_TOOL, notes=notes)
    call_id = "call_hR80aw24wWb4MTIIVyoHMbLI"
    assert hub.body == {
        "model": "gpt-5",
        "messages": [
            user(text("Get all data from the users table")),
            assistant(tool_use(call_id, "run_sql", {"input": '{"query":"SELECT * FROM users"}'})),
            user(tool_result(call_id, "Executed successfully: 5 rows")),
        ],
        "max_tokens": 4096,
        "stream": False,
        "tools": [
            {
                "name": "run_sql",
                "description": "Execute a constrained SQL SELECT query.\n\n"
                f"The input must follow this lark grammar:\n{LARK}",
                "input_schema": CUSTOM_SCHEMA,
            }
        ],
        "tool_choice": {"type": "auto"},
    }
    assert hub.tools == {"run_sql": ClientTool("run_sql", "custom")}
    assert notes == ["input[1] dropped: a reasoning item without the gateway's encrypted_content"]


# pydantic/pydantic-ai tests/models/cassettes/test_openai_responses/
# test_openai_responses_model_web_search_tool_with_user_location.yaml (commit
# f077d56ce09d88b03c046985161230fad796aa0d), the request.
RECORDED_WEB_SEARCH = {
    "include": ["reasoning.encrypted_content"],
    "input": [{"content": "What is the weather?", "role": "user"}],
    "instructions": "You are a helpful assistant.",
    "model": "gpt-5",
    "previous_response_id": None,
    "stream": False,
    "tool_choice": "auto",
    "tools": [
        {
            "search_context_size": "medium",
            "type": "web_search",
            "user_location": {"city": "Utrecht", "region": "NL", "type": "approximate"},
        }
    ],
}


def test_recorded_web_search_becomes_anthropics_server_tool() -> None:
    hub = to_hub(RECORDED_WEB_SEARCH)
    assert hub.body == {
        "model": "gpt-5",
        "system": "You are a helpful assistant.",
        "messages": [user(text("What is the weather?"))],
        "max_tokens": 4096,
        "stream": False,
        "tools": [
            {
                "type": "web_search_20250305",
                "name": "web_search",
                "user_location": {"type": "approximate", "city": "Utrecht", "region": "NL"},
            }
        ],
        "tool_choice": {"type": "auto"},
    }
    assert hub.tools == {} and hub.left_out == ()


def test_web_search_reaches_gemini_as_google_search_and_is_left_out_for_chat_completions() -> None:
    notes: list[str] = []
    gemini = anthropic_request_to_gemini(to_hub(RECORDED_WEB_SEARCH).body, notes=notes)
    assert gemini["tools"] == [{"googleSearch": {}}]
    assert notes == ["tools[0].user_location dropped: Gemini's Google Search takes no such option"]
    hub = to_hub(RECORDED_WEB_SEARCH, web_search=False)
    assert "tools" not in hub.body and "tool_choice" not in hub.body  # auto without a tool means nothing
    assert hub.left_out == ("web_search",)
    assert "tools" not in anthropic_request_to_openai(hub.body)  # it never reaches the chat translator


# --- input items ------------------------------------------------------------------------------------


def test_a_string_input_is_one_user_message() -> None:
    assert hub_body({"model": "m", "input": "Hello"})["messages"] == [user(text("Hello"))]


def test_messages_with_and_without_type_and_roles() -> None:
    body = rq(
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [{"type": "input_text", "text": "Hi"}, {"type": "input_text", "text": " "}],
        },
        {"role": "user", "content": "again"},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "status": "completed",
            "phase": "final_answer",
            "content": [
                {"type": "output_text", "text": "Hello.", "annotations": [], "logprobs": []},
                {"type": "refusal", "refusal": "I won't."},
            ],
        },
        {"role": "assistant", "content": "Plain."},
        {"role": "system", "content": "Later rule."},
        {"role": "user", "content": [{"type": "input_text", "text": "Bye"}]},
        instructions="You are terse.",
    )
    out = hub_body(body)
    assert out["system"] == [text("You are terse."), text("Be brief."), text("Later rule.")]
    assert out["messages"] == [
        user(text("Hi"), text("again")),
        assistant(text("Hello."), text("I won't."), text("Plain.")),
        user(text("Bye")),
    ]


def test_one_plain_instruction_is_a_string_and_cache_breakpoints_make_blocks() -> None:
    assert hub_body(rq(HI, instructions="Be brief."))["system"] == "Be brief."
    marked = {"type": "input_text", "text": "Rules.", "prompt_cache_breakpoint": {"mode": "explicit"}}
    out = hub_body(rq({"role": "system", "content": [marked]}, HI))
    assert out["system"] == [{"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}]


def test_images_and_files() -> None:
    url = "https://example.com/cat.png"
    parts = [
        {"type": "input_image", "image_url": url, "detail": "high"},
        {
            "type": "input_image",
            "image_url": f"data:image/png;base64,{PNG}",
            "detail": "auto",
            "file_id": None,
        },
        {"type": "input_file", "filename": "paper.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
        {"type": "input_file", "file_url": "https://example.com/paper.pdf", "filename": "paper.pdf"},
        {"type": "input_file", "file_url": "https://example.com/other.pdf"},
    ]
    assert hub_body(rq({"role": "user", "content": parts}))["messages"] == [
        user(
            {"type": "image", "source": {"type": "url", "url": url}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                "title": "paper.pdf",
            },
            {
                "type": "document",
                "source": {"type": "url", "url": "https://example.com/paper.pdf"},
                "title": "paper.pdf",
            },
            {"type": "document", "source": {"type": "url", "url": "https://example.com/other.pdf"}},
        )
    ]


def test_calls_and_outputs_group_into_alternating_turns() -> None:
    body = rq(
        HI,
        {"type": "function_call", "call_id": "c1", "name": "get_capital", "arguments": '{"country":"FR"}'},
        {"type": "function_call", "call_id": "c2", "name": "now", "arguments": ""},
        {"type": "message", "role": "user", "content": "while you are at it"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "12:00"}],
        },
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": [
                {"type": "input_text", "text": "Paris"},
                {"type": "input_image", "image_url": "https://example.com/paris.png"},
            ],
        },
        {"type": "function_call", "call_id": "c3", "name": "lookup", "namespace": "crm", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c3", "output": ""},
    )
    assert hub_body(body)["messages"] == [
        user(text("hi")),
        assistant(tool_use("c1", "get_capital", {"country": "FR"}), tool_use("c2", "now", {})),
        user(
            tool_result("c2", [text("12:00")]),
            tool_result(
                "c1",
                [
                    text("Paris"),
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/paris.png"}},
                ],
            ),
            text("while you are at it"),
        ),
        assistant(tool_use("c3", "crm__lookup", {})),
        user(tool_result("c3")),
    ]


def test_reasoning_items_of_the_gateway_come_back_as_their_blocks() -> None:
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
    gemini = {"type": "thinking", "thinking": "", "signature": "gemini:part:CiQBVKhc"}
    unsigned = {"type": "thinking", "thinking": "from a chat server", "signature": ""}
    notes: list[str] = []

    def item(block: JSON, **extra: Any) -> JSON:
        return {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [],
            "encrypted_content": encode_reasoning(block),
            **extra,
        }

    body = rq(
        HI,
        item(THINKING, summary=[{"type": "summary_text", "text": "Let me think."}]),
        item(redacted),
        item(gemini),
        item(unsigned),
        {"type": "reasoning", "id": "rs_2", "summary": []},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    )
    assert hub_body(body, notes=notes)["messages"] == [
        user(text("hi")),
        assistant(THINKING, redacted, gemini, tool_use("c1", "f", {})),
    ]
    assert notes == ["input[5] dropped: a reasoning item without the gateway's encrypted_content"]


def test_hosted_tool_items_are_dropped_with_a_note() -> None:
    notes: list[str] = []
    search = {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {"type": "search", "query": "q"},
    }
    action = {"type": "exec", "command": ["ls"], "env": {}}
    shell = {
        "type": "local_shell_call",
        "id": "lsh_1",
        "call_id": "c",
        "status": "completed",
        "action": action,
    }
    out = hub_body(rq(HI, search, shell, {"role": "assistant", "content": "Found it."}), notes=notes)
    assert out["messages"] == [user(text("hi")), assistant(text("Found it."))]
    assert notes == [
        "input[1] dropped: a web_search_call item of a hosted tool this model does not have",
        "input[2] dropped: a local_shell_call item of a hosted tool this model does not have",
    ]


# --- fields -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "max_tokens", "thinking"),
    [
        ({}, 4096, None),
        ({"max_output_tokens": 300}, 300, None),
        ({"reasoning": {"effort": "none"}}, 4096, {"type": "disabled"}),
        ({"reasoning": {"effort": "minimal"}}, 4096, {"type": "disabled"}),
        (
            {"reasoning": {"effort": "low", "summary": "auto"}},
            4096,
            {"type": "enabled", "budget_tokens": 1024},
        ),
        (
            {"reasoning": {"effort": "medium"}, "max_output_tokens": 20000},
            20000,
            {"type": "enabled", "budget_tokens": 4096},
        ),
        (
            {"reasoning": {"effort": "high"}, "max_output_tokens": 1000},
            17384,
            {"type": "enabled", "budget_tokens": 16384},
        ),
        ({"reasoning": {"effort": "xhigh"}}, 4096 + 24576, {"type": "enabled", "budget_tokens": 24576}),
        ({"reasoning": {"summary": "detailed"}}, 4096, None),
        ({"reasoning": {"effort": None, "generate_summary": "concise"}}, 4096, None),
    ],
)
def test_max_output_tokens_and_reasoning_effort(fields: JSON, max_tokens: int, thinking: JSON | None) -> None:
    out = hub_body(rq(HI, **fields))
    assert out["max_tokens"] == max_tokens
    assert out.get("thinking") == thinking
    budget = thinking.get("budget_tokens", 0) if thinking else 0
    assert effort_budget(fields.get("reasoning")) == budget


def test_effort_budget_of_what_is_no_effort() -> None:
    assert effort_budget(None) == effort_budget("high") == effort_budget({"effort": "ultra"}) == 0


def test_sampling_user_text_format_and_stream() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    out = hub_body(
        rq(
            HI,
            temperature=0.2,
            top_p=0.9,
            stream=True,
            user="u-1",
            safety_identifier="s-1",
            text={
                "format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True},
                "verbosity": "medium",
            },
        )
    )
    assert out["temperature"] == 0.2 and out["top_p"] == 0.9 and out["stream"] is True
    assert out["metadata"] == {"user_id": "u-1"}
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert hub_body(rq(HI, safety_identifier="s-1"))["metadata"] == {"user_id": "s-1"}
    assert "output_config" not in hub_body(rq(HI, text={"format": {"type": "text"}}))


def test_the_gateways_fields_and_defaults_are_not_sent() -> None:
    notes: list[str] = []
    plain = hub_body(rq(HI))
    assert plain == hub_body(
        rq(
            HI,
            store=False,
            include=["reasoning.encrypted_content", "web_search_call.action.sources"],
            previous_response_id="resp_1",
            prompt_cache_retention="24h",
            metadata={"k": "v"},
            truncation="auto",
            service_tier="flex",
            stream_options={"include_obfuscation": False},
            client_metadata={"x": "y"},
            background=False,
            conversation=None,
            prompt=None,
            top_logprobs=0,
            moderation=None,
            context_management=None,
            instructions=None,
            tools=None,
            tool_choice=None,
            parallel_tool_calls=None,
            max_tool_calls=None,
            text=None,
            reasoning=None,
        ),
        notes=notes,
        valid=False,  # explicit nulls where the reference has none: lenient clients send them
    )
    assert notes == []


def test_unknown_fields_verbosity_and_compaction_are_dropped_with_a_note() -> None:
    notes: list[str] = []
    body = rq(HI, context_management=[{"type": "compaction"}], text={"verbosity": "low"}, new_thing=1)
    assert hub_body(body, notes=notes) == hub_body(rq(HI))
    assert notes == [
        "context_management dropped: the upstream does not compact conversations",
        "new_thing dropped: not a field the gateway translates",
        "text.verbosity 'low' dropped: the model has no verbosity setting",
    ]


def test_a_prompt_cache_key_marks_the_end_of_the_input() -> None:
    marked = hub_body(
        rq(
            HI,
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "go"},
            prompt_cache_key="k",
        )
    )
    assert marked["messages"][-1] == user(
        {"type": "text", "text": "go", "cache_control": {"type": "ephemeral"}}
    )
    assert marked["messages"][0] == user(text("hi"))
    explicit = rq(HI, prompt_cache_key="k", prompt_cache_options={"mode": "explicit", "ttl": "30m"})
    assert hub_body(explicit)["messages"] == [user(text("hi"))]
    mark = {"prompt_cache_breakpoint": {"mode": "explicit"}}
    four = [{"type": "input_text", "text": f"part {i}", **mark} for i in range(4)]
    full = hub_body(
        rq({"role": "user", "content": [*four, {"type": "input_text", "text": "last"}]}, prompt_cache_key="k")
    )
    assert full["messages"][0]["content"][-1] == text("last")  # Anthropic takes 4 markers at most
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "c", "output": four}
    in_results = hub_body(rq(HI, call, output, {"role": "user", "content": "last"}, prompt_cache_key="k"))
    assert in_results["messages"][-1]["content"][-1] == text("last")  # markers inside results count too
    thinking = {
        "type": "reasoning",
        "id": "r",
        "summary": [],
        "encrypted_content": encode_reasoning(THINKING),
    }
    last_thought = hub_body(rq(HI, thinking, prompt_cache_key="k"))
    assert last_thought["messages"][-1] == assistant(THINKING)  # thinking blocks take no marker


def test_the_model_passes_unchanged_and_the_input_is_left_alone() -> None:
    body = copy.deepcopy(RECORDED_CUSTOM_TOOL)
    to_hub(body)
    assert body == RECORDED_CUSTOM_TOOL
    model_less = responses_request_to_anthropic({"input": "x"}, default_max_tokens=1, web_search=False)
    assert "model" not in model_less.body


# --- tools ------------------------------------------------------------------------------------------


def test_function_custom_and_namespace_tools() -> None:
    body = rq(
        HI,
        tools=[
            {"type": "function", "name": "f", "parameters": None, "strict": False, "defer_loading": True},
            {
                "type": "custom",
                "name": "apply_patch",
                "description": "Patch files.",
                "format": {"type": "text"},
            },
            {"type": "custom", "name": "free"},
            {
                "type": "namespace",
                "name": "crm",
                "description": "The CRM.",
                "tools": [
                    {
                        "type": "function",
                        "name": "lookup",
                        "description": "Find a customer.",
                        "parameters": CAPITAL_SCHEMA,
                    },
                    {
                        "type": "custom",
                        "name": "note",
                        "format": {"type": "grammar", "syntax": "regex", "definition": "[a-z]+"},
                    },
                ],
            },
            {
                "type": "namespace",
                "name": "plain",
                "description": "",
                "tools": [{"type": "function", "name": "f"}],
            },
        ],
    )
    hub = to_hub(body)
    assert hub.body["tools"] == [
        {"name": "f", "input_schema": {"type": "object", "properties": {}}},
        {"name": "apply_patch", "description": "Patch files.", "input_schema": CUSTOM_SCHEMA},
        {"name": "free", "input_schema": CUSTOM_SCHEMA},
        {
            "name": "crm__lookup",
            "description": "The CRM.\n\nFind a customer.",
            "input_schema": CAPITAL_SCHEMA,
        },
        {
            "name": "crm__note",
            "description": "The CRM.\n\nThe input must follow this regex grammar:\n[a-z]+",
            "input_schema": CUSTOM_SCHEMA,
        },
        {"name": "plain__f", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert hub.tools == {
        "f": ClientTool("f", "function"),
        "apply_patch": ClientTool("apply_patch", "custom"),
        "free": ClientTool("free", "custom"),
        "crm__lookup": ClientTool("lookup", "function", "crm"),
        "crm__note": ClientTool("note", "custom", "crm"),
        "plain__f": ClientTool("f", "function", "plain"),
    }


def test_hosted_tools_are_left_out_and_web_search_maps() -> None:
    tools = [
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {
            "type": "web_search_preview",
            "search_context_size": "high",
            "user_location": {
                "type": "approximate",
                "country": "NL",
                "city": None,
                "timezone": "Europe/Amsterdam",
            },
        },
        {"type": "web_search", "filters": {"allowed_domains": ["example.com"]}},  # a second one adds nothing
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.deepwiki.com/mcp"},
        {"type": "image_generation"},
        {"type": "local_shell"},
        {"type": "file_search", "vector_store_ids": ["vs_2"]},
        GET_CAPITAL,
    ]
    hub = to_hub(rq(HI, tools=tools, max_tool_calls=3))
    assert hub.body["tools"] == [
        {
            "type": "web_search_20250305",
            "name": "web_search",
            "user_location": {"type": "approximate", "country": "NL", "timezone": "Europe/Amsterdam"},
            "max_uses": 3,
        },
        {"name": "get_capital", "description": "", "input_schema": CAPITAL_SCHEMA, "strict": True},
    ]
    assert hub.left_out == ("file_search", "code_interpreter", "mcp", "image_generation", "local_shell")
    without = to_hub(rq(HI, tools=tools), web_search=False)
    assert [t["name"] for t in without.body["tools"]] == ["get_capital"]
    assert without.left_out[:3] == ("file_search", "web_search_preview", "web_search")


def test_web_search_domains_and_cached_search() -> None:
    tool = {
        "type": "web_search",
        "filters": {"allowed_domains": ["pubmed.ncbi.nlm.nih.gov"]},
        "external_web_access": True,
    }
    assert hub_body(rq(HI, tools=[tool]))["tools"] == [
        {"type": "web_search_20250305", "name": "web_search", "allowed_domains": ["pubmed.ncbi.nlm.nih.gov"]}
    ]
    assert hub_body(rq(HI, tools=[{"type": "web_search", "filters": {"allowed_domains": []}}]))["tools"] == [
        {"type": "web_search_20250305", "name": "web_search"}
    ]
    notes: list[str] = []
    cached = to_hub(rq(HI, tools=[{"type": "web_search", "external_web_access": False}]), notes=notes)
    assert "tools" not in cached.body and cached.left_out == ("web_search",)
    assert notes == ["tools[0] left out: a search of cached results only has no equivalent here"]
    none_allowed = to_hub(rq(HI, tools=[{"type": "web_search"}], max_tool_calls=0))
    assert "tools" not in none_allowed.body and none_allowed.left_out == ("web_search",)


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", False, {"type": "none"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, True, None),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ({"type": "function", "name": "get_capital"}, None, {"type": "tool", "name": "get_capital"}),
        ({"type": "function", "name": "lookup"}, None, {"type": "tool", "name": "crm__lookup"}),
        (
            {"type": "function", "name": "lookup", "namespace": "crm"},
            None,
            {"type": "tool", "name": "crm__lookup"},
        ),
        ({"type": "custom", "name": "run"}, None, {"type": "tool", "name": "run"}),
        ({"type": "web_search_preview"}, None, {"type": "tool", "name": "web_search"}),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: JSON | None) -> None:
    tools = [
        GET_CAPITAL,
        {"type": "custom", "name": "run"},
        {
            "type": "namespace",
            "name": "crm",
            "description": "",
            "tools": [{"type": "function", "name": "lookup"}],
        },
        {"type": "web_search"},
    ]
    fields = {
        k: v for k, v in {"tool_choice": choice, "parallel_tool_calls": parallel}.items() if v is not None
    }
    out = hub_body(rq(HI, tools=tools, **fields))
    assert out.get("tool_choice") == expected
    assert len(out["tools"]) == 4


def test_allowed_tools_narrow_what_is_sent() -> None:
    tools = [GET_CAPITAL, {"type": "custom", "name": "run"}, {"type": "web_search"}, FILE_SEARCH]
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [
            {"type": "function", "name": "get_capital"},
            {"type": "web_search"},
            {"type": "file_search"},
        ],
    }
    out = hub_body(rq(HI, tools=tools, tool_choice=choice))
    assert [t["name"] for t in out["tools"]] == ["get_capital", "web_search"]
    assert out["tool_choice"] == {"type": "any"}
    choice = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "file_search"}]}
    assert "tools" not in hub_body(rq(HI, tools=tools, tool_choice=choice))


def test_tool_choice_without_tools_that_can_be_sent() -> None:
    assert "tool_choice" not in hub_body(rq(HI, tools=[FILE_SEARCH], tool_choice="auto"))
    assert "tool_choice" not in hub_body(rq(HI, tool_choice="none", parallel_tool_calls=False))


# --- 400s -------------------------------------------------------------------------------------------

FN = {"type": "function", "name": "f"}
NS = {"type": "namespace", "name": "a", "description": "", "tools": [{"type": "function", "name": "f"}]}
CALL = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
OURS_DAMAGED = "llmgw1.%%%"
REFUSED: list[tuple[JSON, str]] = [
    ({"model": "m"}, "input"),
    ({"model": "m", "input": 5}, "input"),
    ({"model": "m", "input": ""}, "input"),
    (rq(), "input"),
    (rq({"role": "system", "content": "only rules"}), "input"),
    (rq(5), "input[0]"),
    (rq({"type": "message", "role": "tool", "content": "x"}), "input[0].role"),
    (rq({"role": "user", "content": 5}), "input[0].content"),
    (rq({"role": "user", "content": [5]}), "input[0].content[0]"),
    (rq({"role": "user", "content": [{"type": "output_text", "text": "x"}]}), "input[0].content[0].type"),
    (rq({"role": "system", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}), "input[0].content[0].type"),  # noqa: E501
    (rq({"role": "assistant", "content": [{"type": "input_image"}]}), "input[0].content[0].type"),
    (rq({"role": "user", "content": [{"type": "input_text", "text": 5}]}), "input[0].content[0].text"),
    (rq({"role": "assistant", "content": [{"type": "refusal"}]}), "input[0].content[0].refusal"),
    (rq({"role": "user", "content": [{"type": "input_image", "file_id": "file-1", "detail": "auto"}]}), "input[0].content[0].file_id"),  # noqa: E501
    (rq({"role": "user", "content": [{"type": "input_image", "detail": "auto"}]}), "input[0].content[0].image_url"),  # noqa: E501
    (rq({"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}), "input[0].content[0].image_url"),  # noqa: E501
    (rq({"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png,abc"}]}), "input[0].content[0].image_url"),  # noqa: E501
    (rq({"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}), "input[0].content[0].file_id"),  # noqa: E501
    (rq({"role": "user", "content": [{"type": "input_file", "filename": "a.pdf"}]}), "input[0].content[0]"),
    (rq({"role": "user", "content": [{"type": "input_file", "file_data": "data:text/plain;base64,aGk="}]}), "input[0].content[0].file_data"),  # noqa: E501
    (rq({"role": "user", "content": [{"type": "input_file", "file_url": "file:///etc/passwd"}]}), "input[0].content[0].file_url"),  # noqa: E501
    (rq({"type": "function_call", "name": "f", "arguments": "{}"}), "input[0].call_id"),
    (rq({"type": "function_call", "call_id": "c", "arguments": "{}"}), "input[0].name"),
    (rq({"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}), "input[0].arguments"),
    (rq({"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}), "input[0].arguments"),
    (rq({"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "namespace": 1}), "input[0].namespace"),  # noqa: E501
    (rq({"type": "custom_tool_call", "call_id": "c", "name": "f", "input": {}}), "input[0].input"),
    (rq(HI, {"type": "function_call_output", "call_id": "c9", "output": "x"}), "input[1].call_id"),
    (rq(CALL, {"type": "function_call_output", "call_id": "c1", "output": 5}), "input[1].output"),
    (rq(CALL, {"type": "function_call_output", "call_id": "c1", "output": [{"type": "refusal"}]}), "input[1].output[0].type"),  # noqa: E501
    (rq({"type": "reasoning", "summary": [], "encrypted_content": 5}), "input[0].encrypted_content"),
    (rq({"type": "reasoning", "summary": [], "encrypted_content": OURS_DAMAGED}), "input[0].encrypted_content"),  # noqa: E501
    (rq({"type": "reasoning", "summary": [], "encrypted_content": "llmgw1.W10"}), "input[0].encrypted_content"),  # []  # noqa: E501
    (rq({"type": "reasoning", "summary": [], "encrypted_content": encode_reasoning({"type": "tool_use"})}), "input[0].encrypted_content"),  # noqa: E501
    (rq({"type": "item_reference", "id": "msg_1"}), "input[0]"),
    (rq({"id": "msg_1"}), "input[0]"),
    (rq({"type": "compaction", "encrypted_content": "x"}), "input[0].type"),
    (rq({}), "input[0].type"),
    (rq(HI, instructions=5), "instructions"),
    (rq(HI, background=True), "background"),
    (rq(HI, conversation="conv_1"), "conversation"),
    (rq(HI, prompt={"id": "pmpt_1"}), "prompt"),
    (rq(HI, top_logprobs=5), "top_logprobs"),
    (rq(HI, moderation={"model": "omni-moderation-latest"}), "moderation"),
    (rq(HI, max_output_tokens=0), "max_output_tokens"),
    (rq(HI, reasoning="high"), "reasoning"),
    (rq(HI, reasoning={"effort": "ultra"}), "reasoning.effort"),
    (rq(HI, reasoning={"summary": 1}), "reasoning.summary"),
    (rq(HI, temperature="hot"), "temperature"),
    (rq(HI, stream="yes"), "stream"),
    (rq(HI, user=5), "user"),
    (rq(HI, text="json"), "text"),
    (rq(HI, text={"format": "json"}), "text.format"),
    (rq(HI, text={"format": {"type": "json_object"}}), "text.format.type"),
    (rq(HI, text={"format": {"type": "json_schema", "name": "x"}}), "text.format.schema"),
    (rq(HI, tools={}), "tools"),
    (rq(HI, tools=[5]), "tools[0]"),
    (rq(HI, tools=[{"name": "f"}]), "tools[0].type"),
    (rq(HI, tools=[{"type": "function"}]), "tools[0].name"),
    (rq(HI, tools=[{"type": "function", "name": "f", "description": 5}]), "tools[0].description"),
    (rq(HI, tools=[{"type": "function", "name": "f", "parameters": []}]), "tools[0].parameters"),
    (rq(HI, tools=[{"type": "custom", "name": "f", "description": 5}]), "tools[0].description"),
    (rq(HI, tools=[{"type": "custom", "name": "f", "format": {"type": "json"}}]), "tools[0].format.type"),
    (rq(HI, tools=[{"type": "custom", "name": "f", "format": {"type": "grammar", "syntax": "lark"}}]), "tools[0].format.definition"),  # noqa: E501
    (rq(HI, tools=[FN, FN]), "tools[1].name"),
    (rq(HI, tools=[{"type": "function", "name": "a__f"}, NS]), "tools[1].tools[0].name"),
    (rq(HI, tools=[{"type": "function", "name": "web_search"}, {"type": "web_search"}]), "tools[1].name"),
    (rq(HI, tools=[{"type": "namespace", "tools": []}]), "tools[0].name"),
    (rq(HI, tools=[{"type": "namespace", "name": "a", "description": 5, "tools": []}]), "tools[0].description"),  # noqa: E501
    (rq(HI, tools=[{"type": "namespace", "name": "a", "tools": {}}]), "tools[0].tools"),
    (rq(HI, tools=[{"type": "namespace", "name": "a", "tools": [{"type": "web_search"}]}]), "tools[0].tools[0].type"),  # noqa: E501
    (rq(HI, tools=[{"type": "web_search", "filters": "x"}]), "tools[0].filters"),
    (rq(HI, tools=[{"type": "web_search", "filters": {"allowed_domains": "x.com"}}]), "tools[0].filters.allowed_domains"),  # noqa: E501
    (rq(HI, tools=[{"type": "web_search", "filters": {"allowed_domains": [1]}}]), "tools[0].filters.allowed_domains[0]"),  # noqa: E501
    (rq(HI, tools=[{"type": "web_search", "user_location": "NL"}]), "tools[0].user_location"),
    (rq(HI, tools=[FN], max_tool_calls=-1), "max_tool_calls"),
    (rq(HI, tools=[FN], tool_choice="any"), "tool_choice"),
    (rq(HI, tools=[FN], tool_choice=5), "tool_choice"),
    (rq(HI, tools=[FN], tool_choice={"type": "function"}), "tool_choice.name"),
    (rq(HI, tools=[FN], tool_choice={"type": "function", "name": "g"}), "tool_choice.name"),
    (rq(HI, tools=[FN], tool_choice={"type": "custom", "name": "f"}), "tool_choice.name"),
    (rq(HI, tools=[FN, NS], tool_choice={"type": "function", "name": "g", "namespace": "a"}), "tool_choice.name"),  # noqa: E501
    (rq(HI, tools=[NS, {**NS, "name": "b"}], tool_choice={"type": "function", "name": "f"}), "tool_choice.name"),  # noqa: E501
    (rq(HI, tools=[FN], tool_choice={"type": "web_search_preview"}), "tool_choice.type"),
    (rq(HI, tools=[FN, {"type": "file_search"}], tool_choice={"type": "file_search"}), "tool_choice.type"),
    (rq(HI, tools=[FN], tool_choice={"type": "mcp", "server_label": "x"}), "tool_choice.type"),
    (rq(HI, tools=[FN], tool_choice={"type": "allowed_tools", "mode": "none", "tools": []}), "tool_choice.mode"),  # noqa: E501
    (rq(HI, tools=[FN], tool_choice={"type": "allowed_tools", "mode": "auto", "tools": [5]}), "tool_choice.tools[0]"),  # noqa: E501
    (rq(HI, tools=[FN], tool_choice={"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "g"}]}), "tool_choice.tools[0].name"),  # noqa: E501
    (rq(HI, tools=[FN], tool_choice={"type": "allowed_tools", "mode": "required", "tools": []}), "tool_choice"),  # noqa: E501
    (rq(HI, tools=[{"type": "file_search"}], tool_choice="required"), "tool_choice"),
    (rq(HI, tools=[FN], parallel_tool_calls="no"), "parallel_tool_calls"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "param"), REFUSED)
def test_requests_no_translated_upstream_can_take_are_refused(body: JSON, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        responses_request_to_anthropic(body, default_max_tokens=100, web_search=True)
    assert err.value.status == 400
    assert err.value.param == param
    assert err.value.message.startswith(f"{param}: ")


def test_a_refused_file_id_says_why() -> None:
    body = rq({"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]})
    with pytest.raises(InvalidRequest, match="no Files API"):
        responses_request_to_anthropic(body, default_max_tokens=100, web_search=True)
