"""The Providers screen shows each upstream key's state as the running server last published it
(driven with Textual's Pilot on a frozen clock; the keyring is a dict)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from llmgw.services import credentials
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
