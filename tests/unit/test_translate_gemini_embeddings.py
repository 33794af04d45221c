"""A Gemini client's embeddings ↔ OpenAI /v1/embeddings (llmgw.translate.gemini_embeddings).

Inputs: what google-genai sends, the recorded Gemini batchEmbedContents request and the recorded OpenAI
embeddings answer (base64, as the OpenAI SDK asks by default); expected values written by hand from the
two API references.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from google.genai import types

from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.translate.gemini_embeddings import (
    gemini_embed_request_to_openai,
    openai_embeddings_to_gemini_answer,
)
from tests.support.fakes.fixtures import load_json, load_request
from tests.support.genai_sdk import GenaiRecorder


def test_sdk_embed_content_batch() -> None:
    answer = {
        "data": [
            {"object": "embedding", "index": 1, "embedding": [0.5, 1]},
            {"object": "embedding", "index": 0, "embedding": [0.25, -1.0]},
        ]
    }
    sdk = GenaiRecorder([openai_embeddings_to_gemini_answer(answer, batch=True)])
    read = sdk.client.models.embed_content(
        model="text-embedding-3-small",
        contents=["first", "second"],
        config=types.EmbedContentConfig(output_dimensionality=2, task_type="RETRIEVAL_DOCUMENT"),
    )
    path, body = sdk.requests[0]
    assert path.endswith(":batchEmbedContents")
    notes: list[str] = []
    assert gemini_embed_request_to_openai(body, model="text-embedding-3-small", batch=True, notes=notes) == {
        "model": "text-embedding-3-small",
        "input": ["first", "second"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    assert notes == [
        "requests[0].taskType dropped: OpenAI embeddings have no such option",
        "requests[1].taskType dropped: OpenAI embeddings have no such option",
    ]
    assert read.embeddings is not None
    assert [e.values for e in read.embeddings] == [[0.25, -1.0], [0.5, 1.0]]  # by index


def test_recorded_batch_request() -> None:
    body = load_request("gemini", "embed.default")["body"]
    assert gemini_embed_request_to_openai(body, model="m", batch=True) == {
        "model": "m",
        "input": ["Hello, world!"],
        "encoding_format": "float",
    }


def test_embed_content_one_content_with_text_parts_joined() -> None:
    body = {"content": {"parts": [{"text": "a"}, {"text": "b"}]}, "outputDimensionality": 8, "title": "T"}
    notes: list[str] = []
    got = gemini_embed_request_to_openai(body, model="m", batch=False, notes=notes)
    assert got == {"model": "m", "input": ["a\nb"], "encoding_format": "float", "dimensions": 8}
    assert notes == ["title dropped: OpenAI embeddings have no such option"]


def test_recorded_base64_answer_decodes_to_floats() -> None:
    answer = load_json("openai", "embeddings.default")
    raw = base64.b64decode(answer["data"][0]["embedding"])
    expected = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    got = openai_embeddings_to_gemini_answer(answer, batch=False)
    assert got == {"embedding": {"values": expected}} and len(expected) == 1536
    types.EmbedContentResponse.model_validate({"embeddings": [got["embedding"]]})


@pytest.mark.parametrize(
    ("body", "batch", "param"),
    [
        ({"requests": []}, True, "requests"),
        ({"requests": {}}, True, "requests"),
        (
            {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}},
            False,
            "content.parts[0]",
        ),
        ({"content": {"parts": []}}, False, "content.parts"),
        ({"content": "text"}, False, "content"),
        (
            {"requests": [{"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 0}]},
            True,
            "requests[0].outputDimensionality",
        ),
        (
            {
                "requests": [
                    {"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 2},
                    {"content": {"parts": [{"text": "b"}]}, "outputDimensionality": 3},
                ]
            },
            True,
            "requests",
        ),
    ],
)
def test_requests_that_cannot_be_carried(body: dict[str, Any], batch: bool, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        gemini_embed_request_to_openai(body, model="m", batch=batch)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("answer", "batch"),
    [
        ({}, True),
        ({"data": [{"embedding": "%%%"}]}, True),
        ({"data": [{"embedding": base64.b64encode(b"abc").decode()}]}, True),
        ({"data": [{"embedding": ["x"]}]}, True),
        ({"data": [{"embedding": [1.0]}, {"embedding": [2.0]}]}, False),
    ],
)
def test_unreadable_answers_are_the_upstreams_fault(answer: dict[str, Any], batch: bool) -> None:
    with pytest.raises(UpstreamUnavailable):
        openai_embeddings_to_gemini_answer(answer, batch=batch)
