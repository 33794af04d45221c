"""An administrator's new key for a user, in a real browser (Debian's Chromium through Playwright, as
tests/process/test_portal_browser.py): the one form with name, expiry, limits and models; a refused
value comes back with everything typed; the token is shown once; the openai SDK with that key calls the
model it may and is refused (403) the one it may not, against a real `llmgw serve`."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.conftest import UPSTREAM_KEY, provider
from tests.process.test_cli_accounts import PW, Cli, ok
from tests.process.test_portal_browser import CHROMIUM, CHROMIUM_ARGS, playwright_or_skip
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess


def test_an_admin_creates_a_key_for_a_user_in_one_form(fake: FakeOpenAI, tmp_path: Path) -> None:
    sync_api = playwright_or_skip()
    (tmp_path / "gw").mkdir()
    cli_config = tmp_path / "cli.toml"
    cli_config.write_text(f'[server]\ndatabase = "{tmp_path / "gw" / "llmgw.db"}"\n', encoding="utf-8")
    cli = Cli(cli_config)
    ok(cli("user", "add", "root", "--admin", "--password-stdin", stdin=PW + "\n"))
    ok(cli("user", "add", "ada", "--password-stdin", stdin=PW + "\n"))

    config = 'auth_mode = "users"\n' + provider("up", fake.base_url, 'models = ["m", "other"]')
    config += '\n[prices."up/m"]\ninput = 1.0\noutput = 2.0\n'  # a budget needs the price
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path / "gw", config, env) as gw, sync_api.sync_playwright() as pw:  # type: ignore[attr-defined]
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{gw.base_url}/ui/login")
            page.fill("input[name=username]", "root")
            page.fill("input[name=password]", PW)
            page.click("button[type=submit]")
            page.wait_for_url(f"{gw.base_url}/ui/admin/overview")  # where an administrator lands

            page.goto(f"{gw.base_url}/ui/admin/keys")
            page.click("text=Create a key for a user")
            page.wait_for_url(f"{gw.base_url}/ui/admin/keys/new")
            page.select_option("select[name=owner]", "ada")
            page.fill("input[name=name]", "ci")
            page.fill("input[name=expires_days]", "0")  # refused: kept with the rest
            page.fill("input[name=rpm]", "30")
            page.fill("input[name=budget_usd]", "1.5")
            page.select_option("select[name=period]", "day")
            page.fill("textarea[name=models]", "up/m")
            page.click("button:has-text('Create the key')")
            assert "the expiry is a whole number of days" in page.content()
            assert page.input_value("input[name=name]") == "ci"
            assert page.input_value("input[name=rpm]") == "30"
            assert page.input_value("input[name=budget_usd]") == "1.5"
            assert page.input_value("select[name=owner]") == "ada"
            assert page.input_value("select[name=period]") == "day"
            assert page.input_value("textarea[name=models]") == "up/m"
            assert page.locator("[data-token]").count() == 0

            page.fill("input[name=expires_days]", "30")
            page.click("button:has-text('Create the key')")
            token = page.get_attribute("[data-token]", "data-token")
            assert token is not None and token.startswith("llmgw-")
            assert "Limits (this key only): 30 requests/min, 1.50 USD/day." in page.content()

            page.goto(f"{gw.base_url}/ui/admin/keys")  # shown once
            assert token not in page.content() and "up/m" in page.content()

            client = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=token, max_retries=0)
            messages: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]
            assert client.chat.completions.create(model="up/m", messages=messages).choices[0].message.content
            with pytest.raises(openai.PermissionDeniedError) as refused:
                client.chat.completions.create(model="up/other", messages=messages)
            assert "`up/other` is not allowed" in refused.value.message
            assert [m.id for m in client.models.list()] == ["up/m"]
        finally:
            browser.close()
