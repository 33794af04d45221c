"""Vercel's AI SDK with its Google provider (`ai` and `@ai-sdk/google`, npm, pinned by
scripts/install-ai-sdk into `.tools/ai-sdk/`, which `DEV=1 scripts/install` runs) through a real
`llmgw serve` to every provider type's fake: `generateText` and `streamText` (tests/support/
ai_sdk_google.cjs), each a ledger row of the user's personal key under its `/v1beta` template. Without
the packages these tests are skipped, except in CI (`CI=true`), where they fail.

@ai-sdk/google takes a model id holding a `/` for a whole resource path (`ant/claude-sonnet-4-5` becomes
`/v1beta/ant/claude-sonnet-4-5:generateContent`), so a route is given as `models/<route>`; an alias or a
bare Gemini name needs no prefix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.responses_gateway import PROVIDER_TYPES, ResponsesGateway, responses_gateway

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / ".tools" / "ai-sdk" / "node_modules"
SCRIPT = ROOT / "tests" / "support" / "ai_sdk_google.cjs"
RUN_TIMEOUT = 60  # seconds; a run takes one

# test id → (provider type, route)
CASES = {
    "gemini": ("gemini", "gem/gemini-2.0-flash"),
    "anthropic": ("anthropic", "ant/claude-sonnet-4-5"),
    "openai": ("openai", "oai/gpt-4o-mini"),
    "openai-compatible": ("openai-compatible", "compat/llama-3.1-8b-instant"),
    "openrouter": ("openrouter", "orouter/openai/gpt-4o-mini"),
}
assert {provider_type for provider_type, _ in CASES.values()} == set(PROVIDER_TYPES)


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js with the SDK's packages: skip without them, or fail in CI, which must have installed them."""
    found = shutil.which("node")
    if found and (MODULES / "ai").is_dir() and (MODULES / "@ai-sdk" / "google").is_dir():
        return found
    why = f"Node.js or the AI SDK is not installed (no node, or nothing at {MODULES}: scripts/install-ai-sdk)"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI=true but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def gw(node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponsesGateway]:
    with responses_gateway(tmp_path_factory.mktemp("ai-sdk-gateway")) as gateway:
        yield gateway


@pytest.mark.parametrize("case", list(CASES))
def test_generate_text_and_stream_text(node: str, gw: ResponsesGateway, case: str) -> None:
    provider_type, route = CASES[case]
    before = gw.last_row()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "NODE_PATH": str(MODULES),
        "GOOGLE_BASE_URL": f"{gw.process.base_url}/v1beta",
        "GOOGLE_KEY": gw.token,
        "MODEL": f"models/{route}",
    }
    done = subprocess.run(
        [node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    context = f"node exited {done.returncode}\n{done.stdout}\n{done.stderr}\n{gw.log()[-3000:]}"
    assert done.returncode == 0, context
    got = json.loads(done.stdout)

    assert "hello" in got["text"].lower() and got["finishReason"] == "stop", context  # the fakes echo
    assert got["usage"]["inputTokens"] > 0 and got["usage"]["outputTokens"] > 0, context
    assert len(got["chunks"]) > 1 and "three" in "".join(got["chunks"]).lower(), context
    assert got["streamFinishReason"] == "stop" and got["streamUsage"]["outputTokens"] > 0, context

    rows = gw.rows(before, route, 2)
    assert [row["endpoint"] for row in rows] == [
        "/v1beta/models/{model}:generateContent",
        "/v1beta/models/{model}:streamGenerateContent",
    ], rows
    for row in rows:
        assert row["status"] == 200 and row["provider"] == PROVIDER_TYPES[provider_type], row
        assert (row["user_id"], row["api_key_id"]) == (gw.user_id, gw.key_id)
        assert row["completion_tokens"] > 0
