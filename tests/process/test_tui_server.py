"""The TUI on the database of a running `llmgw serve` (auth_mode = users): a key minted in the TUI
works at once, its request shows in the dashboard's live tail, and once revoked in the TUI the running
gateway refuses it within about a second (its key index polls the database's data_version)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from llmgw_tui.app import AdminApp
from llmgw_tui.screens.dialogs import TokenDialog
from textual.widgets import DataTable

from llmgw.services import users
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
            for value in ("ada", "laptop", ""):
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
