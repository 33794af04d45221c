"""The TUI on the database of a running `llmgw serve` (auth_mode = users): a key minted in the TUI
works at once, its request shows in the dashboard's live tail, and once revoked in the TUI the running
gateway refuses it within about a second (its key index polls the database's data_version)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import httpx
import pytest
from keyring.backends import fail
from llmgw_tui.app import AdminApp
from llmgw_tui.screens.dialogs import TokenDialog
from textual.widgets import DataTable, Static

from llmgw.services import credentials, users
from llmgw.storage import Store
from tests.conftest import UPSTREAM_KEY, provider
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess
from tests.support.tui_support import ADMIN, PASSWORD, backend, settle

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]
CHAT = {"model": "up/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}


async def test_a_key_revoked_in_the_tui_is_refused_by_the_running_gateway(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    gw_dir = tmp_path / "gw"
    gw_dir.mkdir()
    with Store.open(gw_dir / "llmgw.db") as store:
        users.create_user(store, ADMIN, "ada", PASSWORD)
    config = 'auth_mode = "users"\n' + provider("up", fake.base_url)
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(gw_dir, config, env) as gw:
        tui = AdminApp(backend(gw.config_path), live=False)
        async with tui.run_test(size=(120, 36)) as pilot, httpx.AsyncClient(base_url=gw.base_url) as client:
            await pilot.press("3", "n")  # Keys, new key
            for value in ("ada", "laptop", "", ""):  # owner, name, expiry, models
                pilot.app.focused.value = value  # type: ignore[union-attr]
                await pilot.press("enter")
            await settle(pilot)
            dialog = pilot.app.screen
            assert isinstance(dialog, TokenDialog)
            headers = {"authorization": f"Bearer {dialog.token}"}
            await pilot.press("escape")
            await settle(pilot)

            answer = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
            assert answer.status_code == 200, answer.text
            request_id = answer.headers["x-request-id"]

            await pilot.press("1")  # the dashboard: the request in its live tail, with its user
            for _ in range(50):  # the ledger writer flushes in batches
                await settle(pilot)
                tail = pilot.app.screen.query_one("#tail", DataTable)
                if tail.row_count:
                    break
                pilot.app.screen.refresh_data()  # type: ignore[attr-defined]
                await pilot.pause(0.1)
            assert [str(c) for c in tail.get_row_at(0)][1:4] == ["ada", "up/gpt-4o-mini", "200"]

            await pilot.press("3", "x")  # Keys: revoke the selected (only) key...
            revoked_at = time.monotonic()
            await pilot.press("y")  # ...confirmed
            await settle(pilot)
            for _ in range(40):
                answer = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
                if answer.status_code == 401:
                    break
                await pilot.pause(0.05)
            else:
                pytest.fail("the revoked key was still accepted 2 s after the TUI revoked it")
            print(
                f"refused {time.monotonic() - revoked_at:.2f} s after the revoke was confirmed ({request_id})"
            )


async def test_the_providers_screen_shows_the_states_of_a_servers_environment_keys(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`llmgw serve` with its upstream keys in its own environment and no keyring; the TUI, in a session
    with neither, shows the keys the server published, masked, with their states."""
    gw_dir = tmp_path / "gw"
    gw_dir.mkdir()
    second = UPSTREAM_KEY + "-second"
    env = {
        "LLMGW_UP_API_KEY": UPSTREAM_KEY,
        "LLMGW_UP_API_KEY_2": second,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "DBUS_SESSION_BUS_ADDRESS": "",
    }
    monkeypatch.setattr(credentials, "_keyring", fail.Keyring)  # this session: no keyring...
    for name in [n for n in os.environ if n.startswith("LLMGW_") and "_KEY" in n]:
        monkeypatch.delenv(name)  # ...and none of the server's keys
    with GatewayProcess(gw_dir, 'auth_mode = "users"\n' + provider("up", fake.base_url), env) as gw:
        with Store.open(gw.db_path) as store:
            for _ in range(100):  # the gateway publishes at start, then every few seconds
                if len(store.key_states()) == 2:
                    break
                await anyio.sleep(0.1)
        tui = AdminApp(backend(gw.config_path), live=False)
        async with tui.run_test(size=(120, 36)) as pilot:
            await pilot.press("5")
            await settle(pilot)
            table = pilot.app.screen.query_one("#secrets", DataTable)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            banner = pilot.app.screen.query_one("#keyring-problem", Static)
            assert banner.has_class("shown")
    mask = credentials.mask_secret
    assert rows == [["up", "server", mask(UPSTREAM_KEY), "ok"], ["up.2", "server", mask(second), "ok"]]
    assert UPSTREAM_KEY not in str(rows)
