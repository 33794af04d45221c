"""Model access on the hot path, in process (relay/access.py, relay/model_list.py): a model the caller's
user or key may not call is a 403 in each client dialect naming the model, recorded and never sent
upstream; an alias reaches only the targets allowed; a key's access is its user's list intersected with
its own; the model lists (OpenAI's and Gemini's shapes) show only what the caller may call; a change
applies at the key index's next reload, without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmgw.services import model_access
from llmgw.services.audit import Actor
from llmgw.services.key_index import KeyIndex
from llmgw.storage import Store
from tests.inprocess.test_limits_relay import account
from tests.inprocess.test_relay_inprocess import (
    USER,
    Running,
    anthropic_err,
    anthropic_message,
    gateway,
    openai_chat,
    openai_err,
)
from tests.support.accounts_rows import Key

pytestmark = pytest.mark.anyio

USERS = {"auth_mode": "users"}
CLI = Actor.cli()


def answer(request: httpx.Request) -> httpx.Response:
    if request.method == "GET":  # oai's own listing (it has no allow-list)
        listing = [{"id": m, "object": "model", "created": 1, "owned_by": "system"} for m in ("gpt-4o", "o3")]
        return httpx.Response(200, json={"object": "list", "data": listing})
    return anthropic_message() if request.url.host == "ant.test" else openai_chat()


def index_of(running: Running) -> KeyIndex:
    index = running.runtime.key_index
    assert index is not None  # `users` and `both` modes have one
    return index


def restrict(tmp_path: Path, ref: str, *patterns: str) -> None:
    """As `llmgw access set` would, from another connection."""
    with Store.open(tmp_path / "llmgw.db") as store:
        model_access.set_access(store, CLI, ref, patterns)


async def call(running: Running, key: Key, dialect: str, model: str) -> httpx.Response:
    """One request of `dialect`'s client for `model`."""
    if dialect == "openai":
        body: dict[str, Any] = {"model": model, "messages": USER}
        return await running.client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key.token}"}
        )
    if dialect == "responses":
        body = {"model": model, "input": "What is the capital of France?"}
        return await running.client.post(
            "/v1/responses", json=body, headers={"authorization": f"Bearer {key.token}"}
        )
    if dialect == "anthropic":
        body = {"model": model, "max_tokens": 64, "messages": USER}
        return await running.client.post("/v1/messages", json=body, headers={"x-api-key": key.token})
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    return await running.client.post(
        f"/v1beta/models/{model}:generateContent", json=body, headers={"x-goog-api-key": key.token}
    )


def refusal_message(r: httpx.Response, dialect: str) -> str:
    """The 403's message, after checking the body is `dialect`'s error shape."""
    if dialect in ("openai", "responses"):
        err = openai_err(r, 403)
        assert (err["type"], err["code"], err["param"]) == (
            "invalid_request_error",
            "model_not_allowed",
            "model",
        )
        message: str = err["message"]
        return message
    if dialect == "anthropic":
        err = anthropic_err(r, 403)
        assert err["type"] == "permission_error"
        message = err["message"]
        return message
    assert r.status_code == 403, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == 403
    assert body["error"]["status"] == "PERMISSION_DENIED"
    message = body["error"]["message"]
    return message


@pytest.mark.parametrize("dialect", ["openai", "responses", "anthropic", "gemini"])
async def test_a_model_not_allowed_is_a_403_in_the_callers_dialect(tmp_path: Path, dialect: str) -> None:
    key = account(tmp_path)
    restrict(tmp_path, "ada", "oai/*")
    async with gateway(tmp_path, answer, server=USERS) as running:
        refused = await call(running, key, dialect, "claude")  # an alias routed to ant/…
        direct = await call(running, key, dialect, "ant/claude-sonnet-4-5")
        allowed = await call(running, key, "openai", "oai/gpt-4o-mini")
    message = refusal_message(refused, dialect)
    assert "The model `claude` is not allowed for this API key" in message
    assert "`ant/claude-sonnet-4-5`" in refusal_message(direct, dialect)
    assert "ant" not in running.upstreams.hosts and allowed.status_code == 200
    row = running.row(refused)
    assert (row["status"], row["error_type"], row["model_requested"]) == (403, "model_not_allowed", "claude")
    assert row["error_kind"] == "policy"
    assert row["user_id"] == key.user_id and row["api_key_id"] == key.key_id


