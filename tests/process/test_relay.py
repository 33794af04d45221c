"""The OpenAI-format paths end to end: official `openai` SDK → llmgw under hypercorn → fake upstream."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import PROXY_KEY, UPSTREAM_KEY, ledger_row
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=PROXY_KEY, max_retries=0, timeout=20) as c:
        yield c


def last_upstream(fake: FakeOpenAI, model: str) -> dict:  # type: ignore[type-arg]
    found = [r for r in fake.requests if r.model == model]
    assert found, f"the upstream never saw model {model!r}"
    return {"json": found[-1].json, "headers": found[-1].headers, "key": found[-1].api_key}


def test_chat_non_stream(client: openai.OpenAI, fake: FakeOpenAI, gateway: GatewayProcess) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="up/gpt-4o-mini",
        messages=USER,
        temperature=0.2,
        extra_body={"vendor_thing": {"nested": [1, 2]}},
        extra_headers={"cookie": "session=secret-cookie", "x-api-key": "client-x-api-key"},
    )
    completion = raw.parse()
    assert "capital of France" in (completion.choices[0].message.content or "")
    assert completion.usage and completion.usage.total_tokens > 0
    seen = last_upstream(fake, "gpt-4o-mini")
    # unchanged but for `model`, unknown fields included
    assert seen["json"] == {
        "model": "gpt-4o-mini",
        "messages": USER,
        "temperature": 0.2,
        "vendor_thing": {"nested": [1, 2]},
    }
    # our key upstream, never the client's credentials
    assert seen["key"] == UPSTREAM_KEY
    assert seen["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "cookie" not in seen["headers"] and "x-api-key" not in seen["headers"]
    assert PROXY_KEY not in str(dict(seen["headers"]))
    row = ledger_row(gateway.db_path, raw.headers["x-request-id"])
    assert row["status"] == 200 and row["provider"] == "up" and row["model_upstream"] == "gpt-4o-mini"
    assert row["key_index"] == 1 and not row["streamed"]
    assert row["total_tokens"] == completion.usage.total_tokens
    assert row["prompt_tokens"] == completion.usage.prompt_tokens


def test_chat_stream_without_usage(client: openai.OpenAI, fake: FakeOpenAI, gateway: GatewayProcess) -> None:
    raw = client.chat.completions.with_raw_response.create(model="fast", messages=USER, stream=True)
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "capital of France" in text
    assert all(c.usage is None and c.choices for c in chunks)  # no trace of the usage we asked for
    seen = last_upstream(fake, "gpt-4o-mini")
    assert seen["json"]["stream_options"] == {"include_usage": True}
    row = ledger_row(gateway.db_path, raw.headers["x-request-id"])
    assert row["streamed"] and row["status"] == 200 and row["model_requested"] == "fast"
    assert row["completion_tokens"] and row["total_tokens"] and not row["tokens_estimated"]
    assert row["ttft_ms"] is not None and row["ttft_ms"] <= row["latency_ms"]


def test_chat_stream_with_usage(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="up/gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(raw.parse())
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    row = ledger_row(gateway.db_path, raw.headers["x-request-id"])
    assert row["total_tokens"] == chunks[-1].usage.total_tokens


def test_legacy_completions(client: openai.OpenAI) -> None:
    done = client.completions.create(model="up/gpt-3.5-turbo-instruct", prompt="Say this is a test")
    assert done.object == "text_completion" and done.choices[0].text
    streamed = list(client.completions.create(model="up/gpt-3.5-turbo-instruct", prompt="Hi", stream=True))
    assert streamed and all(c.object == "text_completion" for c in streamed)


@pytest.mark.parametrize("encoding", ["base64", "float"])
def test_embeddings(client: openai.OpenAI, encoding: str, gateway: GatewayProcess) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="up/text-embedding-3-small",
        input=["Hello, world!", "Bye"],
        encoding_format=encoding,  # type: ignore[arg-type]
    )
    result = raw.parse()
    assert len(result.data) == 2 and len(result.data[0].embedding) > 100
    row = ledger_row(gateway.db_path, raw.headers["x-request-id"])
    assert row["prompt_tokens"] == result.usage.prompt_tokens and row["status"] == 200


def test_sdk_default_embeddings_arrive_as_base64(gateway: GatewayProcess) -> None:
    body = {"model": "up/text-embedding-3-small", "input": "Hello", "encoding_format": "base64"}
    r = httpx.post(
        f"{gateway.base_url}/v1/embeddings", json=body, headers={"authorization": f"Bearer {PROXY_KEY}"}
    )
    assert r.status_code == 200
    vector = base64.b64decode(r.json()["data"][0]["embedding"])
    assert len(vector) % 4 == 0 and len(vector) > 400


def test_models(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"fast", "resilient", "listed/m1", "listed/m2"} <= ids
    assert "up/gpt-oss-120b" in ids  # from the upstream's own /models (recorded listing)
    assert "dead/gpt-4o-mini" not in ids  # an unreachable upstream is left out, not an error
    assert client.models.retrieve("listed/m1").id == "listed/m1"
    assert client.models.retrieve("fast").owned_by == "llmgw"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("listed/m3")


def test_openrouter_attribution_headers(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    client.chat.completions.create(model="orouter/openai/gpt-4o", messages=USER)
    seen = last_upstream(fake, "openai/gpt-4o")  # everything after the first `/` is the upstream model
    assert seen["headers"]["http-referer"] == "https://example.test"
    assert seen["headers"]["x-title"] == "llmgw tests"


def test_healthz_needs_no_key(gateway: GatewayProcess) -> None:
    assert httpx.get(f"{gateway.base_url}/healthz").json() == {"status": "ok"}


# -- routing and keys -------------------------------------------------------------------------


def test_429_rotates_to_the_next_key(
    client: openai.OpenAI, fake: FakeOpenAI, gateway: GatewayProcess
) -> None:
    fake.clear()
    raw = client.chat.completions.with_raw_response.create(model="rot/gpt-4o-mini", messages=USER)
    assert raw.parse().choices[0].message.content
    assert [r.api_key for r in fake.requests] == ["sk-key-429", UPSTREAM_KEY]
    row = ledger_row(gateway.db_path, raw.headers["x-request-id"])
    assert row["key_index"] == 2 and row["attempts"] == 2
    fake.clear()
    client.chat.completions.create(model="rot/gpt-4o-mini", messages=USER)
    assert [r.api_key for r in fake.requests] == [UPSTREAM_KEY]  # key 1 is cooling for its Retry-After


def test_all_keys_cooling_gives_429_with_retry_after(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as first:
        client.chat.completions.create(model="cool/gpt-4o-mini", messages=USER)
    assert 1 <= int(first.value.response.headers["retry-after"]) <= 7
    fake.clear()
    with pytest.raises(openai.RateLimitError) as second:
        client.chat.completions.create(model="cool/gpt-4o-mini", messages=USER)
    assert fake.requests == []  # the cooling key is not even tried
    assert int(second.value.response.headers["retry-after"]) <= 7
    assert "sk-key-429" not in second.value.response.text


def test_rejected_key_is_taken_out(client: openai.OpenAI, fake: FakeOpenAI, gateway: GatewayProcess) -> None:
    fake.clear()
    with pytest.raises(openai.InternalServerError) as info:  # 503: nothing usable, and not the client's fault
        client.chat.completions.create(model="rejected/gpt-4o-mini", messages=USER)
    assert info.value.status_code == 503
    assert info.value.code == "no_usable_upstream_key"
    assert len(fake.requests) == 1
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="rejected/gpt-4o-mini", messages=USER)
    assert len(fake.requests) == 1  # never retried with the rejected secret
    assert "sk-key-401" not in info.value.response.text
    assert gateway.log().count("key #1 rejected by upstream (HTTP 401)") == 1


def test_5xx_retries_on_the_next_key(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    fake.clear()
    assert client.chat.completions.create(model="flaky/gpt-4o-mini", messages=USER).choices
    assert [r.api_key for r in fake.requests] == ["sk-key-500", UPSTREAM_KEY]


def test_alias_falls_back_when_the_first_target_is_unreachable(
    client: openai.OpenAI, gateway: GatewayProcess
) -> None:
    raw = client.chat.completions.with_raw_response.create(model="resilient", messages=USER)
    assert raw.parse().choices[0].message.content
    row = ledger_row(gateway.db_path, raw.headers["x-request-id"])
    assert row["provider"] == "up" and row["attempts"] == 2


# -- bad input ----------------------------------------------------------------------------------


def post(
    gateway: GatewayProcess, body: bytes | dict, key: str | None = PROXY_KEY, **kw: object
) -> httpx.Response:  # type: ignore[type-arg]
    headers = {"authorization": f"Bearer {key}"} if key else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        content=content,
        headers={**headers, "content-type": "application/json"},
        timeout=20,
        **kw,  # type: ignore[arg-type]
    )


def assert_openai_error(r: httpx.Response, status: int, param: str | None = None) -> dict:  # type: ignore[type-arg]
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if param:
        assert err["param"] == param
    assert r.headers["x-request-id"].startswith("req_")
    return err  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        ({"messages": USER}, 400, "model"),
        ({"model": "", "messages": USER}, 400, "model"),
        ({"model": 42, "messages": USER}, 400, "model"),
        ({"model": "up/x"}, 400, "messages"),
        ({"model": "up/x", "messages": "hello"}, 400, "messages"),
        ({"model": "up/x", "messages": []}, 400, "messages"),
        ({"model": "up/x", "messages": [{"content": "no role"}]}, 400, "messages"),
        ({"model": "up/x", "messages": USER, "stream": "yes"}, 400, "stream"),
        ({"model": "up/x", "messages": USER, "stream": True, "stream_options": 3}, 400, "stream_options"),
        ({"model": "nope/x", "messages": USER}, 404, "model"),
        ({"model": "listed/not-allowed", "messages": USER}, 404, "model"),
        ({"model": "unknown-alias", "messages": USER}, 404, "model"),
    ],
)
def test_bad_requests(gateway: GatewayProcess, body: bytes | dict, status: int, param: str | None) -> None:  # type: ignore[type-arg]
    assert_openai_error(post(gateway, body), status, param)


def test_body_too_large(gateway: GatewayProcess) -> None:
    big = {"model": "up/x", "messages": [{"role": "user", "content": "x" * 300_000}]}
    err = assert_openai_error(post(gateway, big), 413)
    assert err["code"] == "request_too_large"


def test_body_too_large_without_content_length(gateway: GatewayProcess) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "up/x", "messages": [{"role": "user", "content": "'
        for _ in range(30):
            yield b"y" * 10_000
        yield b'"}]}'

    r = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        content=chunks(),
        headers={"authorization": f"Bearer {PROXY_KEY}"},
    )
    assert_openai_error(r, 413)


@pytest.mark.parametrize("key", [None, "wrong-key", PROXY_KEY + "x", PROXY_KEY[:-1]])
def test_missing_or_wrong_key(gateway: GatewayProcess, key: str | None) -> None:
    err = assert_openai_error(post(gateway, {"model": "up/x", "messages": USER}, key=key), 401)
    assert err["code"] == "invalid_api_key"


def test_x_api_key_header_is_accepted(gateway: GatewayProcess) -> None:
    r = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "up/gpt-4o-mini", "messages": USER},
        headers={"x-api-key": PROXY_KEY},
    )
    assert r.status_code == 200


def test_wrong_key_via_sdk(gateway: GatewayProcess) -> None:
    with openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="nope", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="up/x", messages=USER)  # type: ignore[arg-type]
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()


def test_unknown_route_and_method(gateway: GatewayProcess) -> None:
    assert_openai_error(httpx.get(f"{gateway.base_url}/v1/nothing"), 404)
    assert_openai_error(httpx.get(f"{gateway.base_url}/v1/chat/completions"), 405)


# -- upstream faults ----------------------------------------------------------------------------


def test_upstream_4xx_is_passed_through(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="up/bad-request", messages=USER)
    body = info.value.response.json()["error"]
    assert "Upstream provider 'up' answered 400" in body["message"]
    assert UPSTREAM_KEY not in info.value.response.text


def test_upstream_unreachable_is_502(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="dead/gpt-4o-mini", messages=USER)
    assert info.value.status_code == 502
    rid = info.value.response.headers["x-request-id"]
    assert ledger_row(gateway.db_path, rid)["error_type"] == "upstream_unavailable"


def test_upstream_first_byte_timeout_is_504(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="slow/slow-5", messages=USER)
    assert info.value.status_code == 504


def test_upstream_5xx_after_all_keys(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="up/fail-503", messages=USER)
    assert info.value.status_code == 503


def test_reset_mid_stream(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    raw = client.chat.completions.with_raw_response.create(model="up/reset-3", messages=USER, stream=True)
    got: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in raw.parse():
            got.append(chunk.choices[0].delta.content or "")
    assert len(got) >= 3  # what arrived before the cut reached the client
    assert "up" in str(info.value.message)
    row = ledger_row(gateway.db_path, raw.headers["x-request-id"])
    assert row["status"] == 200 and row["error_type"] == "upstream_unavailable" and not row["client_closed"]
    assert row["completion_tokens"] and row["tokens_estimated"]


def test_stall_mid_stream_hits_the_chunk_timeout(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    raw = client.chat.completions.with_raw_response.create(model="slow/stall-2", messages=USER, stream=True)
    with pytest.raises(openai.APIError):
        list(raw.parse())
    row = ledger_row(gateway.db_path, raw.headers["x-request-id"])
    assert row["error_type"] == "upstream_timeout"


def test_reset_before_any_answer_is_502(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    fake.clear()
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="up/reset-0", messages=USER)
    assert info.value.status_code == 502
    assert len(fake.requests) == 1  # a provider-level failure: no point trying its other keys


def test_reset_right_after_the_role_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="up/reset-0", messages=USER, stream=True)
    with pytest.raises(openai.APIError):
        list(stream)


def test_client_disconnect_cancels_upstream(gateway: GatewayProcess, fake: FakeOpenAI) -> None:
    body = {"model": "up/drip-50", "messages": USER, "stream": True}
    headers = {"authorization": f"Bearer {PROXY_KEY}"}
    before = len(fake.disconnects)
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", json=body, headers=headers) as r:
        rid = r.headers["x-request-id"]
        lines = r.iter_lines()
        seen = 0
        for line in lines:
            seen += line.startswith("data: ")
            if seen == 5:
                break
    fake.wait_for_disconnects(before + 1, timeout=3.0)  # the upstream request was cancelled promptly
    row = ledger_row(gateway.db_path, rid)
    assert row["client_closed"] and row["status"] == 200
    assert 4 <= row["completion_tokens"] < 200 and row["tokens_estimated"]


# -- logs ----------------------------------------------------------------------------------------


def test_one_log_line_per_request_and_no_secrets(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    raw = client.chat.completions.with_raw_response.create(model="up/gpt-4o-mini", messages=USER)
    rid = raw.headers["x-request-id"]
    ledger_row(gateway.db_path, rid)
    lines = [ln for ln in gateway.log().splitlines() if rid in ln]
    assert len(lines) == 1
    line = lines[0]
    assert " 200 " in line and "model=up/gpt-4o-mini" in line and "latency_ms=" in line
    log = gateway.log()
    for secret in (PROXY_KEY, UPSTREAM_KEY, "sk-key-429", "sk-key-401", "sk-key-500"):
        assert secret not in log
