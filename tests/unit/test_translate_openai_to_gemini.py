"""OpenAI → Gemini embeddings requests (llmgw.translate.openai_to_gemini), against recorded traffic.

Expected values are written by hand from the recorded Gemini / Anthropic / OpenAI payloads in
`tests/fixtures/providers` and from the published API references, never from the translators'
own output.
"""

from __future__ import annotations

from typing import Any

import pytest

from llmgw.errors import InvalidRequest
from llmgw.translate.openai_to_gemini import openai_embeddings_to_gemini
from tests.support.gemini_payloads import recorded_body

# ---- embeddings ----------------------------------------------------------------------------------


def test_embeddings_request_matches_recorded_request() -> None:
    want = recorded_body("gemini", "embed.default")
    got = openai_embeddings_to_gemini(
        {"model": "x", "input": "Hello, world!", "encoding_format": "base64", "user": "u"},
        model="gemini-embedding-2-preview",
    )
    # pydantic-ai also chose a taskType; OpenAI has none, so Gemini's default applies
    assert got == {"requests": [{k: v for k, v in r.items() if k != "taskType"} for r in want["requests"]]}


def test_embeddings_request_for_several_inputs_with_dimensions() -> None:
    got = openai_embeddings_to_gemini(
        {"input": ["a", "b"], "dimensions": 256}, model="models/text-embedding-004"
    )
    assert got == {
        "requests": [
            {
                "model": "models/text-embedding-004",
                "content": {"parts": [{"text": t}]},
                "outputDimensionality": 256,
            }
            for t in ("a", "b")
        ]
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [1, 2, 3]}, "input"),
        ({"input": [[1, 2], [3]]}, "input"),
        ({"input": []}, "input"),
        ({"input": ["a", 1]}, "input"),
        ({"input": [True]}, "input"),
        ({}, "input"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "a", "dimensions": 0}, "dimensions"),
        ({"input": "a", "dimensions": "256"}, "dimensions"),
        ({"input": "a", "dimensions": True}, "dimensions"),
    ],
)
def test_bad_embeddings_requests_are_400s(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        openai_embeddings_to_gemini(body, model="m")
    assert (caught.value.status, caught.value.param) == (400, param)