async def test_a_key_is_held_to_its_users_list_and_its_own(tmp_path: Path) -> None:
    key = account(tmp_path)
    restrict(tmp_path, "ada", "oai/*", "claude")
    restrict(tmp_path, key.public_id, "oai/gpt-4o-mini", "ant/*")
    async with gateway(tmp_path, answer, server=USERS) as running:
        both = await call(running, key, "openai", "oai/gpt-4o-mini")
        user_only = await call(running, key, "openai", "oai/gpt-4o")  # the key's list refuses it
        key_only = await call(running, key, "anthropic", "ant/claude-sonnet-4-5")  # the user's refuses it
        alias = await call(running, key, "anthropic", "claude")  # the user's by name, the key's by target
    assert both.status_code == 200
    assert "`oai/gpt-4o`" in refusal_message(user_only, "openai")
    assert "`ant/claude-sonnet-4-5`" in refusal_message(key_only, "anthropic")
    assert alias.status_code == 200


async def test_an_alias_by_its_name_keeps_its_fallbacks_else_only_allowed_targets(tmp_path: Path) -> None:
    key = account(tmp_path)
    restrict(tmp_path, key.public_id, "backup/*")  # `smart` is oai/gpt-4o-mini, then backup/gpt-4o-mini
    async with gateway(tmp_path, answer, server=USERS) as running:
        through_target = await call(running, key, "openai", "smart")
        restrict(tmp_path, key.public_id, "smart")
        await asyncio.to_thread(index_of(running).refresh)  # what the index watch does
        by_name = await call(running, key, "openai", "smart")
    assert through_target.status_code == 200 and by_name.status_code == 200
    assert running.upstreams.hosts == ["backup.test", "oai.test"]  # the first skipped oai: not allowed


async def test_a_change_applies_without_a_restart(tmp_path: Path) -> None:
    key = account(tmp_path)
    async with gateway(tmp_path, answer, server=USERS) as running:
        index = index_of(running)
        before = await call(running, key, "openai", "oai/gpt-4o-mini")
        restrict(tmp_path, "ada", "ant/*")
        assert await asyncio.to_thread(index.refresh)
        during = await call(running, key, "openai", "oai/gpt-4o-mini")
        with Store.open(tmp_path / "llmgw.db") as store:
            model_access.clear_access(store, CLI, "ada")
        assert await asyncio.to_thread(index.refresh)
        after = await call(running, key, "openai", "oai/gpt-4o-mini")
    assert (before.status_code, during.status_code, after.status_code) == (200, 403, 200)


def ids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [m["id"] for m in r.json()["data"]]


async def test_the_model_lists_show_only_what_the_caller_may_call(tmp_path: Path) -> None:
    key = account(tmp_path)
    restrict(tmp_path, "ada", "oai/gpt-*", "claude", "backup/*")
    bearer = {"authorization": f"Bearer {key.token}"}
    goog = {"x-goog-api-key": key.token}
    async with gateway(tmp_path, answer, server=USERS) as running:
        listed = await running.client.get("/v1/models", headers=bearer)
        alias = await running.client.get("/v1/models/smart", headers=bearer)  # through backup/gpt-4o-mini
        allowed = await running.client.get("/v1/models/oai/gpt-4o", headers=bearer)
        refused = await running.client.get("/v1/models/oai/o3", headers=bearer)
        gemini = await running.client.get("/v1beta/models", headers=goog)
        gemini_refused = await running.client.get("/v1beta/models/oai/o3", headers=goog)
        gemini_one = await running.client.get("/v1beta/models/claude", headers=goog)
        restrict(tmp_path, key.public_id, "ant/*")  # the intersection: only ant's, through `claude` too
        await asyncio.to_thread(index_of(running).refresh)
        narrowed = await running.client.get("/v1/models", headers=bearer)
    assert ids(listed) == ["smart", "claude", "oai/gpt-4o", "backup/gpt-4o-mini"]
    assert alias.status_code == 200 and allowed.json()["id"] == "oai/gpt-4o"
    assert "The model `oai/o3` is not allowed" in refusal_message(refused, "openai")
    assert [m["name"] for m in gemini.json()["models"]] == [
        "models/smart",
        "models/claude",
        "models/oai/gpt-4o",
        "models/backup/gpt-4o-mini",
    ]
    assert "`oai/o3`" in refusal_message(gemini_refused, "gemini")
    assert gemini_one.json()["name"] == "models/claude"
    assert ids(narrowed) == ["claude"]


async def test_the_proxy_key_and_unrestricted_keys_see_everything(tmp_path: Path) -> None:
    key = account(tmp_path)
    async with gateway(tmp_path, answer, server={"auth_mode": "both"}) as running:
        mine = await running.client.get("/v1/models", headers={"authorization": f"Bearer {key.token}"})
        legacy = await running.client.get(
            "/v1/models", headers={"authorization": "Bearer llmgw-inprocess-proxy-key-42"}
        )
    assert ids(mine) == ids(legacy) and len(ids(mine)) == 6
