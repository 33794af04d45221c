"""Upstream keys through the whole relay, in process: which errors retire a key, how a 429 cools it
(per model, upstream-stated or guessed), a keyring that cannot be read, a refresh while a request holds
a key, keys that cannot be a header value. The harness is tests/inprocess/test_relay_inprocess.py's."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from keyring.errors import KeyringLocked

from llmgw.relay.forward import retry_after
from llmgw.services import credentials
from tests.inprocess.test_relay_inprocess import (
    ANT_KEYS,
    OAI_KEYS,
    Running,
    anthropic_err,
    anthropic_error,
    anthropic_message,
    gateway,
    openai_chat,
    openai_err,
    openai_error,
    rate_limited,
)

pytestmark = pytest.mark.anyio

GEM = {"gem": {"type": "gemini", "base_url": "http://gem.test/v1beta"}}
GEM_KEYS = ["gem-first", "gem-second"]


def key_of(request: httpx.Request) -> str | None:
    for header in ("authorization", "x-api-key", "x-goog-api-key"):
        if (value := request.headers.get(header)) is not None:
            return str(value).removeprefix("Bearer ")
    return None


def keys(gw: Running) -> list[str | None]:
    return [key_of(r) for r in gw.upstreams.sent]


def model_of(request: httpx.Request) -> str:
    if request.url.host == "gem.test":  # .../models/gemini-2.0-flash:generateContent
        return request.url.path.rsplit("/", 1)[1].split(":")[0]
    model: str = httpx.Response(200, content=request.content).json()["model"]
    return model


def gemini_answer(text: str = "Paris.") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "candidates": [
                {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 2, "totalTokenCount": 10},
            "modelVersion": "gemini-2.0-flash",
        },
    )


def gemini_error(
    code: int, status: str, message: str, details: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "status": status, "details": details}}
    return httpx.Response(code, json=body, headers=headers)


def gemini_quota(model: str, delay: str = "58s", headers: dict[str, str] | None = None) -> httpx.Response:
    """Gemini's per-model quota 429, with the RetryInfo it sends."""
    violation = {
        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": "15",
    }
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]
    message = "You exceeded your current quota, please check your plan and billing details."
    return gemini_error(429, "RESOURCE_EXHAUSTED", message, details, headers)


def gemini_key_error(code: int, status: str, reason: str) -> httpx.Response:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
    return gemini_error(code, status, "API key not valid. Please pass a valid API key.", [info])


def moderation_403() -> httpx.Response:
    """OpenRouter's answer to input flagged by moderation: a 403 about the request, not the key."""
    body = {
        "error": {
            "code": 403,
            "message": 'gpt-4o-mini requires moderation on OpenAI. Your input was flagged for "harassment". '
            "No credits were charged.",
            "metadata": {
                "reasons": ["harassment"],
                "flagged_input": "What is the capital...",
                "provider_name": "OpenAI",
                "model_slug": "openai/gpt-4o-mini",
            },
        }
    }
    return httpx.Response(403, json=body)


# -- which errors retire a key -------------------------------------------------------------------


async def test_a_403_about_the_request_goes_back_to_the_client(tmp_path: Path) -> None:
    """One flagged message must not retire every key: the 403 goes back, with the upstream's reason,
    after one try; the keys keep serving other requests."""

    def answer(request: httpx.Request) -> httpx.Response:
        return moderation_403() if model_of(request) == "gpt-4o-mini" else openai_chat()

    async with gateway(tmp_path, answer) as gw:
        flagged = await gw.chat("oai/gpt-4o-mini")
        tried = keys(gw)
        others = [await gw.chat("oai/gpt-4o") for _ in range(3)]
    err = openai_err(flagged, 403)
    assert err["message"].startswith("Upstream provider 'oai' answered 403: gpt-4o-mini requires moderation")
    assert 'flagged for "harassment"' in err["message"]
    assert tried == ["oai-first"]  # not retried on the other keys
    assert [r.status_code for r in others] == [200, 200, 200]
    assert keys(gw) == ["oai-first", "oai-second", "oai-third", "oai-first"]
    row = gw.row(flagged)
    assert (row["status"], row["attempts"], row["key_index"]) == (403, 1, 1)


