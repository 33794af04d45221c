"""`GET` / `DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items` through the whole app
(`create_app` over `httpx.ASGITransport`): a stored response for its owner only, OpenAI's shapes and
errors, the legacy proxy key's own, and a response an OpenAI upstream keeps asked of it with the very
key that made it (`httpx.MockTransport` sees which). Responses are put there the way the relay's
`/v1/responses` hook does it: through the running gateway's `stored_responses`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from llmgw import cli
from llmgw.relay.keypool import fingerprint
from llmgw.services import keys, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.inprocess.test_relay_inprocess import PROXY_KEY, Running, gateway, key_of, openai_err, openai_error

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]

OPENAI_KEYS = ["sk-openai-first-0001", "sk-openai-second-0002"]
OPENAI = {"openai": {"type": "openai", "base_url": "http://openai.test/v1"}}
CLI = Actor(name="cli:tester")


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def answer(response_id: str, text: str) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1741386163,
        "status": "completed",
        "model": "claude-sonnet-4-5",
        "output": [
            {
                "id": f"msg_{response_id}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "previous_response_id": None,
        "usage": {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12},
    }


def save(gw: Running, response_id: str, text: str, *, user: int | None, previous: str | None = None) -> None:
    assert gw.runtime.stored_responses.save(
        answer(response_id, text),
        input_items=[{"role": "user", "content": f"question of {response_id}"}],
        user_id=user,
        api_key_id=None,
        provider="ant",
        previous_response_id=previous,
    )


def nothing_upstream(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no upstream request expected: {request.method} {request.url}")


def not_found(r: httpx.Response, response_id: str) -> None:
    err = openai_err(r, 404)
    assert err == {
        "message": f"Response with id '{response_id}' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def people(tmp_path: Path) -> tuple[int, str, str]:
    """ada and bob, each with a personal key: (ada's id, her token, his token)."""
    with Store.open(tmp_path / "llmgw.db") as store:
        ada = users.create_user(store, CLI, "ada", "a long enough password").id
        users.create_user(store, CLI, "bob", "a long enough password")
        return ada, keys.create_key(store, CLI, "ada").token, keys.create_key(store, CLI, "bob").token


async def test_a_stored_response_read_listed_and_deleted_with_the_proxy_key(tmp_path: Path) -> None:
    async with gateway(tmp_path, nothing_upstream) as gw:
        save(gw, "resp_1", "Paris.", user=None)
        save(gw, "resp_2", "Berlin.", user=None, previous="resp_1")
        got = await gw.client.get("/v1/responses/resp_2", headers=bearer(PROXY_KEY))
        assert got.status_code == 200 and got.headers["content-type"] == "application/json"
        assert got.json() == answer("resp_2", "Berlin.")

        listed = await gw.client.get(
            "/v1/responses/resp_2/input_items", params={"limit": 2, "order": "asc"}, headers=bearer(PROXY_KEY)
        )
        assert listed.status_code == 200
        page = listed.json()
        assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}
        assert page["object"] == "list" and page["has_more"] is True
        assert [i["type"] for i in page["data"]] == ["message", "message"]
        assert page["data"][0]["content"] == [{"type": "input_text", "text": "question of resp_1"}]
        assert page["data"][1] == answer("resp_1", "Paris.")["output"][0]
        rest = await gw.client.get(
            "/v1/responses/resp_2/input_items",
            params={"order": "asc", "after": page["last_id"]},
            headers=bearer(PROXY_KEY),
        )
        assert [i["content"][0]["text"] for i in rest.json()["data"]] == ["question of resp_2"]
        newest = await gw.client.get("/v1/responses/resp_2/input_items", headers=bearer(PROXY_KEY))
        assert newest.json()["data"][0]["content"][0]["text"] == "question of resp_2"  # desc by default

        for params, param in (
            ({"limit": "0"}, "limit"),
            ({"limit": "x"}, "limit"),
            ({"order": "up"}, "order"),
        ):
            bad = await gw.client.get(
                "/v1/responses/resp_2/input_items", params=params, headers=bearer(PROXY_KEY)
            )
            assert openai_err(bad, 400)["param"] == param
        streamed = await gw.client.get(
            "/v1/responses/resp_2", params={"stream": "true"}, headers=bearer(PROXY_KEY)
        )
        assert openai_err(streamed, 400)["param"] == "stream"

        deleted = await gw.client.delete("/v1/responses/resp_2", headers=bearer(PROXY_KEY))
        assert deleted.status_code == 200
        assert deleted.json() == {"id": "resp_2", "object": "response", "deleted": True}
        not_found(await gw.client.get("/v1/responses/resp_2", headers=bearer(PROXY_KEY)), "resp_2")
        not_found(await gw.client.delete("/v1/responses/resp_2", headers=bearer(PROXY_KEY)), "resp_2")
        not_found(
            await gw.client.get("/v1/responses/resp_2/input_items", headers=bearer(PROXY_KEY)), "resp_2"
        )
        not_found(await gw.client.get("/v1/responses/resp_nope", headers=bearer(PROXY_KEY)), "resp_nope")

        refused = await gw.client.get("/v1/responses/resp_1")
        assert openai_err(refused, 401)["code"] == "invalid_api_key"
        wrong = await gw.client.delete("/v1/responses/resp_1", headers=bearer("not-the-key"))
        assert openai_err(wrong, 401)["code"] == "invalid_api_key"
        assert gw.runtime.auth_failures.total == 2
        posted = await gw.client.post("/v1/responses/resp_1", headers=bearer(PROXY_KEY))
        assert openai_err(posted, 405)["code"] == "method_not_allowed"
    assert gw.rows() == {}  # not model calls: no ledger rows
    with Store.open(tmp_path / "llmgw.db") as store:  # written by shutdown
        assert store.stored_response("resp_1") is not None and store.stored_response("resp_2") is None


