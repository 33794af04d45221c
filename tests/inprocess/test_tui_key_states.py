"""The Providers screen shows each upstream key's state as the running server last published it
(driven with Textual's Pilot on a frozen clock; the keyring is a dict)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from keyring.backends import fail
from llmgw_tui.screens.providers import key_rows
from textual.widgets import DataTable, Static

from llmgw.services import credentials
from llmgw.services.key_states import PublishedStates
from llmgw.storage import Store
from tests.support.tui_support import NOW, MemoryKeyring, app, seed, settle, write_config
from tests.unit.test_key_states_store import state

pytestmark = pytest.mark.anyio
FIRST = "sk-first-0123456789abcd1111"
SECOND = "sk-second-0123456789abcd2222"
THIRD = "sk-third-0123456789abcd3333"
NEW = "sk-new-0123456789abcd4444"


@pytest.fixture(autouse=True)
def keyring_with_four_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["up", "up.2", "up.3", "up.4"]
    entries = {f"llmgw/{n}": v for n, v in zip(names, [FIRST, SECOND, THIRD, NEW], strict=True)}
    backend = MemoryKeyring({**entries, "llmgw/__index__": str(names).replace("'", '"')})
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    for name in [n for n in os.environ if n.startswith("LLMGW_") and "_KEY" in n]:
        monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    seed(tmp_path / "llmgw.db")
    return path


def publish(db: Path, updated_at: float) -> None:
    """What a server that read up, up.2 and up.3 published (up.4 was added since)."""
    mask = credentials.mask_secret
    with Store.open(db) as store:
        store.publish_key_states(
            [
                state("up", 1, mask=mask(FIRST), requests=9, updated_at=updated_at),
                state(
                    "up",
                    2,
                    mask=mask(SECOND),
                    state="cooling",
                    cooling_until=NOW + 42,
                    cooling_models=("gpt-4o-mini",),
                    reason="429 rate_limit_exceeded",
                    updated_at=updated_at,
                ),
                state(
                    "up",
                    3,
                    mask=mask(THIRD),
                    state="rejected",
                    reason="401 invalid_api_key",
                    updated_at=updated_at,
                ),
            ]
        )


async def states_shown(config: Path) -> tuple[list[str], str]:
    async with app(config).run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        table = pilot.app.screen.query_one("#secrets", DataTable)
        column = [str(table.get_row_at(i)[3]) for i in range(table.row_count)]
        note = str(pilot.app.screen.query_one("#key-state-note", Static).render())
    return column, note


async def test_each_key_shows_its_state_as_the_running_server_last_saw_it(
    config: Path, tmp_path: Path
) -> None:
    publish(tmp_path / "llmgw.db", updated_at=NOW - 3)
    column, note = await states_shown(config)
    assert column == [
        "ok",
        "cooling 42 s (gpt-4o-mini): 429 rate_limit_exceeded",
        "rejected: 401 invalid_api_key",
        "not read by the server yet",
    ]
    assert note == "Key states as the running server last saw them, 3 s ago."


async def test_a_stopped_server_and_no_server_are_said(config: Path, tmp_path: Path) -> None:
    column, note = await states_shown(config)
    assert column == ["-", "-", "-", "-"]
    assert note.startswith("Server not running, or no key state published yet")

    publish(tmp_path / "llmgw.db", updated_at=NOW - 300)
    column, note = await states_shown(config)
    assert column[2] == "rejected: 401 invalid_api_key" and column[3] == "-"
    assert note == "Server not running: key states as it last published them, 5 min ago."


async def providers_table(config: Path) -> tuple[list[list[str]], str, bool]:
    """The upstream keys' rows, the note under them, and whether the keyring problem is shown."""
    async with app(config).run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        screen = pilot.app.screen
        table = screen.query_one("#secrets", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        note = str(screen.query_one("#key-state-note", Static).render())
        banner = screen.query_one("#keyring-problem", Static).has_class("shown")
    return rows, note, banner


async def test_without_a_keyring_the_environments_keys_show_the_servers_states(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "_keyring", fail.Keyring)
    monkeypatch.setenv("LLMGW_UP_API_KEY", FIRST)
    monkeypatch.setenv("LLMGW_UP_API_KEY_2", SECOND)
    publish(tmp_path / "llmgw.db", updated_at=NOW - 3)  # the server read the same two (and a third)
    rows, _, banner = await providers_table(config)
    mask = credentials.mask_secret
    assert rows == [
        ["up", "environment", mask(FIRST), "ok"],
        ["up.2", "environment", mask(SECOND), "cooling 42 s (gpt-4o-mini): 429 rate_limit_exceeded"],
        ["up.3", "server", mask(THIRD), "rejected: 401 invalid_api_key"],
    ]
    assert banner  # the keyring's problem is said, and the rest shown anyway


async def test_the_servers_own_keys_show_when_this_terminal_sees_none(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server given its keys in its own environment (a service's), a terminal without them and
    without a keyring: the published keys are the rows, by slot, with their masks and states."""
    monkeypatch.setattr(credentials, "_keyring", fail.Keyring)
    publish(tmp_path / "llmgw.db", updated_at=NOW - 3)
    rows, note, _ = await providers_table(config)
    assert [r[:2] for r in rows] == [["up", "server"], ["up.2", "server"], ["up.3", "server"]]
    assert [r[3] for r in rows] == [
        "ok",
        "cooling 42 s (gpt-4o-mini): 429 rate_limit_exceeded",
        "rejected: 401 invalid_api_key",
    ]
    assert "that this terminal does not see" in note
    assert FIRST not in str(rows)  # masks only


async def test_a_keyring_key_the_server_does_not_use_and_the_one_it_does(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyring here holds one key; the server published another (its own environment's)."""
    backend = MemoryKeyring({"llmgw/up": NEW, "llmgw/__index__": '["up"]'})
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    publish(tmp_path / "llmgw.db", updated_at=NOW - 3)
    rows, _, banner = await providers_table(config)
    mask = credentials.mask_secret
    assert rows[0] == ["up", "OS keyring", mask(NEW), "not read by the server yet"]
    assert [r[:3] for r in rows[1:]] == [
        ["up", "server", mask(FIRST)],
        ["up.2", "server", mask(SECOND)],
        ["up.3", "server", mask(THIRD)],
    ]
    assert not banner


async def test_delete_refuses_a_key_the_server_holds_in_its_environment(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "_keyring", fail.Keyring)
    publish(tmp_path / "llmgw.db", updated_at=NOW - 3)
    async with app(config).run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert any("server's environment" in str(n.message) for n in pilot.app._notifications)


def test_the_gateways_own_secrets_are_listed_without_an_upstream_state() -> None:
    secrets = [
        credentials.SecretInfo("proxy-key", "keyring", "sk-p…1111"),
        credentials.SecretInfo("budget-alert-webhook", "env", "http…ook"),
        credentials.SecretInfo("up", "keyring", credentials.mask_secret(FIRST)),
    ]
    published = PublishedStates((state("up", 1, mask=credentials.mask_secret(FIRST), updated_at=NOW),))
    rows = {r.name: r.state for r in key_rows(secrets, published, NOW)}
    assert rows["proxy-key"] == rows["budget-alert-webhook"] == ""  # not upstream keys: no state
    assert rows["up"] != "" and len(rows) == 3
