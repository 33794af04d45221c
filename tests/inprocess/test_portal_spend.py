"""Spend against budget in the portal: a user's own page (their limits, spend, what remains, never
another user's), and the administrators' list of limits with a meter and percentage per user and key."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from llmgw.services import keys, limits, users
from llmgw.services.audit import Actor
from llmgw.storage import UsageRow
from tests.inprocess.test_portal import ADMIN_PW, BOB_PW, SITE, login, make_app, store_of

pytestmark = pytest.mark.usefixtures("fast_hashes")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path), base_url=SITE) as c:
        yield c


def _spend(tmp_path: Path, user: str, key_id: int | None, cost: float, n: int = 1) -> None:
    with store_of(tmp_path) as store:
        user_id = next(u.id for u in users.list_users(store, Actor.cli()) if u.name == user)
        store.insert_requests(
            [
                UsageRow(
                    request_id=f"req_{user}_{i}",
                    created_at=time.time(),
                    endpoint="/v1/chat/completions",
                    provider="oai",
                    model_requested="oai/m",
                    status=200,
                    user_id=user_id,
                    api_key_id=key_id,
                    usage_source="provider",
                    cost_usd=cost,
                )
                for i in range(n)
            ]
        )


def _cells(html: str, marker: str) -> str:
    row = next(r for r in re.findall(r"<tr>.*?</tr>", html, re.S) if marker in r)
    return re.sub(r"\s+", " ", row)


def test_a_user_sees_their_own_limits_spend_and_what_remains(client: TestClient, tmp_path: Path) -> None:
    with store_of(tmp_path) as store:
        key = keys.create_key(store, Actor.cli(), "bob", "laptop").key
        limits.set_limits(store, Actor.cli(), "bob", budget_usd=0.01, period="day")
        limits.set_limits(store, Actor.cli(), key.public_id, rpm=20)
        limits.set_limits(store, Actor.cli(), "alice", budget_usd=99.0)  # not bob's to see
    _spend(tmp_path, "bob", None, 0.002)
    assert client.get("/ui/limits", follow_redirects=False).status_code == 303  # signed out: log in
    login(client, "bob", BOB_PW)
    page = client.get("/ui/limits")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/ui/limits">My limits</a>' in html
    assert "You spent <strong>0.002 USD</strong> today" in html
    user_row = _cells(html, "you: all your keys")
    assert "0.01 USD/day" in user_row
    assert "0.002 of 0.01 USD (20%), 0.008 left this day" in user_row
    assert 'value="0.2"' in user_row and "<meter" in user_row
    key_row = _cells(html, key.public_id)
    assert "(laptop) only" in key_row and "<td>20</td>" in key_row and "no budget" in key_row
    # Alice's budget is not shown (a bare "99" could be part of a random key id)
    assert not re.search(r"\b99(\.0+)? USD", html) and "alice" not in html.split("<main>")[1]


def test_a_user_without_limits(client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    html = client.get("/ui/limits").text
    assert "You spent <strong>0.00 USD</strong> today" in html
    assert "No limits apply to you or your keys." in html


def test_administrators_see_spend_against_budget_per_user_and_key(client: TestClient, tmp_path: Path) -> None:
    with store_of(tmp_path) as store:
        key = keys.create_key(store, Actor.cli(), "bob", "laptop").key
        limits.set_limits(store, Actor.cli(), "bob", budget_usd=0.005, period="day")
        limits.set_limits(store, Actor.cli(), key.public_id, budget_usd=2.0, period="month", tpm=100)
    _spend(tmp_path, "bob", key.id, 0.004)
    login(client, "alice", ADMIN_PW)
    html = client.get("/ui/admin/users").text
    user_row = _cells(html, "this user, all keys</td><td>bob")
    assert "0.005 USD/day" in user_row  # never 0.01 nor 0.00
    assert "0.004 of 0.005 USD (80%), 0.001 left this day" in user_row
    key_row = _cells(html, f"<code>{key.public_id}</code>")
    assert "0.004 of 2.00 USD (<1%), 2.00 left this month" in key_row.replace("&lt;", "<")