async def test_only_the_owner_sees_a_stored_response(tmp_path: Path) -> None:
    ada, ada_key, bob_key = people(tmp_path)
    async with gateway(tmp_path, nothing_upstream, server={"auth_mode": "both"}) as gw:
        save(gw, "resp_ada", "For Ada.", user=ada)
        save(gw, "resp_legacy", "For the proxy key.", user=None)
        assert (await gw.client.get("/v1/responses/resp_ada", headers=bearer(ada_key))).status_code == 200
        for key in (bob_key, PROXY_KEY):
            not_found(await gw.client.get("/v1/responses/resp_ada", headers=bearer(key)), "resp_ada")
            not_found(await gw.client.delete("/v1/responses/resp_ada", headers=bearer(key)), "resp_ada")
            listed = await gw.client.get("/v1/responses/resp_ada/input_items", headers=bearer(key))
            not_found(listed, "resp_ada")
        assert (
            await gw.client.get("/v1/responses/resp_legacy", headers=bearer(PROXY_KEY))
        ).status_code == 200
        for key in (ada_key, bob_key):
            not_found(await gw.client.get("/v1/responses/resp_legacy", headers=bearer(key)), "resp_legacy")
        still = await gw.client.get("/v1/responses/resp_ada", headers=bearer(ada_key))
        assert still.json() == answer("resp_ada", "For Ada.")


