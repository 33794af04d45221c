"""The administrators' overview in the portal over Starlette's TestClient: where each user lands
(after logging in, and at the portal's root), today's numbers against a day of known ledger rows,
errors by kind linking to the request log filtered that way, who is near a budget, the upstream
keys' states; a user never sees it (404)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from llmgw.server.app import create_app
from llmgw.settings import Config
from llmgw.storage import Store
from tests.inprocess.test_portal import SITE, NoKeys, login
from tests.support.overview_seed import EXPECTED, Day, seed_day
from tests.support.request_log_seed import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_hashes")


class TwoKeys(NoKeys):
    def keys(self, provider: str) -> list[str]:
        return ["sk-test-aaaaaaaaaaaaaaaa1111", "sk-test-bbbbbbbbbbbbbbbb2222"] if provider == "up" else []

    def reread(self, provider: str) -> list[str]:
        return self.keys(provider)


@pytest.fixture
def day(tmp_path: Path) -> Day:
    with Store.open(tmp_path / "llmgw.db") as store:
        return seed_day(store, time.time())


@pytest.fixture
def app(tmp_path: Path, day: Day) -> Starlette:
    cfg = Config.model_validate(
        {
            "server": {
                "database": str(tmp_path / "llmgw.db"),
                "key_refresh_interval": 0,
                "auth_mode": "users",
                "allowed_hosts": ["testserver"],
            },
            "providers": {"up": {"type": "openai-compatible", "base_url": "http://up.test/v1"}},
        }
    )
    return create_app(cfg, None, TwoKeys())


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=SITE) as c:
        yield c


def today(html: str, name: str) -> str:
    found = re.search(rf'<dd data-today="{name}">(?:<a href="([^"]*)">)?([^<]*)', html)
    assert found, name
    return found.group(2)


def test_administrators_land_on_the_overview_users_on_their_keys(client: TestClient, app: Starlette) -> None:
    assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"
    r = login(client, "root", PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/ui/admin/overview"
    assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/admin/overview"
    assert '<a href="/ui/admin/overview">Overview</a>' in client.get("/ui/keys").text
    with TestClient(app, base_url=SITE) as ann:
        r = login(ann, "ann", PASSWORD)
        assert r.status_code == 303 and r.headers["location"] == "/ui/keys"
        assert ann.get("/ui/", follow_redirects=False).headers["location"] == "/ui/keys"
        assert ann.get("/ui/admin/overview").status_code == 404
        assert "/ui/admin/overview" not in ann.get("/ui/keys").text


def test_the_overview_shows_todays_numbers(client: TestClient, day: Day) -> None:
    login(client, "root", PASSWORD)
    page = client.get("/ui/admin/overview")
    assert page.status_code == 200
    html = page.text
    assert today(html, "requests") == str(EXPECTED["requests"])
    assert today(html, "errors") == str(EXPECTED["errors"])
    assert today(html, "tokens") == str(EXPECTED["tokens"])
    assert today(html, "cost") == f"1.50 USD + {EXPECTED['unpriced']} unpriced"
    date = time.strftime("%Y-%m-%d", time.gmtime())
    for kind, n in EXPECTED["errors_by_kind"].items():  # type: ignore[attr-defined]
        row = html.split(f'<tr data-kind="{kind}">')[1].split("</tr>")[0]
        assert f'href="/ui/requests?error_kind={kind}&amp;since={date}"' in row
        assert f'<td data-label="Requests">{n}</td>' in row
    near = re.findall(r'<tr data-subject="([^"]+)">', html)
    assert near == [day.ci_public_id, "ann"]
    assert "120%" in html and "90%" in html and "0.50 USD a day" in html


def test_the_keys_the_running_gateway_publishes(client: TestClient) -> None:
    login(client, "root", PASSWORD)
    for _ in range(100):  # its first publication is written in a worker thread as it starts
        html = client.get("/ui/admin/overview").text
        if 'data-provider="up"' in html:
            break
        time.sleep(0.05)
    row = html.split('<tr data-provider="up">')[1].split("</tr>")[0]
    assert '<td data-label="Ok">2</td>' in row and '<td data-label="Rejected">0</td>' in row
    assert "As the running gateway sees them now." in html


def test_an_error_kind_link_opens_the_request_log_filtered_that_way(client: TestClient) -> None:
    login(client, "root", PASSWORD)
    html = client.get("/ui/admin/overview").text
    link = re.search(r'href="(/ui/requests\?error_kind=policy&amp;since=[^"]+)"', html)
    assert link
    log = client.get(link.group(1).replace("&amp;", "&"))
    assert log.status_code == 200
    assert sorted(re.findall(r'<tr data-request-id="([^"]+)"', log.text)) == ["req_d006", "req_d007"]
