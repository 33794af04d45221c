"""Gemini → OpenAI embeddings answers (llmgw.translate.gemini_to_openai), against recorded traffic.

Expected values are written by hand from the recorded Gemini / Anthropic / OpenAI payloads in
`tests/fixtures/providers` and from the published API references, never from the translators'
own output.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import httpx2
import openai
import pytest
from openai.types import CreateEmbeddingResponse

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.gemini_to_openai import gemini_embeddings_to_openai
from llmgw.translate.openai_to_gemini import openai_embeddings_to_gemini
from tests.support.fakes.fixtures import load_json


def test_embeddings_answer_as_floats() -> None:
    values = load_json("gemini", "embed.default")["embeddings"][0]["values"]
    got = gemini_embeddings_to_openai(
        load_json("gemini", "embed.default"),
        model="gemini-embedding-2-preview",
        encoding_format=None,
        prompt_tokens=4,
    )
    CreateEmbeddingResponse.model_validate(got)
    assert got == {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": values}],
        "model": "gemini-embedding-2-preview",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }


def decode_openai_base64(data: str) -> list[float]:
    """How OpenAI's base64 embeddings read: little-endian float32."""
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def test_openai_base64_format_is_little_endian_float32() -> None:
    [item] = load_json("openai", "embeddings.default")["data"]
    floats = decode_openai_base64(item["embedding"])
    assert len(floats) == 1536  # text-embedding-3-small's dimensions
    assert all(-1 < v < 1 for v in floats) and abs(sum(v * v for v in floats) - 1) < 1e-3  # unit length


def test_embeddings_answer_as_base64() -> None:
    values = load_json("gemini", "embed.default")["embeddings"][0]["values"]
    got = gemini_embeddings_to_openai(
        load_json("gemini", "embed.default"), model="m", encoding_format="base64"
    )
    decoded = decode_openai_base64(got["data"][0]["embedding"])
    assert len(decoded) == len(values) == 3072
    assert decoded == pytest.approx(values, rel=1e-6, abs=1e-9)
    assert got["usage"] == {"prompt_tokens": 0, "total_tokens": 0}
    got["data"][0]["embedding"] = decoded
    CreateEmbeddingResponse.model_validate(got)


def test_openai_sdk_reads_our_base64_embeddings() -> None:
    """The OpenAI SDK asks for base64 by default and decodes it itself: end to end through it."""
    gemini_answer = load_json("gemini", "embed.default")
    sent: list[dict[str, Any]] = []

    def upstream(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        sent.append(openai_embeddings_to_gemini(body, model="gemini-embedding-2-preview"))
        answer = gemini_embeddings_to_openai(
            gemini_answer, model=body["model"], encoding_format=body.get("encoding_format"), prompt_tokens=4
        )
        return httpx2.Response(200, json=answer)

    with httpx2.Client(transport=httpx2.MockTransport(upstream)) as http:
        client = openai.OpenAI(api_key="k", base_url="http://llmgw.test/v1", http_client=http)
        got = client.embeddings.create(model="gemini-embedding", input="Hello, world!")
    assert sent[0]["requests"][0]["content"] == {"parts": [{"text": "Hello, world!"}]}
    assert got.data[0].embedding == pytest.approx(
        gemini_answer["embeddings"][0]["values"], rel=1e-6, abs=1e-9
    )
    assert (got.model, got.usage.prompt_tokens, got.usage.total_tokens) == ("gemini-embedding", 4, 4)


@pytest.mark.parametrize(
    "resp",
    [
        {},
        {"embeddings": {}},
        {"embeddings": ["x"]},
        {"embeddings": [{"values": ["0.1"]}]},
        {"embeddings": [{}]},
    ],
)
def test_unreadable_embeddings_answers_are_upstream_errors(resp: dict[str, Any]) -> None:
    with pytest.raises(UpstreamUnavailable):
        gemini_embeddings_to_openai(resp, model="m", encoding_format="float")