async def test_an_openai_kept_response_goes_to_its_provider_with_the_key_that_made_it(tmp_path: Path) -> None:
    upstream_response = {**answer("resp_up", "From OpenAI."), "model": "gpt-4o-2024-08-06"}
    upstream_items = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}

    def openai(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(200, json={"id": "resp_up", "object": "response", "deleted": True})
        if request.url.path.endswith("/input_items"):
            return httpx.Response(200, json=upstream_items)
        return httpx.Response(200, json=upstream_response)

    async with gateway(tmp_path, openai, keys={"openai": OPENAI_KEYS}, providers=OPENAI) as gw:
        made_by = fingerprint(OPENAI_KEYS[1])
        gw.runtime.stored_responses.remember_upstream_key(
            "resp_up", provider="openai", key_fingerprint=made_by, user_id=None
        )
        got = await gw.client.get(
            "/v1/responses/resp_up",
            params=[("include[]", "reasoning.encrypted_content"), ("stream", "false"), ("x", "y")],
            headers={**bearer(PROXY_KEY), "cookie": "session=client-secret"},
        )
        assert got.status_code == 200 and got.json() == upstream_response
        listed = await gw.client.get(
            "/v1/responses/resp_up/input_items",
            params={"limit": "2", "order": "asc", "after": "msg_1", "x": "y"},
            headers=bearer(PROXY_KEY),
        )
        assert listed.json() == upstream_items
        deleted = await gw.client.delete("/v1/responses/resp_up", headers=bearer(PROXY_KEY))
        assert deleted.json() == {"id": "resp_up", "object": "response", "deleted": True}
        # Deleted there, and our record of it with it: now an unknown id, asked of nobody.
        not_found(await gw.client.get("/v1/responses/resp_up", headers=bearer(PROXY_KEY)), "resp_up")

    get, items, delete = gw.upstreams.sent
    assert (get.method, str(get.url)) == (
        "GET",
        "http://openai.test/v1/responses/resp_up?include%5B%5D=reasoning.encrypted_content",
    )
    assert (
        str(items.url) == "http://openai.test/v1/responses/resp_up/input_items?limit=2&order=asc&after=msg_1"
    )
    assert (delete.method, str(delete.url)) == ("DELETE", "http://openai.test/v1/responses/resp_up")
    assert gw.upstreams.keys == [OPENAI_KEYS[1]] * 3  # the key that made it, every time
    assert all("cookie" not in r.headers and PROXY_KEY not in str(r.headers) for r in gw.upstreams.sent)
    assert gw.rows() == {}


async def test_an_openai_kept_response_of_a_key_gone_or_an_upstream_error(tmp_path: Path) -> None:
    def openai(request: httpx.Request) -> httpx.Response:
        message = f"Response with id 'resp_gone' not found (key {key_of(request)})."
        return openai_error(404, message, "invalid_request_error")

    async with gateway(tmp_path, openai, keys={"openai": OPENAI_KEYS}, providers=OPENAI) as gw:
        service = gw.runtime.stored_responses
        service.remember_upstream_key(
            "resp_old", provider="openai", key_fingerprint="feedfeedfeed", user_id=None
        )
        service.remember_upstream_key(
            "resp_gone", provider="openai", key_fingerprint=fingerprint(OPENAI_KEYS[0]), user_id=None
        )
        old = await gw.client.get("/v1/responses/resp_old", headers=bearer(PROXY_KEY))
        assert openai_err(old, 404)["message"] == (
            "Response with id 'resp_old' was made with a key of provider 'openai' that this gateway no "
            "longer has."
        )
        gone = await gw.client.get("/v1/responses/resp_gone", headers=bearer(PROXY_KEY))
        err = openai_err(gone, 404)
        assert err["message"].startswith(
            "Upstream provider 'openai' answered 404: Response with id 'resp_gone'"
        )
        assert OPENAI_KEYS[0] not in gone.text
    assert len(gw.upstreams.sent) == 1  # the key gone: nothing was asked


async def test_db_check_passes_on_a_database_with_stored_responses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with gateway(tmp_path, nothing_upstream) as gw:
        save(gw, "resp_1", "Paris.", user=None)
        gw.runtime.stored_responses.remember_upstream_key(
            "resp_up", provider="openai", key_fingerprint="0123456789ab", user_id=None
        )
    config = tmp_path / "llmgw.toml"
    config.write_text(f"[server]\ndatabase = '{tmp_path / 'llmgw.db'}'\n", encoding="utf-8")
    assert cli.main(["db", "check", "--config", str(config)]) == 0, capsys.readouterr()