async def test_anthropic_permission_error_goes_back_without_retiring_the_key(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if len(keys_seen) == 1:
            return anthropic_error(
                403, "permission_error", "Your API key does not have permission to use it."
            )
        return anthropic_message()

    keys_seen: list[httpx.Request] = []

    async with gateway(tmp_path, lambda r: keys_seen.append(r) or answer(r)) as gw:
        refused = await gw.messages("ant/claude-sonnet-4-5")
        after = [await gw.messages("ant/claude-sonnet-4-5") for _ in range(2)]
    assert anthropic_err(refused, 403)["type"] == "permission_error"
    assert [r.status_code for r in after] == [200, 200]
    assert keys(gw) == ["ant-first", "ant-second", "ant-first"]  # ant-first still in the rotation


@pytest.mark.parametrize(
    ("provider", "refusal"),
    [
        (
            "oai",
            lambda: openai_error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            ),
        ),
        ("ant", lambda: anthropic_error(401, "authentication_error", "invalid x-api-key")),
        ("gem", lambda: gemini_key_error(400, "INVALID_ARGUMENT", "API_KEY_INVALID")),
        ("gem", lambda: gemini_key_error(403, "PERMISSION_DENIED", "API_KEY_SERVICE_BLOCKED")),
    ],
    ids=["openai_401", "anthropic_authentication_error", "gemini_API_KEY_INVALID", "gemini_API_KEY_blocked"],
)
async def test_a_verdict_about_the_key_retires_it(tmp_path: Path, provider: str, refusal: Any) -> None:
    first, second = {"oai": OAI_KEYS, "ant": ANT_KEYS, "gem": GEM_KEYS}[provider][:2]
    ok = {"oai": openai_chat, "ant": anthropic_message, "gem": gemini_answer}[provider]

    def answer(request: httpx.Request) -> httpx.Response:
        return refusal() if key_of(request) == first else ok()

    model = {"oai": "oai/gpt-4o-mini", "ant": "ant/claude-sonnet-4-5", "gem": "gem/gemini-2.0-flash"}[
        provider
    ]
    async with gateway(tmp_path, answer, keys={provider: [first, second]}, providers=GEM) as gw:
        responses = [await gw.chat(model) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert keys(gw) == [first, second, second, second]


# -- cool-downs ----------------------------------------------------------------------------------


async def test_a_guessed_cool_down_does_not_refuse_the_next_request(tmp_path: Path) -> None:
    """A 429 without Retry-After: the client gets the upstream's 429, and the next request is tried."""
    answers = iter([lambda request: rate_limited(request, None), lambda request: openai_chat()])

    async with gateway(tmp_path, lambda request: next(answers)(request), keys={"oai": OAI_KEYS[:1]}) as gw:
        limited = await gw.chat("oai/gpt-4o-mini")
        later = await gw.chat("oai/gpt-4o-mini")
    err = openai_err(limited, 429)
    assert err["message"].startswith(
        "Upstream provider 'oai' answered 429: Rate limit reached for gpt-4o-mini"
    )
    assert "retry-after" not in limited.headers  # the upstream stated no wait; the gateway invents none
    assert later.status_code == 200
    assert keys(gw) == ["oai-first", "oai-first"]
    assert [(gw.row(r)["status"], gw.row(r)["attempts"]) for r in (limited, later)] == [(429, 1), (200, 1)]


async def test_a_stated_wait_cools_only_that_model(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return rate_limited(request, "3600") if model_of(request) == "gpt-4o" else openai_chat()

    async with gateway(tmp_path, answer, keys={"oai": OAI_KEYS[:1]}) as gw:
        first = await gw.chat("oai/gpt-4o")
        other = await gw.chat("oai/gpt-4o-mini")
        again = await gw.chat("oai/gpt-4o")
    assert openai_err(first, 429)["message"] == (
        "Every upstream key for this model is rate limited; retry after 3600s."
    )
    assert first.headers["retry-after"] == "3600"
    assert other.status_code == 200
    assert openai_err(again, 429)["code"] == "rate_limit_exceeded"
    assert 3500 <= int(again.headers["retry-after"]) <= 3600  # what remains
    assert keys(gw) == ["oai-first", "oai-first"]  # the third was the gateway's own answer
    assert [gw.row(r)["attempts"] for r in (first, other, again)] == [1, 1, 0]


async def test_gemini_quota_is_per_model(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        model = model_of(request)
        return gemini_quota(model) if model == "gemini-2.0-flash" else gemini_answer()

    async with gateway(tmp_path, answer, keys={"gem": GEM_KEYS[:1]}, providers=GEM) as gw:
        limited = await gw.chat("gem/gemini-2.0-flash")
        other = await gw.chat("gem/gemini-2.5-flash")
        again = await gw.chat("gem/gemini-2.0-flash")
    assert openai_err(limited, 429)["code"] == "rate_limit_exceeded"
    assert limited.headers["retry-after"] == "58"  # from RetryInfo: the gateway may say so itself
    assert other.status_code == 200
    assert openai_err(again, 429) and 1 <= int(again.headers["retry-after"]) <= 58
    assert keys(gw) == ["gem-first", "gem-first"]


async def test_an_account_wide_429_cools_the_key_for_every_model(tmp_path: Path) -> None:
    """OpenAI's insufficient_quota is about the account: the key is put last for every model."""

    def answer(request: httpx.Request) -> httpx.Response:
        if key_of(request) == "oai-first":
            message = "You exceeded your current quota, please check your plan and billing details."
            return openai_error(429, message, "insufficient_quota", "insufficient_quota")
        return openai_chat()

    async with gateway(tmp_path, answer, keys={"oai": OAI_KEYS[:2]}) as gw:
        first = await gw.chat("oai/gpt-4o")
        other = await gw.chat("oai/gpt-4o-mini")  # round robin would pick oai-first now
    assert (first.status_code, other.status_code) == (200, 200)
    assert keys(gw) == ["oai-first", "oai-second", "oai-second"]


async def test_retry_after_as_an_http_date(tmp_path: Path) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)

    async with gateway(tmp_path, lambda r: rate_limited(r, when), keys={"oai": OAI_KEYS[:1]}) as gw:
        r = await gw.chat("oai/gpt-4o-mini")
    assert openai_err(r, 429)["code"] == "rate_limit_exceeded"
    assert 100 <= int(r.headers["retry-after"]) <= 121


async def test_a_retry_after_of_zero_is_kept(tmp_path: Path) -> None:
    """`Retry-After: 0` is the upstream's word (try again now), not a missing header: it wins over the
    body's RetryInfo, so the gateway neither answers for the upstream nor waits."""

    def answer(request: httpx.Request) -> httpx.Response:
        return gemini_quota("gemini-2.0-flash", "58s", {"retry-after": "0"})

    async with gateway(tmp_path, answer, keys={"gem": GEM_KEYS[:1]}, providers=GEM) as gw:
        first = await gw.chat("gem/gemini-2.0-flash")
        second = await gw.chat("gem/gemini-2.0-flash")
    for r in (first, second):
        assert openai_err(r, 429)["message"].startswith("Upstream provider 'gem' answered 429")
    assert keys(gw) == ["gem-first", "gem-first"]


def test_retry_after_header_forms() -> None:
    assert retry_after(httpx.Headers({"retry-after": "0"})) == 0.0
    assert retry_after(httpx.Headers({"retry-after": "7"})) == 7.0
    assert retry_after(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after(httpx.Headers({})) is None
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert retry_after(httpx.Headers({"retry-after": past})) == 0.0
    future = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 50 <= (retry_after(httpx.Headers({"retry-after": future})) or 0) <= 61


# -- the keyring --------------------------------------------------------------------------------


class LockableKeyring:
    """A keyring backend whose collection can be locked, as the Secret Service's can."""

    def __init__(self, entries: dict[str, str]) -> None:
        self.entries = entries
        self.locked = False

    def get_password(self, service: str, username: str) -> str | None:
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")
        return self.entries.get(username)


async def test_a_keyring_blip_keeps_the_current_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    backend = LockableKeyring({"oai": "oai-first", "oai.2": "oai-second", "backup": "backup-first"})
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    monkeypatch.setattr(credentials, "_warned_unavailable", False)
    monkeypatch.delenv("LLMGW_OAI_API_KEY", raising=False)

    def answer(request: httpx.Request) -> httpx.Response:
        if key_of(request) == "oai-first":
            return openai_error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        return openai_chat()

    source = credentials.KeyringKeySource()
    async with gateway(tmp_path, answer, source=source) as gw:
        before = await gw.chat("oai/gpt-4o-mini")  # oai-first refused: out until its secret changes
        backend.locked = True
        caplog.clear()
        with caplog.at_level(logging.WARNING, "llmgw"):
            await gw.loops.refresh_keys()
            await gw.loops.refresh_keys()
        during = [await gw.chat("oai/gpt-4o-mini") for _ in range(2)]
        backend.locked = False
        await gw.loops.refresh_keys()
        after = await gw.chat("oai/gpt-4o-mini")
    assert [r.status_code for r in (before, *during, after)] == [200, 200, 200, 200]
    assert keys(gw) == ["oai-first", "oai-second", "oai-second", "oai-second", "oai-second"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "keeping the current keys" in warnings[0]  # one line, not one per provider


def test_keyring_source_falls_back_to_the_environment_only_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = LockableKeyring({"oai": "oai-first"})
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    monkeypatch.setattr(credentials, "_warned_unavailable", False)
    monkeypatch.setenv("LLMGW_OAI_API_KEY", "oai-from-env")
    monkeypatch.setenv("LLMGW_BACKUP_API_KEY", "backup-from-env")
    source = credentials.KeyringKeySource()
    backend.locked = True
    assert source.keys("oai") == ["oai-from-env"]  # start-up: the environment stands in
    assert source.reread("oai") == ["oai-from-env"]  # the keyring has never been read: nothing to keep
    backend.locked = False
    assert source.reread("oai") == ["oai-first"]
    backend.locked = True
    with pytest.raises(credentials.SecretBackendUnavailable, match="locked"):
        source.reread("oai")  # a blip: the caller keeps what it has
    assert source.keys("backup") == ["backup-from-env"]  # start-up of another provider still falls back


# -- a refresh during a request ------------------------------------------------------------------


class Body(httpx.AsyncByteStream):
    """An upstream body that notes whether it was closed."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.content

    async def aclose(self) -> None:
        self.closed = True


async def test_a_key_refresh_during_a_request_keeps_its_answer(tmp_path: Path) -> None:
    """The pool shrinks while the request holds key #2: the paid answer still reaches the client."""
    body = Body(openai_chat().content)
    holder: list[Running] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if key_of(request) == "oai-first":
            return openai_error(500, "The server had an error.", "server_error")
        holder[0].runtime.upstreams["oai"].keys.refresh(["oai-first"])  # oai-second is gone meanwhile
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=body)

    async with gateway(tmp_path, answer) as gw:
        holder.append(gw)
        r = await gw.chat("oai/gpt-4o-mini")
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "The capital of France is Paris."
    assert body.closed
    row = gw.row(r)
    assert (row["status"], row["key_index"], row["attempts"]) == (200, 2, 2)


# -- keys that cannot be a header value ----------------------------------------------------------


async def test_keys_unfit_for_a_header_are_left_out_at_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = ["oai-first\r", "oai-sécond"]

    def answer(request: httpx.Request) -> httpx.Response:
        key = key_of(request) or ""
        if "\r" in key or "\n" in key:  # as the aiohttp transport does
            raise ValueError(
                "Newline or carriage return character detected in HTTP status message or header."
            )
        return openai_chat()

    with caplog.at_level(logging.WARNING, "llmgw"):
        async with gateway(tmp_path, answer, keys={"oai": [*bad, "oai-third"]}) as gw:
            responses = [await gw.chat("oai/gpt-4o-mini") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert keys(gw) == ["oai-third"] * 3
    assert {gw.row(r)["key_index"] for r in responses} == {3}  # its number in the keyring / environment
    lines = [r.getMessage() for r in caplog.records if r.name == "llmgw.keys"]
    assert [line.split(" contains")[0] for line in lines] == ["provider oai key #1", "provider oai key #2"]
    assert "oai-first" not in caplog.text and "sécond" not in caplog.text


def test_secret_set_refuses_a_provider_key_unfit_for_a_header() -> None:
    for value in ("sk-sécond", "sk-a b", "sk-\tx", "sk-\x7f"):
        with pytest.raises(ValueError, match="visible ASCII"):
            credentials.set_secret("openai.2", value)
