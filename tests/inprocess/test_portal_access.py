"""Model access in the portal (portal/access_pages.py): an administrator sets and lifts a user's or a
key's list, a bad pattern comes back with what was typed, the lists show on the users and keys pages,
the gateway in the same process refuses at once, and the pages are not there for anyone else."""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from llmgw.services import audit, keys, model_access
from llmgw.services.audit import Actor
from tests.inprocess.test_portal import ADMIN_PW, BOB_PW, SITE, csrf, login, make_app, post, store_of

pytestmark = pytest.mark.usefixtures("fast_hashes")

CLI = Actor.cli()


@pytest.fixture
def app(tmp_path: Path) -> Starlette:
    return make_app(tmp_path)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=SITE) as c:
        yield c


def bob_key(tmp_path: Path) -> keys.NewKey:
    with store_of(tmp_path) as store:
        return keys.create_key(store, CLI, "bob", "laptop")


def access_of(tmp_path: Path, ref: str) -> tuple[str, ...] | None:
    with store_of(tmp_path) as store:
        return model_access.subject_access(store, CLI, ref).patterns


def chat(client: TestClient, token: str) -> int:
    body = {"model": "oai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    r = client.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {token}"})
    return r.status_code


def test_an_admin_sets_and_lifts_a_users_list_and_the_gateway_applies_it_at_once(
    app: Starlette, tmp_path: Path
) -> None:
    new = bob_key(tmp_path)  # before the gateway starts: its index has it
    with TestClient(app, base_url=SITE) as client:
        sets_and_lifts(client, tmp_path, new)


def sets_and_lifts(client: TestClient, tmp_path: Path, new: keys.NewKey) -> None:
    assert chat(client, new.token) == 503  # allowed; no upstream key in this test app
    login(client, "alice", ADMIN_PW)
    page = client.get("/ui/admin/access?subject=bob")
    assert page.status_code == 200 and "Model access of user bob" in page.text
    assert '<strong class="access-now">any model</strong>' in page.text
    token = csrf(client, "/ui/admin/access?subject=bob")
    r = post(
        client, "/ui/admin/access", {"csrf_token": token, "subject": "bob", "patterns": "ant/*\nsmart, x/y"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/admin/access?subject=bob&done=set"
    assert "Saved: the gateway applies it at once." in client.get(r.headers["location"]).text
    assert access_of(tmp_path, "bob") == ("ant/*", "smart", "x/y")
    assert chat(client, new.token) == 403  # the index was reloaded before the page answered
    users_page = client.get("/ui/admin/users").text
    assert "ant/*, smart, x/y" in unescape(users_page) and "/ui/admin/access?subject=bob" in users_page
    r = post(client, "/ui/admin/access/clear", {"csrf_token": token, "subject": "bob"})
    assert r.headers["location"] == "/ui/admin/access?subject=bob&done=cleared"
    assert access_of(tmp_path, "bob") is None and chat(client, new.token) == 503
    r = post(client, "/ui/admin/access/clear", {"csrf_token": token, "subject": "bob"})
    assert r.headers["location"].endswith("done=none")
    with store_of(tmp_path) as store:
        actions = [e.action for e in audit.entries(store, CLI) if e.action.startswith("model_access")]
    assert actions == [audit.MODEL_ACCESS_SET, audit.MODEL_ACCESS_CLEARED]


def test_a_keys_list_says_its_user_binds_it_too(client: TestClient, tmp_path: Path) -> None:
    key = bob_key(tmp_path).key
    with store_of(tmp_path) as store:
        model_access.set_access(store, CLI, "bob", ["oai/*"])
    login(client, "alice", ADMIN_PW)
    token = csrf(client, "/ui/admin/keys")
    data = {"csrf_token": token, "subject": key.public_id, "patterns": "oai/gpt-4o-mini"}
    assert post(client, "/ui/admin/access", data).status_code == 303
    page = client.get(f"/ui/admin/access?subject={key.public_id}").text
    assert f"Model access of key {key.public_id} (laptop, of bob)" in page
    assert "<strong>oai/*</strong>" in page  # the user's list, which binds the key too
    keys_page = client.get("/ui/admin/keys").text
    assert "oai/gpt-4o-mini" in keys_page and f"/ui/admin/access?subject={key.public_id}" in keys_page


def test_a_bad_pattern_comes_back_with_what_was_typed(client: TestClient, tmp_path: Path) -> None:
    login(client, "alice", ADMIN_PW)
    token = csrf(client, "/ui/admin/users")
    typed = "ant/*\nopenai/gpt-4?"
    r = post(client, "/ui/admin/access", {"csrf_token": token, "subject": "bob", "patterns": typed})
    assert r.status_code == 400
    assert "model pattern &#39;openai/gpt-4?&#39; contains &#39;?&#39;" in r.text
    assert f">{typed}</textarea>" in r.text
    empty = post(client, "/ui/admin/access", {"csrf_token": token, "subject": "bob", "patterns": " \n"})
    assert empty.status_code == 400 and "give at least one model pattern" in empty.text
    unknown = post(client, "/ui/admin/access", {"csrf_token": token, "subject": "nobody", "patterns": "x/*"})
    assert unknown.status_code == 400 and "no user or key" in unknown.text
    assert access_of(tmp_path, "bob") is None


def test_not_there_for_users(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/ui/admin/access?subject=bob").status_code == 404
    login(client, "bob", BOB_PW)
    assert client.get("/ui/admin/access?subject=bob").status_code == 404
    token = csrf(client)
    data = {"csrf_token": token, "subject": "bob", "patterns": "x/*"}
    assert post(client, "/ui/admin/access", data).status_code == 404
    assert post(client, "/ui/admin/access/clear", {"csrf_token": token, "subject": "bob"}).status_code == 404
    assert access_of(tmp_path, "bob") is None
