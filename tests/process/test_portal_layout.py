"""Every portal page fits a phone and a desktop: a real `llmgw serve` with users, keys, limits and ledger
rows, walked in Debian's Chromium (Playwright) at 1280x800 and 390x844, as an administrator and as a
user. On each page: no horizontal scroll of the page (a wide table scrolls inside its own box), every
navigation link and Log out on screen, and chart text at least 10 px as rendered, no two of a chart's
texts overlapping.

The pages are the portal's own GET routes (`create_portal().routes`), so a page added later is walked
too: a path parameter it takes needs a value in `page_paths`, and a GET route that is not a page goes
in `NOT_PAGES`. Screenshots of every page at both widths go to `$LLMGW_SCREENSHOTS` when it is set (to
look at them), else to the test's temporary directory."""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from llmgw.portal import create_portal
from llmgw.services import keys, limits, model_access, users
from llmgw.services.audit import Actor
from llmgw.services.database import Store
from llmgw.storage import UsageRow
from tests.process.test_portal_browser import CHROMIUM, CHROMIUM_ARGS, playwright_or_skip
from tests.support.gateway_process import GatewayProcess

pytestmark = pytest.mark.usefixtures("fast_hashes")

ADMIN, USER = "root", "ada"
PASSWORD = "a long enough password"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
# GET routes that answer with something other than a page to look at.
NOT_PAGES = {"/usage.csv", "/admin/usage.csv", "/requests.csv"}
# Pages whose query string shows another form or chart than the bare route's.
QUERY_VARIANTS = [
    "/admin/limits?subject=ada",
    "/admin/access?subject=ada",
    "/admin/keys/new?owner=ada",
    "/admin/usage?range=24h",  # hourly buckets: the longest time labels
    "/usage?range=30d",
]
MIN_CHART_TEXT_PX = 10.0


@dataclass(frozen=True)
class Seeded:
    key_of_user: str  # ada's key's public id


# Long names, as real ones are: they are what overflows a narrow screen.
MODELS = ("anthropic/claude-sonnet-4-5-20250929", "openai/gpt-4o-mini", "gemini/gemini-2.5-flash-lite")


def seed(db: Path) -> Seeded:
    """An administrator, two users (one disabled), four keys, limits on a user and a key, and a week of
    ledger rows across models, users and keys, errors included."""
    cli = Actor.cli()
    now = time.time()
    with Store.open(db) as store:
        root = users.create_user(store, cli, ADMIN, PASSWORD, role="admin")
        ada = users.create_user(store, cli, USER, PASSWORD)
        bob = users.create_user(store, cli, "bob-with-a-rather-long-name", PASSWORD)
        laptop = keys.create_key(store, cli, USER, "laptop").key
        ci = keys.create_key(store, cli, USER, "continuous-integration-runner").key
        mine = keys.create_key(store, cli, ADMIN, "admin-desk").key
        keys.create_key(store, cli, "bob-with-a-rather-long-name", "old")
        users.disable_user(store, cli, "bob-with-a-rather-long-name")
        limits.set_limits(store, cli, USER, rpm=60, tpm=100_000, budget_usd=5.0, period="day")
        limits.set_limits(store, cli, laptop.public_id, rpm=10, budget_usd=1.5, period="month")
        model_access.set_access(store, cli, USER, ["openai/*", "anthropic/claude-sonnet-4-5-20250929"])
        model_access.set_access(store, cli, laptop.public_id, ["openai/gpt-4o-mini"])
        rows = []
        for i in range(120):
            user, key = [(ada.id, laptop.id), (ada.id, ci.id), (root.id, mine.id), (bob.id, None)][i % 4]
            status = (200, 200, 200, 429, 500, 400)[i % 6]
            error_type, error_kind = {
                200: (None, None),
                429: ("gateway_rate_limit_exceeded", "policy"),
                500: ("upstream_error", "upstream"),
                400: ("invalid_request_error", "client"),
            }[status]
            rows.append(
                UsageRow(
                    request_id=f"req_layout_{i:04d}",
                    created_at=now - 60 - i * 4_987,  # across the past week
                    endpoint="/v1/chat/completions",
                    provider=MODELS[i % 3].split("/")[0],
                    model_requested=MODELS[i % 3].split("/")[1],
                    user_id=user,
                    api_key_id=key,
                    status=status,
                    error_type=error_type,
                    error_kind=error_kind,
                    prompt_tokens=100 + i,
                    completion_tokens=20 + i,
                    total_tokens=120 + 2 * i,
                    cost_usd=0.0013 * (i % 7),
                    latency_ms=180.0 + i,
                    ttft_ms=90.0 + i,
                    usage_source="provider",
                )
            )
        store.insert_requests(rows)
    return Seeded(key_of_user=laptop.public_id)


def page_paths(seeded: Seeded) -> list[str]:
    """The portal's GET routes, path parameters filled in; a new parameter must be given a value."""
    values = {
        "name": USER,
        "public_id": seeded.key_of_user,
        "subject": USER,
        "request_id": "req_layout_0000",  # ada's, with her laptop key
    }
    paths = []
    for route in create_portal().routes:
        if not isinstance(route, Route) or "GET" not in (route.methods or set()):
            continue
        if route.path in NOT_PAGES or route.path == "/login":  # the login page is walked logged out
            continue
        params = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        missing = [p for p in params if p not in values]
        assert not missing, f"{route.path}: give {missing} a value in page_paths, or list it in NOT_PAGES"
        path = route.path
        for p in params:
            path = re.sub(r"{" + p + r"(?::\w+)?}", values[p], path)
        if path not in paths:
            paths.append(path)
    for variant in QUERY_VARIANTS:
        assert variant.split("?")[0] in paths, f"{variant}: no such page any more"
        paths.append(variant)
    return paths


