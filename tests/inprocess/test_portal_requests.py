"""The portal's request log over Starlette's TestClient, on a ledger of known rows: an administrator
sees everyone's requests, a user only their own (another's request id answers 404, as an unknown
one does), filters and pages, finding a request by id, a request's every column, bad filter values
shown on the page (400, never a 500), and the CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from llmgw.server.app import create_app
from llmgw.services import request_log
from llmgw.settings import Config
from llmgw.storage import Store
from tests.inprocess.test_portal import SITE, NoKeys, login
from tests.support.request_log_seed import NOW, PASSWORD, Seeded, seed

pytestmark = pytest.mark.usefixtures("fast_hashes")


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    with Store.open(tmp_path / "llmgw.db") as store:
        return seed(store)


@pytest.fixture
def app(tmp_path: Path, seeded: Seeded) -> Starlette:
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
    return create_app(cfg, None, NoKeys())


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=SITE) as c:
        yield c


def ids(html: str) -> list[str]:
    return re.findall(r'<tr data-request-id="([^"]+)"', html)


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="(/ui/requests\?[^"]*)" class="button" rel="next">', html)
    return None if found is None else found.group(1).replace("&amp;", "&")


def walk(client: TestClient, url: str) -> list[str]:
    got: list[str] = []
    link: str | None = url
    while link is not None:
        page = client.get(link)
        assert page.status_code == 200, page.text
        got += ids(page.text)
        link = next_link(page.text)
    return got


def test_an_administrator_pages_through_everyones_requests(client: TestClient, seeded: Seeded) -> None:
    login(client, "root", PASSWORD)
    first = client.get("/ui/requests")
    assert first.status_code == 200 and "Everyone's requests" in first.text
    assert len(ids(first.text)) == request_log.PAGE_ROWS
    assert walk(client, "/ui/requests") == seeded.newest_first()
    assert '<a href="/ui/requests">Requests</a>' in first.text  # in the navigation

    def row(request_id: str) -> str:
        return first.text.split(f'data-request-id="{request_id}"')[1].split("</tr>")[0]

    ben = row("req_055")  # ben's key, a 502, no price known
    assert ">ben<" in ben and f"ci ({seeded.ben_key.public_id})" in ben and ">502<" in ben
    assert (
        "upstream: <code>upstream_error</code>" in ben
        and "65 / 5" in ben
        and "cost unknown" in ben
        and "155 ms" in ben
    )
    ann = row("req_054")
    assert ">ann<" in ann and "$0.054000" in ann and "up/gpt-4o-mini" in ann and "(gpt-4o-mini)" in ann
    assert seeded.ann_key.public_id in ann and "<br>streamed<" in ann and "not streamed" in ben


def test_filters_in_the_query_string_and_kept_across_pages(client: TestClient, seeded: Seeded) -> None:
    login(client, "root", PASSWORD)
    url = f"/ui/requests?user=ben&status=error&key={seeded.ben_key.public_id}"
    expected = [r for r in seeded.rows if r.user_id == seeded.ben.id and (r.status >= 400 or r.error_type)]
    assert walk(client, url) == seeded.newest_first(expected)
    page = client.get(url).text
    assert 'value="ben"' in page and '<option value="error" selected>' in page
    fast = [r for r in seeded.rows if r.model_requested == "fast"]
    assert len(fast) > request_log.PAGE_ROWS // 2
    policy = [r for r in seeded.rows if r.error_kind == "policy"]
    assert policy and walk(client, "/ui/requests?error_kind=policy") == seeded.newest_first(policy)
    assert '<option value="policy" selected>' in client.get("/ui/requests?error_kind=policy").text
    eight = NOW - 4 * 3600 - 2430  # 2026-12-01 08:00 UTC
    assert walk(client, "/ui/requests?model=fast&since=2026-12-01+08:00") == seeded.newest_first(
        [r for r in fast if r.created_at >= eight]
    )


def test_a_user_sees_only_their_own_and_another_users_id_is_404(client: TestClient, seeded: Seeded) -> None:
    login(client, "ann", PASSWORD)
    mine = seeded.newest_first([r for r in seeded.rows if r.user_id == seeded.ann.id])
    page = client.get("/ui/requests")
    assert "Your requests" in page.text and 'name="user"' not in page.text
    assert walk(client, "/ui/requests") == mine
    assert walk(client, "/ui/requests?user=ben") == mine  # asking for another's rows changes nothing
    assert client.get("/ui/requests/req_000").status_code == 200
    for theirs in ("req_001", "req_002", "req_999", "nonsense"):  # ben's, the proxy key's, unknown, bad
        answer = client.get(f"/ui/requests/{theirs}")
        assert answer.status_code == 404 and "req_" not in answer.text.split("<main>")[1]
    find = client.get("/ui/requests?id=req_001", follow_redirects=True)
    assert find.status_code == 404
    refused = client.get(f"/ui/requests?key={seeded.ben_key.public_id}")
    assert refused.status_code == 400 and "of yours" in refused.text
    exported = client.get("/ui/requests.csv?user=ben")
    assert [r["request_id"] for r in csv.DictReader(io.StringIO(exported.text))] == mine


def test_find_by_request_id_opens_its_page_with_every_column(client: TestClient, seeded: Seeded) -> None:
    login(client, "root", PASSWORD)
    found = client.get("/ui/requests?id=+req_013+", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == "/ui/requests/req_013"
    page = client.get("/ui/requests/req_013")
    assert page.status_code == 200
    shown = dict(
        re.findall(
            r'<tr data-column="([^"]+)"><th scope="row"><code>[^<]*</code></th><td>(.*?)</td>', page.text
        )
    )
    assert set(shown) == set(request_log.CSV_COLUMNS) - {"user", "key", "outcome"}
    assert shown["error_type"] == "stream_cut" and shown["status"] == "200" and shown["prompt_tokens"] == "23"
    assert "ben" in page.text and f"ci ({seeded.ben_key.public_id})" in page.text
    assert client.get("/ui/requests/req_999").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=maybe", "status is ok or error"),
        ("since=yesterday", "From (UTC) must be a date or time"),
        ("since=2026-12-02&until=2026-12-01", "From must be before To"),
        ("key=laptop", "16 hex digits"),
        ("user=nobody", "no user named"),
        ("after=garbage", "start again from the newest"),
        ("id=42", "a request id looks like req_"),
        ("error_kind=cosmic", "error kind is client or policy or upstream"),
    ],
)
def test_bad_filter_values_are_explained_on_the_page(client: TestClient, query: str, message: str) -> None:
    login(client, "root", PASSWORD)
    page = client.get(f"/ui/requests?{query}")
    assert page.status_code == 400 and message in page.text.replace("&#39;", "'")
    assert 'role="alert"' in page.text and 'name="model"' in page.text  # the form stays, to fix it
    if not query.startswith(("after=", "id=")):  # the export takes the filters only
        assert client.get(f"/ui/requests.csv?{query}").status_code == 400


def test_csv_export_of_the_filtered_set_and_its_cap(
    client: TestClient, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    login(client, "root", PASSWORD)
    answer = client.get("/ui/requests.csv?model=fast")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="llmgw-requests.csv"'
    table = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["request_id"] for r in table] == seeded.newest_first(
        [r for r in seeded.rows if r.model_requested == "fast"]
    )
    assert "x-llmgw-rows-capped" not in answer.headers
    monkeypatch.setattr(request_log, "CSV_CAP", 5)
    capped = client.get("/ui/requests.csv")
    assert capped.headers["x-llmgw-rows-capped"] == "5"
    assert 'filename="llmgw-requests-newest-5.csv"' in capped.headers["content-disposition"]
    assert len(list(csv.DictReader(io.StringIO(capped.text)))) == 5


def test_the_log_needs_a_login(client: TestClient) -> None:
    for path in ("/ui/requests", "/ui/requests.csv", "/ui/requests/req_000"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"
