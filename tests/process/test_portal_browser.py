"""The portal in a real browser: Debian's Chromium driven by Playwright (its executable path set:
browsers cannot be downloaded here; `scripts/install-system-deps` installs it, `DEV=1 scripts/install`
installs Playwright). A user logs in, creates a key and sees its token once, calls
`/v1/chat/completions` with it through the openai SDK, revokes it (through its confirmation page,
cancelled once first), and sees the next call refused.
Skipped without Chromium or Playwright, except in CI (`CI=true`), where that is a failure."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import openai
import pytest

from tests.conftest import UPSTREAM_KEY, provider
from tests.process.test_cli_accounts import PW, Cli, ok
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# What Chromium needs as root, headless, on a machine with no network but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def playwright_or_skip() -> object:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"no Chromium at {CHROMIUM}")
    try:
        from playwright import sync_api
    except ImportError:
        missing.append("Playwright for Python is not installed")
        sync_api = None
    if missing:
        reason = "; ".join(missing) + " (scripts/install-system-deps, DEV=1 scripts/install)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return sync_api


def test_a_user_logs_in_mints_a_key_uses_it_and_revokes_it(fake: FakeOpenAI, tmp_path: Path) -> None:
    sync_api = playwright_or_skip()
    (tmp_path / "gw").mkdir()
    cli_config = tmp_path / "cli.toml"
    cli_config.write_text(f'[server]\ndatabase = "{tmp_path / "gw" / "llmgw.db"}"\n', encoding="utf-8")
    cli = Cli(cli_config)
    ok(cli("user", "add", "root", "--admin", "--password-stdin", stdin=PW + "\n"))
    ok(cli("user", "add", "ada", "--password-stdin", stdin=PW + "\n"))

    config = 'auth_mode = "users"\n' + provider("up", fake.base_url)
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path / "gw", config, env) as gw, sync_api.sync_playwright() as pw:  # type: ignore[attr-defined]
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{gw.base_url}/ui/login")
            page.fill("input[name=username]", "ada")
            page.fill("input[name=password]", PW)
            page.click("button[type=submit]")
            page.wait_for_url(f"{gw.base_url}/ui/keys")

            page.fill("input[name=name]", "browser")
            page.click("text=Create a key")
            token = page.get_attribute("[data-token]", "data-token")
            assert token is not None and token.startswith("llmgw-")
            page.goto(f"{gw.base_url}/ui/keys")  # shown once: not on the page again
            assert page.locator("[data-token]").count() == 0
            assert token not in page.content()

            client = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=token, max_retries=0)
            answer = client.chat.completions.create(
                model="up/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
            )
            assert answer.choices[0].message.content

            # Revoking asks first, on a page of its own; Cancel goes back and changes nothing.
            page.click("a:has-text('Revoke')")
            page.wait_for_url(f"{gw.base_url}/ui/keys/*/revoke")
            assert "Programs using it are refused at once." in page.content()
            page.click("text=Cancel")
            page.wait_for_url(f"{gw.base_url}/ui/keys")
            assert (
                client.chat.completions.create(
                    model="up/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
                )
                .choices[0]
                .message.content
            )
            page.click("a:has-text('Revoke')")
            page.click("button:has-text('Revoke the key')")
            page.wait_for_url(f"{gw.base_url}/ui/keys?done=revoked")
            assert "The key was revoked." in page.content()
            for _ in range(20):  # the server's key index sees it at once; allow a refresh or two
                try:
                    client.chat.completions.create(
                        model="up/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
                    )
                except openai.AuthenticationError:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the key revoked in the browser was still accepted")
        finally:
            browser.close()
