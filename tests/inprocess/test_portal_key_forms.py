"""Creating keys in the portal (portal/key_forms.py): an administrator's one form for a user's key with
its name, expiry, limits and models (the token shown once, every part audited), a refused form coming
back with everything typed and no usable key left behind; and a user's own key form taking an expiry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from llmgw.services import audit, keys, limits
from llmgw.services.audit import Actor
from llmgw.storage import LimitValues
from tests.inprocess.test_portal import ADMIN_PW, BOB_PW, SITE, csrf, login, make_app, post, store_of

pytestmark = pytest.mark.usefixtures("fast_hashes")

CLI = Actor.cli()
FORM = "/ui/admin/keys/new"
DAY = 86400


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app: Starlette = make_app(tmp_path)
    with TestClient(app, base_url=SITE) as c:
        yield c


def bobs_keys(tmp_path: Path) -> list[keys.Key]:
    with store_of(tmp_path) as store:
        return keys.list_keys(store, CLI, "bob")


def full_form(token: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "owner": "bob",
        "name": "ci-runner",
        "expires_days": "30",
        "rpm": "60",
        "tpm": "",
        "budget_usd": "2.5",
        "period": "day",
        "models": "oai/gpt-4o-mini\nsmart",
    }
    return form | changes


def typed_back(html: str, form: dict[str, str]) -> None:
    """Every field of the refused form shows what was typed."""
    page = unescape(html)
    for name in ("name", "expires_days", "rpm", "tpm", "budget_usd"):
        assert f'name="{name}"' in page
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(form[name])}"', page), name
    assert f">{form['models']}</textarea>" in page
    assert '<option value="bob" selected>' in page and '<option value="day" selected>' in page


def test_an_admin_creates_a_users_key_with_everything_in_one_form(client: TestClient, tmp_path: Path) -> None:
    login(client, "alice", ADMIN_PW)
    page = client.get(f"{FORM}?owner=bob")
    assert page.status_code == 200 and '<option value="bob" selected>' in page.text
    token = csrf(client, FORM)
    r = post(client, FORM, full_form(token))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    shown = re.findall(r'data-token="([^"]+)"', r.text)
    (key,) = bobs_keys(tmp_path)
    assert len(shown) == 1 and shown[0].startswith(f"llmgw-{key.public_id}-")
    assert (key.name, key.state, key.model_access) == ("ci-runner", "active", ("oai/gpt-4o-mini", "smart"))
    assert key.expires_at is not None and 29 * DAY < key.expires_at - key.created_at <= 30 * DAY
    with store_of(tmp_path) as store:
        (limit,) = limits.list_limits(store, CLI, key.public_id)
        entries = [e.action for e in audit.entries(store, CLI) if e.target_id == key.public_id]
    assert limit.values == LimitValues(rpm=60, tpm=None, budget_usd=2.5, period="day")
    assert entries == [audit.KEY_CREATED, audit.MODEL_ACCESS_SET, limits.LIMIT_SET]
    said = unescape(r.text)
    assert "Limits (this key only): 60 requests/min, 2.50 USD/day." in said
    assert "Models: oai/gpt-4o-mini, smart." in said
    again = client.get("/ui/admin/keys").text
    assert shown[0] not in again and key.public_id in again  # the token is never shown again


def test_only_a_name_is_enough(client: TestClient, tmp_path: Path) -> None:
    login(client, "alice", ADMIN_PW)
    token = csrf(client, FORM)
    blank = {f: "" for f in ("expires_days", "rpm", "tpm", "budget_usd", "models")}
    r = post(client, FORM, full_form(token, **blank))
    assert r.status_code == 200 and "Never expires." in r.text and "Models: any its owner may." in r.text
    (key,) = bobs_keys(tmp_path)
    assert key.expires_at is None and key.model_access is None
    with store_of(tmp_path) as store:
        assert limits.list_limits(store, CLI, key.public_id) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expires_days": "0"}, "the expiry is a whole number of days from 1 to 36500"),
        ({"expires_days": "soon"}, "the expiry is a whole number of days"),
        ({"models": "smart\n/gpt-4o"}, "starts or ends with `/`"),
        ({"models": "oai/gpt-4?"}, "contains &#39;?&#39;"),
        ({"rpm": "lots"}, "requests per minute must be a whole number"),
        ({"budget_usd": "-1"}, "the budget must be from 0"),
        ({"rpm": "0"}, "rpm must be a whole number from 1"),
        ({"name": "x" * 65}, "invalid key name"),
        ({"owner": ""}, "choose the user the key is for"),
    ],
)
def test_a_refused_form_keeps_what_was_typed_and_makes_no_key(
    client: TestClient, tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    login(client, "alice", ADMIN_PW)
    token = csrf(client, FORM)
    form = full_form(token, **changes)
    r = post(client, FORM, form)
    assert r.status_code == 400 and message in r.text
    assert "data-token" not in r.text
    if changes.get("owner") != "":
        typed_back(r.text, form)
    assert bobs_keys(tmp_path) == []  # every value checked before anything was written


def test_not_there_for_users(client: TestClient, tmp_path: Path) -> None:
    assert client.get(FORM).status_code == 404
    login(client, "bob", BOB_PW)
    assert client.get(FORM).status_code == 404
    assert post(client, FORM, full_form(csrf(client))).status_code == 404
    assert bobs_keys(tmp_path) == []


def test_a_users_own_key_can_expire(client: TestClient, tmp_path: Path) -> None:
    login(client, "bob", BOB_PW)
    token = csrf(client)
    bad = post(client, "/ui/keys", {"csrf_token": token, "name": "laptop", "expires_days": "99999"})
    assert bad.status_code == 400 and "from 1 to 36500" in bad.text
    assert 'value="laptop"' in bad.text and 'value="99999"' in bad.text and bobs_keys(tmp_path) == []
    r = post(client, "/ui/keys", {"csrf_token": token, "name": "laptop", "expires_days": "7"})
    assert r.status_code == 200 and "data-token" in r.text
    (key,) = bobs_keys(tmp_path)
    assert key.expires_at is not None and 6 * DAY < key.expires_at - key.created_at <= 7 * DAY
    never = post(client, "/ui/keys", {"csrf_token": token, "name": "desk", "expires_days": ""})
    assert never.status_code == 200
    assert next(k for k in bobs_keys(tmp_path) if k.name == "desk").expires_at is None
