"""The OpenAI Agents SDK (`openai-agents`, pinned in requirements-dev.lock) through a real `llmgw serve` to
every provider type's fake: an Agent with the SDK's default model class (`OpenAIResponsesModel`, the
Responses API) and one function tool, run to its final output, stream and not.

The SDK gets an `AsyncOpenAI` client for the gateway with a user's personal key, and nothing else: no
OpenAI key in the environment, tracing off for the run (`RunConfig(tracing_disabled=True)`: by default it
exports every run to OpenAI's tracing endpoint), and a dead-end proxy (`tests/support/dead_end_proxy`) for
whatever would still go out; the tests assert it saw nothing, trace export flushed first.

The fakes call a tool when the model's name says `tool` (each in its own wire format), and answer its
result with an echo of it: the routes are aliases of such models. Bare names: the SDK strips `openai/`
off a model name and sends its own default model's name when an Agent names none; the gateway's
`default_provider` takes those to the openai provider.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool, set_tracing_export_api_key
from agents.models.default_models import get_default_model
from agents.models.multi_provider import MultiProvider
from agents.tracing import get_trace_provider
from openai import AsyncOpenAI

from tests.support.dead_end_proxy import DeadEndProxy
from tests.support.responses_gateway import PROVIDER_TYPES, ResponsesGateway, responses_gateway

SECRET = "AMBER-2291"

# provider type → (the alias an Agent names, the route behind it: a model the fakes call tools with)
ROUTES = {
    "openai": ("agents-openai", "oai/gpt-4o-mini-tool"),
    "anthropic": ("agents-anthropic", "ant/claude-sonnet-4-5-tool"),
    "gemini": ("agents-gemini", "gem/gemini-2.0-flash-tool"),
    "openai-compatible": ("agents-compatible", "compat/llama-3.1-8b-tool"),
    "openrouter": ("agents-openrouter", "orouter/openai/gpt-4o-mini-tool"),
}
assert set(ROUTES) == set(PROVIDER_TYPES)

_ENV_LEFT_OUT = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_DEFAULT_MODEL",
)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponsesGateway]:
    aliases = dict(ROUTES.values())
    with responses_gateway(tmp_path_factory.mktemp("agents-gateway"), aliases) as gateway:
        yield gateway


@pytest.fixture
def dead_end(monkeypatch: pytest.MonkeyPatch) -> Iterator[DeadEndProxy]:
    with DeadEndProxy() as proxy:
        for name in _ENV_LEFT_OUT:
            monkeypatch.delenv(name, raising=False)
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        # a key for the trace exporter (which exports nothing without one): a run with tracing on
        # would reach the dead end, and fail the test
        set_tracing_export_api_key("sk-tracing-export-dead-end")
        yield proxy


@pytest.fixture
def looked_up() -> list[str]:
    return []


def agent(model: str | None, calls: list[str], settings: ModelSettings | None = None) -> Agent[Any]:
    @function_tool
    def secret_word(topic: str) -> str:
        """The secret word about a topic."""
        calls.append(topic)
        return f"The secret word about that is {SECRET}."

    return Agent(
        name="Assistant",
        instructions="Answer with the secret word; look it up with the tool.",
        model=model,
        tools=[secret_word],
        model_settings=settings or ModelSettings(),
    )


async def run(agent: Agent[Any], gw: ResponsesGateway, stream: bool) -> Any:
    """`Runner.run` (or `run_streamed`, its events read to the end) through the gateway; the clients
    closed after."""
    async with AsyncOpenAI(base_url=gw.base_url, api_key=gw.token, max_retries=0) as client:
        provider = MultiProvider(openai_client=client)
        config = RunConfig(model_provider=provider, tracing_disabled=True)
        try:
            if not stream:
                return await Runner.run(agent, "What is the secret word?", run_config=config)
            streamed = Runner.run_streamed(agent, "What is the secret word?", run_config=config)
            async for _ in streamed.stream_events():
                pass
            return streamed
        finally:
            await provider.aclose()


def check_rows(gw: ResponsesGateway, before: int, route: str, provider: str, stream: bool) -> None:
    """Two requests (the tool call, then the answer to its result), each a ledger row of this key."""
    rows = gw.rows(before, route, 2)
    assert len(rows) == 2, rows
    for row in rows:
        assert row["status"] == 200, (row, gw.log()[-3000:])
        assert row["endpoint"] == "/v1/responses"
        assert (row["model_requested"], row["provider"]) == (route, provider)
        assert (row["user_id"], row["api_key_id"]) == (gw.user_id, gw.key_id)
        assert row["streamed"] == int(stream)
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0


def check_nothing_went_out(dead_end: DeadEndProxy) -> None:
    get_trace_provider().force_flush()  # what tracing would export, it exports now
    assert dead_end.targets == [], "the Agents SDK reached for the internet"


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("provider_type", list(ROUTES))
async def test_an_agent_calls_its_function_tool(
    gw: ResponsesGateway, provider_type: str, stream: bool, dead_end: DeadEndProxy, looked_up: list[str]
) -> None:
    alias, _ = ROUTES[provider_type]
    before = gw.last_row()
    result = await run(agent(alias, looked_up), gw, stream)
    assert len(looked_up) == 1, result
    assert SECRET in str(result.final_output), result.final_output
    check_rows(gw, before, alias, PROVIDER_TYPES[provider_type], stream)
    check_nothing_went_out(dead_end)


@pytest.mark.anyio
@pytest.mark.parametrize("model", [None, "openai/gpt-4o-mini"], ids=["default-model", "openai-prefix"])
async def test_a_bare_model_name_goes_to_the_default_provider(
    gw: ResponsesGateway, model: str | None, dead_end: DeadEndProxy, looked_up: list[str]
) -> None:
    """The SDK's own default model (no model named) and `openai/…`, which it sends without its prefix;
    `tool_choice="required"` has the model call the tool (the SDK resets it once it has)."""
    sent = get_default_model() if model is None else model.removeprefix("openai/")
    before = gw.last_row()
    result = await run(agent(model, looked_up, ModelSettings(tool_choice="required")), gw, stream=False)
    assert len(looked_up) == 1 and SECRET in str(result.final_output), result
    check_rows(gw, before, sent, "oai", stream=False)
    check_nothing_went_out(dead_end)
