"""The portal's usage dashboards over a real SQLite ledger with known rows: the numbers each SVG chart
encodes (per bucket and label) equal the seeded totals; the CSV exports; who may see what (a user
only ever their own rows; the administrators' pages 404 for anyone else); and, in a real browser,
that the administrators' dashboard draws its charts."""

from __future__ import annotations

import csv
import io
import re
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from llmgw.portal.charts import EMPTY
from llmgw.services import users
from llmgw.services.audit import Actor
from llmgw.services.database import Store
from llmgw.storage import UsageRow
from tests.inprocess.test_portal import ADMIN_PW, BOB_PW, SITE, login, make_app
from tests.process.test_portal_browser import CHROMIUM, CHROMIUM_ARGS, playwright_or_skip
from tests.support.accounts_rows import add_key
from tests.support.gateway_process import GatewayProcess

pytestmark = pytest.mark.usefixtures(
    "fast_hashes"
)  # argon2's real parameters are tests/unit/test_passwords.py's

SVG = "{http://www.w3.org/2000/svg}"
DAY = 86400
EVIL = '=HYPERLINK("http://x")<script>alert(1)</script>'


@dataclass(frozen=True)
class Seeded:
    rows: list[UsageRow]
    names: dict[int | None, str]  # user id → name

    def of(self, user: str | None) -> list[UsageRow]:
        return [r for r in self.rows if user is None or self.names.get(r.user_id) == user]


