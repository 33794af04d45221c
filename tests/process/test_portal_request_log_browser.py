"""The request log in a real browser (Debian's Chromium through Playwright, as
test_portal_browser.py) against a real `llmgw serve` on a ledger of known rows: an administrator
filters by status and error kind with the form, opens a request from its row, finds one by its id;
a user's browser gets 404 for another user's request. Skipped without Chromium or Playwright, except
in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgw.storage import Store
from tests.conftest import provider
from tests.process.test_portal_browser import CHROMIUM, CHROMIUM_ARGS, playwright_or_skip
from tests.support.gateway_process import GatewayProcess
from tests.support.request_log_seed import PASSWORD, seed

pytestmark = pytest.mark.usefixtures("fast_hashes")


def test_an_admin_filters_opens_and_finds_requests_and_a_user_cannot_see_anothers(tmp_path: Path) -> None:
    sync_api = playwright_or_skip()
    (tmp_path / "gw").mkdir()
    with Store.open(tmp_path / "gw" / "llmgw.db") as store:
        seeded = seed(store)
    config = 'auth_mode = "users"\n' + provider("up", "http://127.0.0.1:9/v1")
    env = {"DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path / "gw", config, env) as gw, sync_api.sync_playwright() as pw:  # type: ignore[attr-defined]
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{gw.base_url}/ui/login")
            page.fill("input[name=username]", "root")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{gw.base_url}/ui/admin/overview")  # where administrators land
            page.click("nav >> text=Requests")
            page.wait_for_url(f"{gw.base_url}/ui/requests")
            assert page.locator("tr[data-request-id]").count() == 50

            page.select_option("select[name=status]", "error")
            page.select_option("select[name=error_kind]", "policy")
            page.fill("input[name=user]", "ben")
            page.click("button:has-text('Filter')")
            page.wait_for_url("**/ui/requests?**")
            policy = [r for r in seeded.rows if r.error_kind == "policy" and r.user_id == seeded.ben.id]
            shown = page.locator("tr[data-request-id]")
            assert [shown.nth(i).get_attribute("data-request-id") for i in range(shown.count())] == (
                seeded.newest_first(policy)
            )
            assert page.input_value("input[name=user]") == "ben"  # the filter stays in the form

            first = seeded.newest_first(policy)[0]
            page.click(f"tr[data-request-id={first}] >> a")
            page.wait_for_url(f"{gw.base_url}/ui/requests/{first}")
            assert page.inner_text("tr[data-column=error_type] td") == "budget_exceeded"
            assert page.inner_text("tr[data-column=error_kind] td") == "policy"

            page.goto(f"{gw.base_url}/ui/requests")
            page.fill("input[name=id]", "req_013")
            page.click("button:has-text('Find')")
            page.wait_for_url(f"{gw.base_url}/ui/requests/req_013")
            assert page.inner_text("tr[data-column=error_type] td") == "stream_cut"

            page.goto(f"{gw.base_url}/ui/requests?since=tomorrow")
            assert "From (UTC) must be a date or time" in page.inner_text("[role=alert]")

            ann = browser.new_context().new_page()
            ann.goto(f"{gw.base_url}/ui/login")
            ann.fill("input[name=username]", "ann")
            ann.fill("input[name=password]", PASSWORD)
            ann.click("button[type=submit]")
            ann.wait_for_url(f"{gw.base_url}/ui/keys")  # users land on their own keys
            answer = ann.goto(f"{gw.base_url}/ui/requests/req_013")  # ben's
            assert answer is not None and answer.status == 404
            ann.goto(f"{gw.base_url}/ui/requests")
            mine = ann.locator("tr[data-request-id]")
            assert mine.count() == len([r for r in seeded.rows if r.user_id == seeded.ann.id])
        finally:
            browser.close()
