"""The prompt side of a budget's reservation (relay/prompt_bound.py): never below the prompt tokens a
provider reported, for every recorded request of every provider; close to them for text; media parts,
tools and the tokenizer margin as stated."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmgw.errors import InvalidRequest, TokenizerUnavailable
from llmgw.relay import prompt_bound
from llmgw.relay.prompt_bound import (
    BASE_OVERHEAD_TOKENS,
    MEDIA_PART_TOKENS,
    TOKENIZER_MARGIN,
    TOOLS_OVERHEAD_TOKENS,
    measure,
    same_tokenizer,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "providers"
ELIDED = re.compile(r"^<(\d+) chars elided: (.*)\.\.\.>$", re.S)


def _restored(value: Any) -> Any:
    """A recorded request with each elided string (over 600 characters) stood in for by its visible
    start repeated to its recorded length: what was sent, as near as the recording allows. Base64
    payloads sit in media parts, whose data the bound leaves out anyway."""
    if isinstance(value, dict):
        return {k: _restored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restored(v) for v in value]
    if isinstance(value, str) and (m := ELIDED.match(value)):
        size, start = int(m.group(1)), m.group(2)
        return (start * (size // len(start) + 1))[:size]
    return value


def _reported(provider: str, payload: Any) -> int | None:
    """The prompt tokens a provider reported in one answer, stream event or count."""
    if not isinstance(payload, dict):
        return None
    if provider == "gemini":
        meta = payload.get("usageMetadata") or {}
        return meta.get("promptTokenCount", payload.get("totalTokens"))
    usage = payload.get("usage") or (payload.get("message") or {}).get("usage")
    usage = usage or (payload.get("response") or {}).get("usage")
    if not isinstance(usage, dict):
        return payload.get("input_tokens") if provider != "gemini" else None
    if provider == "anthropic":
        if "input_tokens" not in usage:
            return None
        cache = (usage.get("cache_creation_input_tokens") or 0) + (usage.get("cache_read_input_tokens") or 0)
        return int(usage["input_tokens"]) + cache
    return usage.get("prompt_tokens", usage.get("input_tokens"))


def _answer_prompt_tokens(provider: str, answer: Path) -> int | None:
    if answer.suffix == ".json":
        return _reported(provider, json.loads(answer.read_text(encoding="utf-8")))
    counts = []
    for line in answer.read_text(encoding="utf-8").splitlines():
        data = line.removeprefix("data:").strip()
        if line.startswith("data:") and data.startswith("{"):
            found = _reported(provider, json.loads(data))
            if found is not None:
                counts.append(found)
    return max(counts) if counts else None


def _cases() -> list[tuple[str, dict[str, Any], str, int]]:
    """(case, request body, model, prompt tokens reported) of every recorded request with an answer."""
    cases = []
    for request in sorted(FIXTURES.glob("*/*.request.json")):
        provider = request.parent.name
        stem = request.name.removesuffix(".request.json")
        answers = [request.with_name(stem + ext) for ext in (".json", ".sse")]
        answer = next((a for a in answers if a.exists()), None)
        recorded = json.loads(request.read_text(encoding="utf-8"))
        if answer is None or "error" in stem or not isinstance(recorded.get("body"), dict):
            continue
        reported = _answer_prompt_tokens(provider, answer)
        if reported is None:
            continue
        body = _restored(recorded["body"])
        model = body.get("model") or re.search(r"models/([^:/]+)", recorded["uri"]).group(1)  # type: ignore[union-attr]
        cases.append((f"{provider}/{stem}", body, str(model), reported))
    return cases


CASES = _cases()


def test_every_provider_has_recorded_cases() -> None:
    assert {case.split("/")[0] for case, *_ in CASES} == {"openai", "anthropic", "gemini"}
    assert len(CASES) >= 20


@pytest.mark.parametrize(("case", "body", "model", "reported"), CASES, ids=[c[0] for c in CASES])
def test_the_bound_is_never_below_what_the_provider_reported(
    case: str, body: dict[str, Any], model: str, reported: int
) -> None:
    bound = measure(body).tokens(model)
    assert bound >= reported, f"{case}: bound {bound} < {reported} reported"


def test_the_bound_is_far_closer_than_the_bodys_bytes_for_text() -> None:
    text = "The gateway reserves the worst case of a request before it goes upstream. " * 55  # ~4 KB
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "max_tokens": 100}
    bound = measure(body)
    assert bound.counted is not None
    exact = bound.tokens("gpt-4o-mini")
    assert exact == bound.counted + BASE_OVERHEAD_TOKENS
    assert exact < bound.compact_bytes / 3  # English: about four bytes per token
    margined = bound.tokens("claude-sonnet-4-5")
    assert margined == round(bound.counted * TOKENIZER_MARGIN) + BASE_OVERHEAD_TOKENS


def test_never_above_the_byte_bound() -> None:
    body = {"messages": [{"role": "user", "content": "\u00e9\u00e8" * 10}]}  # 2 bytes a character
    bound = measure(body)
    assert bound.tokens("claude-x") <= bound.compact_bytes + BASE_OVERHEAD_TOKENS


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K" * 500}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 4000}},
        {"type": "input_image", "image_url": "data:image/png;base64," + "A" * 4000},
        {"type": "input_audio", "input_audio": {"data": "A" * 4000, "format": "wav"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "A" * 4000},
        },
        {"inlineData": {"mimeType": "image/png", "data": "A" * 4000}},
        {"file_data": {"file_uri": "gs://b/x.pdf"}},
    ],
)
def test_a_media_part_is_an_allowance_not_its_base64(part: dict[str, Any]) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, part]}]}
    with_part = measure(body)
    without = measure(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"}]}]}
    )
    assert with_part.extra == without.extra + MEDIA_PART_TOKENS
    assert with_part.counted is not None and without.counted is not None
    assert with_part.counted <= without.counted + 5  # the emptied part's braces, not its data


def test_media_inside_tool_results_and_gemini_parts_count() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [image]}]}
        ],
        "contents": [{"parts": [{"inlineData": {"data": "x"}}, {"inline_data": {"data": "x"}}]}],
    }
    assert measure(body).extra == BASE_OVERHEAD_TOKENS + 3 * MEDIA_PART_TOKENS


def test_tools_add_the_hidden_prompt_allowance() -> None:
    plain = {"messages": [{"role": "user", "content": "Hi"}]}
    assert measure(plain).extra == BASE_OVERHEAD_TOKENS
    assert measure({**plain, "tools": [{"name": "f"}]}).extra == BASE_OVERHEAD_TOKENS + TOOLS_OVERHEAD_TOKENS
    assert measure({**plain, "tools": []}).extra == BASE_OVERHEAD_TOKENS


@pytest.mark.parametrize(
    ("model", "same"),
    [
        ("gpt-4o-mini", True),
        ("gpt-4.1", True),
        ("gpt-5-mini", True),
        ("o3-mini", True),
        ("openai/gpt-4o", True),  # OpenRouter's id
        ("gpt-4-turbo", False),  # cl100k_base
        ("gpt-3.5-turbo", False),
        ("claude-sonnet-4-5", False),
        ("gemini-2.0-flash", False),
        ("llama-3.1-70b", False),
    ],
)
def test_which_models_share_the_tokenizer(model: str, same: bool) -> None:
    assert same_tokenizer(model) is same


def test_without_tokenizer_data_the_byte_bound_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise TokenizerUnavailable("no data")

    monkeypatch.setattr(prompt_bound.token_count, "encoding", unavailable)
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    bound = measure(body)
    assert bound.counted is None
    assert bound.tokens("gpt-4o") == len(orjson.dumps(body)) + BASE_OVERHEAD_TOKENS


def test_deep_nesting() -> None:
    value: Any = "x"
    for _ in range(200):
        value = [value]
    assert measure({"messages": value}).counted is not None  # past MAX_DEPTH: counted as it is
    for _ in range(100):
        value = [value]
    with pytest.raises(InvalidRequest, match="nested too deeply"):
        measure({"messages": value})