def day_of(t: float) -> float:
    return float(int(t // DAY) * DAY)


def expected(rows: list[UsageRow], label_of: Any, value_of: Any) -> dict[tuple[str, float], float]:
    out: dict[tuple[str, float], float] = defaultdict(float)
    for r in rows:
        value = value_of(r)
        if value:
            out[(label_of(r), day_of(r.created_at))] += value
    return dict(out)


def seed(tmp_path: Path) -> Seeded:
    """bob: two priced models and one without a price, on two days, through two keys; alice: her own
    model; one legacy (no user) row. All within the last 7 days."""
    db = tmp_path / "llmgw.db"
    now = time.time()
    today, two_days_ago = now - 60, now - 2 * DAY
    with Store.open(db) as store:
        ids = {u.name: u.id for u in users.list_users(store, Actor.cli())}
        bob_laptop = add_key(db, ids["bob"], name="laptop").key_id
        bob_ci = add_key(db, ids["bob"], name="ci").key_id
        alice_key = add_key(db, ids["alice"], name="desk").key_id

        def row(n: int, user: int | None, key: int | None, model: str, at: float, **kw: Any) -> UsageRow:
            return UsageRow(
                request_id=f"r{n}",
                created_at=at,
                endpoint="/v1/chat/completions",
                provider="oai",
                model_requested=model,
                user_id=user,
                api_key_id=key,
                status=kw.pop("status", 200),
                usage_source=kw.pop("usage_source", "provider"),
                latency_ms=kw.pop("latency_ms", 100.0),
                ttft_ms=kw.pop("ttft_ms", 50.0),
                **kw,
            )

        bob, alice = ids["bob"], ids["alice"]
        rows = [
            row(1, bob, bob_laptop, "gpt-a", today, prompt_tokens=100, completion_tokens=20, total_tokens=120,
                cost_usd=0.5),
            row(2, bob, bob_laptop, "gpt-a", today, prompt_tokens=30, completion_tokens=10, total_tokens=40,
                cost_usd=0.25),
            row(3, bob, bob_ci, "gpt-a", two_days_ago, prompt_tokens=7, completion_tokens=3, total_tokens=10,
                cost_usd=0.125),
            row(4, bob, bob_ci, EVIL, today, prompt_tokens=5, completion_tokens=5, total_tokens=10),
            row(5, bob, bob_laptop, "gpt-a", today, status=500, error_type="api_error", usage_source="none"),
            row(6, alice, alice_key, "alices-model", today, prompt_tokens=1000, completion_tokens=1000,
                total_tokens=2000, cost_usd=2.0),
            row(7, alice, alice_key, "alices-model", two_days_ago, prompt_tokens=1, completion_tokens=1,
                total_tokens=2, cost_usd=1.0),
            row(8, None, None, "legacy-model", today, prompt_tokens=9, completion_tokens=1, total_tokens=10,
                cost_usd=0.0625),
        ]  # fmt: skip
        store.insert_requests(rows)
    return Seeded(rows, {bob: "bob", alice: "alice"})


@pytest.fixture
def app_and_rows(tmp_path: Path) -> tuple[Starlette, Seeded]:
    app = make_app(tmp_path)
    return app, seed(tmp_path)


def charts_of(html: str) -> dict[str, ET.Element]:
    """Every inline SVG chart of a page, by its title; each one must be well-formed XML."""
    found = {}
    for svg in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        root = ET.fromstring(svg)
        title = root.find(f"{SVG}title")
        assert title is not None and title.text
        found[title.text] = root
    return found


def encoded(root: ET.Element) -> dict[tuple[str, float], float]:
    return {
        (r.get("data-label", ""), float(r.get("data-bucket", "nan"))): float(r.get("data-value", "nan"))
        for r in root.iter(f"{SVG}rect")
        if r.get("data-value") is not None
    }


def bar_values(root: ET.Element) -> dict[str, float]:
    return {
        r.get("data-label", ""): float(r.get("data-value", "nan"))
        for r in root.iter(f"{SVG}rect")
        if r.get("data-value") is not None
    }


def assert_time_charts(html: str, rows: list[UsageRow], split: str, label_of: Any) -> None:
    charts = charts_of(html)
    assert encoded(charts[f"Requests by {split}"]) == expected(rows, label_of, lambda r: 1)
    assert encoded(charts[f"Tokens by {split}"]) == expected(rows, label_of, lambda r: r.total_tokens)
    cost = encoded(charts[f"Cost by {split} (priced requests)"])
    want = expected(rows, label_of, lambda r: r.cost_usd)
    assert cost.keys() == want.keys()
    assert all(cost[k] == pytest.approx(v) for k, v in want.items())


def total(html: str, name: str) -> str:
    found = re.search(rf'data-total="{name}">([^<]*)<', html)
    assert found
    return found.group(1)


def test_a_users_dashboard_encodes_their_own_numbers_only(
    app_and_rows: tuple[Starlette, Seeded],
) -> None:
    app, seeded = app_and_rows
    with TestClient(app, base_url=SITE) as c:
        login(c, "bob", BOB_PW)
        page = c.get("/ui/usage?range=7d")
    assert page.status_code == 200
    mine = seeded.of("bob")
    assert_time_charts(page.text, mine, "model", lambda r: f"oai/{r.model_requested}")
    charts = charts_of(page.text)
    assert bar_values(charts["Total requests by model"]) == {"oai/gpt-a": 4, f"oai/{EVIL}": 1}
    keys = {label.split(" (")[0]: v for label, v in bar_values(charts["Total requests by key"]).items()}
    assert keys == {"laptop": 3, "ci": 2}
    assert total(page.text, "requests") == "5"
    assert total(page.text, "errors").startswith("1 (20.0%)")
    assert total(page.text, "total_tokens") == "180"
    assert total(page.text, "cost") == "$0.88 + 1 unpriced"  # never $0 for a request without a price
    for foreign in ("alices-model", "legacy-model", "alice", "desk"):
        assert foreign not in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert 'href="/ui/usage.csv?range=7d&amp;by=model"' in page.text
    assert "My recent requests" in page.text


def test_the_range_selector(app_and_rows: tuple[Starlette, Seeded]) -> None:
    app, _ = app_and_rows
    with TestClient(app, base_url=SITE) as c:
        login(c, "bob", BOB_PW)
        page = c.get("/ui/usage?range=24h")
    assert 'href="/ui/usage?range=30d"' in page.text
    assert re.search(r'href="/ui/usage\?range=24h" aria-current="page"', page.text)
    requests = charts_of(page.text)["Requests by model"]
    assert sum(encoded(requests).values()) == 4  # the row of two days ago is out of range


def test_an_empty_range_says_so(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path), base_url=SITE) as c:
        login(c, "bob", BOB_PW)
        page = c.get("/ui/usage")
    charts = charts_of(page.text)
    assert len(charts) == 5
    for chart in charts.values():
        assert chart.get("data-empty") == "true" and EMPTY in "".join(chart.itertext())
    assert total(page.text, "requests") == "0" and total(page.text, "cost") == "$0"
    assert "No requests with your keys" in page.text


def test_the_admin_dashboard_splits_by_user_and_drills_down(app_and_rows: tuple[Starlette, Seeded]) -> None:
    app, seeded = app_and_rows
    with TestClient(app, base_url=SITE) as c:
        login(c, "alice", ADMIN_PW)
        page = c.get("/ui/admin/usage?range=30d")
        assert page.status_code == 200
        named = [r for r in seeded.rows if r.user_id is not None]
        charts = charts_of(page.text)
        by_user = encoded(charts["Requests by user"])
        assert {k: v for k, v in by_user.items() if k[0] in ("alice", "bob")} == expected(
            named, lambda r: seeded.names[r.user_id], lambda r: 1
        )
        assert sum(by_user.values()) == len(seeded.rows)  # the legacy row is counted too
        assert encoded(charts["Requests by model"]) == expected(
            seeded.rows, lambda r: f"oai/{r.model_requested}", lambda r: 1
        )
        users_bars = bar_values(charts["Total requests by user"])
        assert users_bars["bob"] == 5 and users_bars["alice"] == 2
        assert total(page.text, "requests") == str(len(seeded.rows))
        assert 'href="/ui/admin/usage/users/bob?range=30d"' in page.text
        assert 'href="/ui/admin/usage.csv?range=30d&amp;by=user"' in page.text

        drill = c.get("/ui/admin/usage/users/bob?range=30d")
        assert drill.status_code == 200 and "Usage of bob" in drill.text
        assert_time_charts(drill.text, seeded.of("bob"), "model", lambda r: f"oai/{r.model_requested}")
        assert "alices-model" not in drill.text
        assert 'href="/ui/admin/usage.csv?range=30d&amp;by=model&amp;user=bob"' in drill.text
        assert c.get("/ui/admin/usage/users/nobody").status_code == 404
        assert 'href="/ui/admin/usage"' in c.get("/ui/keys").text


def read_csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_exports(app_and_rows: tuple[Starlette, Seeded]) -> None:
    app, _ = app_and_rows
    with TestClient(app, base_url=SITE) as c:
        login(c, "bob", BOB_PW)
        mine = {r["label"]: r for r in read_csv(c.get("/ui/usage.csv?range=7d&by=model"))}
        # someone else's name in the query changes nothing: a user's export is their own
        assert {r["label"] for r in read_csv(c.get("/ui/usage.csv?range=7d&by=model&user=alice"))} == set(
            mine
        )
        assert c.get("/ui/usage.csv?by=user").status_code == 404
    assert set(mine) == {"oai/gpt-a", f"oai/{EVIL}"}
    gpt = mine["oai/gpt-a"]
    counters = ("requests", "errors", "total_tokens", "unpriced_requests", "provider", "model")
    assert [gpt[k] for k in counters] == ["4", "1", "170", "0", "oai", "gpt-a"]
    assert float(gpt["cost_usd"]) == pytest.approx(0.875)
    evil = mine[f"oai/{EVIL}"]
    assert evil["cost_usd"] == "" and evil["unpriced_requests"] == "1"  # no price known: empty, never 0
    assert evil["model"] == "'" + EVIL  # a formula-looking name is defused

    with TestClient(app, base_url=SITE) as c:
        login(c, "alice", ADMIN_PW)
        everyone = {r["label"]: r for r in read_csv(c.get("/ui/admin/usage.csv?range=7d&by=user"))}
        assert everyone["bob"]["requests"] == "5" and everyone["alice"]["requests"] == "2"
        bobs = read_csv(c.get("/ui/admin/usage.csv?range=7d&by=model&user=bob"))
        assert {r["label"] for r in bobs} == set(mine)


@pytest.mark.parametrize(
    "path",
    [
        "/ui/admin/usage",
        "/ui/admin/usage.csv?by=user",
        "/ui/admin/usage/users/alice",
        "/ui/admin/usage/users/bob",
    ],
)
def test_admin_usage_pages_are_404_for_users_and_strangers(
    app_and_rows: tuple[Starlette, Seeded], path: str
) -> None:
    app, _ = app_and_rows
    with TestClient(app, base_url=SITE) as c:
        assert c.get(path, follow_redirects=False).status_code == 404
        login(c, "bob", BOB_PW)
        refused = c.get(path, follow_redirects=False)
        assert refused.status_code == 404 and "alices-model" not in refused.text
        assert 'href="/ui/admin/usage"' not in c.get("/ui/keys").text
        assert c.get("/ui/usage.csv", follow_redirects=False).status_code == 200


def test_strangers_are_sent_to_log_in(app_and_rows: tuple[Starlette, Seeded]) -> None:
    app, _ = app_and_rows
    with TestClient(app, base_url=SITE) as c:
        for path in ("/ui/usage", "/ui/usage.csv"):
            assert c.get(path, follow_redirects=False).headers["location"] == "/ui/login"


def test_the_dashboard_keeps_the_strict_csp(app_and_rows: tuple[Starlette, Seeded]) -> None:
    app, _ = app_and_rows
    with TestClient(app, base_url=SITE) as c:
        login(c, "alice", ADMIN_PW)
        page = c.get("/ui/admin/usage")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "<script" not in page.text and " style=" not in page.text


# --- in a real browser -------------------------------------------------------------------------------


def test_the_admin_dashboard_draws_its_charts_in_a_browser(tmp_path: Path) -> None:
    sync_api = playwright_or_skip()
    gw_dir = tmp_path / "gw"
    gw_dir.mkdir()
    with Store.open(gw_dir / "llmgw.db") as store:
        users.create_user(store, Actor.cli(), "alice", ADMIN_PW, role="admin")
        users.create_user(store, Actor.cli(), "bob", BOB_PW)
    seed(gw_dir)
    with GatewayProcess(gw_dir, 'auth_mode = "users"\n') as gw, sync_api.sync_playwright() as pw:  # type: ignore[attr-defined]
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{gw.base_url}/ui/login")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", ADMIN_PW)
            page.click("button[type=submit]")
            page.wait_for_url(f"{gw.base_url}/ui/admin/overview")  # where administrators land
            page.click("text=All usage")
            page.wait_for_url(f"{gw.base_url}/ui/admin/usage")
            chart = page.locator("svg.chart", has=page.locator("title", has_text="Requests by user")).first
            box = chart.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            bar = chart.locator("rect[data-value]").first
            bar_box = bar.bounding_box()
            assert bar_box is not None and bar_box["height"] > 0 and bar_box["width"] > 0
            assert chart.locator("rect[data-value]").count() >= 3
            page.click("a[href^='/ui/admin/usage/users/bob']")
            page.wait_for_url(re.compile(r".*/ui/admin/usage/users/bob.*"))
            assert "Usage of bob" in page.content()
        finally:
            browser.close()


def test_an_administrators_own_usage_is_theirs_alone(app_and_rows: tuple[Starlette, Seeded]) -> None:
    app, seeded = app_and_rows
    with TestClient(app, base_url=SITE) as c:
        login(c, "alice", ADMIN_PW)
        page = c.get("/ui/usage?range=7d")
        exported = read_csv(c.get("/ui/usage.csv?range=7d&by=model"))
    assert_time_charts(page.text, seeded.of("alice"), "model", lambda r: f"oai/{r.model_requested}")
    assert total(page.text, "requests") == "2" and "gpt-a" not in page.text
    assert [(r["label"], r["requests"]) for r in exported] == [("oai/alices-model", "2")]