@pytest.fixture(scope="module")
def shots() -> Iterator[Path]:
    kept = os.environ.get("LLMGW_SCREENSHOTS")
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        yield Path(kept)
        return
    with tempfile.TemporaryDirectory(prefix="llmgw-shots-") as tmp:
        yield Path(tmp)


# What is measured on each page, in the browser.
MEASURE = """() => {
  const inView = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && r.left >= -0.5
      && r.right <= window.innerWidth + 0.5;
  };
  const charts = [...document.querySelectorAll('svg.chart text')].filter((t) => t.getClientRects().length);
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    clipped: [document.documentElement, document.body]
      .some((e) => getComputedStyle(e).overflowX !== 'visible'),
    nav: [...document.querySelectorAll('header nav a')].map((a) => [a.textContent.trim(), inView(a)]),
    logout: [...document.querySelectorAll('form[action="/ui/logout"] button')].map(inView),
    chartText: charts.map((t) => {
      const m = t.getScreenCTM();
      return [t.textContent, parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b)];
    }),
    overlaps: [...document.querySelectorAll('svg.chart')].flatMap((svg) => {
      const texts = [...svg.querySelectorAll('text')].filter((t) => t.getClientRects().length)
        .map((t) => [t.textContent, t.getBoundingClientRect()]);
      const out = [];
      texts.forEach(([a, ra], i) => texts.slice(i + 1).forEach(([b, rb]) => {
        const apart = ra.right - 1 <= rb.left || rb.right - 1 <= ra.left
          || ra.bottom - 1 <= rb.top || rb.bottom - 1 <= ra.top;
        if (!apart) out.push(a + ' / ' + b);
      }));
      return out;
    }),
    wide: [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .filter((e) => !e.closest('.table-box, pre'))
      .slice(0, 5).map((e) => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40)),
  };
}"""


def check_page(page: Any, where: str, logged_in: bool) -> list[str]:
    """What is wrong with the page as shown (nothing: an empty list)."""
    got = page.evaluate(MEASURE)
    problems = []
    if got["scrollWidth"] > got["innerWidth"]:
        problems.append(
            f"{where}: the page scrolls sideways ({got['scrollWidth']} > {got['innerWidth']} px), "
            f"past the edge: {got['wide']}"
        )
    if got["clipped"]:
        problems.append(f"{where}: html or body hides horizontal overflow (it must fit, not be cut)")
    if logged_in:
        if not got["nav"] or not all(shown for _, shown in got["nav"]):
            problems.append(
                f"{where}: navigation links off screen: {[n for n, shown in got['nav'] if not shown]}"
            )
        if got["logout"] != [True]:
            problems.append(f"{where}: Log out not on screen")
    if got["overlaps"]:
        problems.append(f"{where}: chart texts overlap: {got['overlaps'][:5]}")
    small = [(text, round(px, 1)) for text, px in got["chartText"] if px < MIN_CHART_TEXT_PX]
    if small:
        problems.append(f"{where}: chart text under {MIN_CHART_TEXT_PX} px: {small[:5]}")
    return problems


def shot_name(role: str, path: str, width: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
    return f"{role}-{slug}-{width}.png"


def test_every_page_fits_a_phone_and_a_desktop(tmp_path: Path, shots: Path) -> None:
    sync_api = playwright_or_skip()
    gw_dir = tmp_path / "gw"
    gw_dir.mkdir()
    seeded = seed(gw_dir / "llmgw.db")
    paths = page_paths(seeded)
    assert "/admin/users" in paths and "/usage" in paths  # the routes were read
    problems: list[str] = []
    walked = 0
    with GatewayProcess(gw_dir, 'auth_mode = "users"\n') as gw, sync_api.sync_playwright() as pw:  # type: ignore[attr-defined]
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for width, (w, h) in WIDTHS.items():
                context = browser.new_context(viewport={"width": w, "height": h})
                page = context.new_page()
                page.goto(f"{gw.base_url}/ui/login")
                page.screenshot(path=str(shots / shot_name("anonymous", "/login", width)), full_page=True)
                problems += check_page(page, f"/login at {width}", logged_in=False)
                for role in (ADMIN, USER):
                    page.goto(f"{gw.base_url}/ui/login")
                    page.fill("input[name=username]", role)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_url(re.compile(r".*/ui/(?!login).*"))
                    for path in paths:
                        page.goto(f"{gw.base_url}/ui{path}")
                        page.screenshot(path=str(shots / shot_name(role, path, width)), full_page=True)
                        problems += check_page(page, f"{path} as {role} at {width}", logged_in=True)
                        walked += 1
                    page.click("form[action='/ui/logout'] button")
                    page.wait_for_url(re.compile(r".*/ui/login.*"))
                context.close()
        finally:
            browser.close()
    assert walked == 2 * 2 * len(paths)
    assert not problems, "\n".join(problems)
