"""A client dialect is registered by rows in a few tables (docs/ARCHITECTURE.md, "How to add a client
dialect"): these tests fail while one of its rows is missing, so a half-registered dialect cannot ship."""

from __future__ import annotations

from typing import get_args

import pytest

from llmgw.dialects import ClientDialect, Operation, UpstreamDialect
from llmgw.relay.bridge import (
    BRIDGES,
    Bridge,
    Context,
    ResponsesPassthrough,
    ResponsesToAnthropic,
    ResponsesToChat,
    ResponsesToGemini,
    bridge_for,
)
from llmgw.relay.endpoints import ENDPOINTS, ClientEndpoint, path_dialect
from llmgw.relay.output_cap import CAP_FIELDS
from llmgw.wire import CLIENT_WIRES

CLIENT_DIALECTS = get_args(ClientDialect)


@pytest.mark.parametrize("dialect", CLIENT_DIALECTS)
def test_every_client_dialect_has_its_wire_and_an_endpoint(dialect: str) -> None:
    assert dialect in CLIENT_WIRES, f"no row for {dialect!r} in llmgw/wire CLIENT_WIRES"
    assert any(e.dialect == dialect for e in ENDPOINTS), f"no endpoint speaks {dialect!r}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.path)
def test_every_endpoint_reaches_an_upstream_and_caps_what_it_streams(endpoint: ClientEndpoint) -> None:
    served = [u for u in get_args(UpstreamDialect) if (endpoint.dialect, endpoint.op, u) in BRIDGES]
    assert served, f"{endpoint.path}: no bridge from {endpoint.dialect} {endpoint.op} to any upstream"
    if endpoint.streams:  # it generates output: a budget needs its cap fields
        assert (endpoint.dialect, endpoint.op) in CAP_FIELDS, f"{endpoint.path}: no cap fields"
    assert path_dialect(endpoint.path) == endpoint.dialect


def test_endpoint_paths_are_unique() -> None:
    paths = [e.path for e in ENDPOINTS]
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize(
    ("path", "dialect"),
    [
        ("/v1/messages", "anthropic"),
        ("/v1/messages/count_tokens", "anthropic"),
        ("/v1/messages/batches", "anthropic"),  # under an Anthropic endpoint: Anthropic's errors
        ("/v1/responses", "responses"),
        ("/v1/responses/resp_123/input_items", "responses"),
        ("/v1/messagesx", "openai"),
        ("/v1/chat/completions", "openai"),
        ("/v1/nope", "openai"),
        ("/", "openai"),
        ("/v1beta/models/gemini-2.5-flash:generateContent", "gemini"),
        ("/v1beta/models/openai/gpt-4o-mini:streamGenerateContent", "gemini"),  # %2F decoded
        ("/v1/models/gemini-2.5-flash:countTokens", "gemini"),
        ("/v1/models/text-embedding-004:batchEmbedContents", "gemini"),
        ("/v1beta/models", "gemini"),
        ("/v1beta/anything", "gemini"),
        ("/v1/models/gpt-4o", "openai"),  # OpenAI's model lookup
        ("/v1/models/gpt-4o:nothing", "openai"),
        ("/v1betax", "openai"),
    ],
)
def test_a_path_takes_the_dialect_of_the_endpoint_at_or_above_it(path: str, dialect: str) -> None:
    assert path_dialect(path) == dialect


@pytest.mark.parametrize(
    ("upstream", "provider_type", "bridge", "upstream_op"),
    [
        ("openai", "openai", ResponsesPassthrough, Operation.RESPONSES),  # OpenAI's own Responses API
        ("openai", "openrouter", ResponsesToChat, Operation.CHAT),  # chat completions elsewhere
        ("openai", "openai-compatible", ResponsesToChat, Operation.CHAT),
        ("anthropic", "anthropic", ResponsesToAnthropic, Operation.CHAT),
        ("gemini", "gemini", ResponsesToGemini, Operation.CHAT),
    ],
)
def test_a_responses_client_passes_through_to_openai_itself_only(
    upstream: UpstreamDialect, provider_type: str, bridge: type[Bridge], upstream_op: Operation
) -> None:
    got = bridge_for("responses", Operation.CHAT, upstream, Context("m"), provider_type, "refuse")
    assert type(got) is bridge and got.upstream_op is upstream_op and got.hosted_tools == "refuse"


def test_other_clients_call_their_own_operation() -> None:
    for (client, op, upstream), _ in BRIDGES.items():
        if client != "responses":
            assert bridge_for(client, op, upstream, Context("m"), "openai").upstream_op is op
