"""The TUI's request log driven by Pilot against a ledger of known rows: pages newest first, filters,
a bad filter shown on the screen, a request found by id and opened from its row with every column,
and the CSV export of the filtered set."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from llmgw_tui.screens.dialogs import FormDialog
from llmgw_tui.screens.requests import RequestDialog, RequestsScreen
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, Select

from llmgw.services import request_log
from llmgw.storage import Store
from tests.support.request_log_seed import NOW, Seeded, seed
from tests.support.tui_support import app, settle, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]
SIZE = (160, 40)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def seeded(tmp_path: Path, config: Path) -> Seeded:
    with Store.open(tmp_path / "llmgw.db") as store:
        return seed(store)


def shown_ids(pilot: Pilot[object]) -> list[str]:
    table = pilot.app.screen.query_one("#requests", DataTable)
    return [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]


async def type_in(pilot: Pilot[object], widget_id: str, value: str) -> None:
    field = pilot.app.screen.query_one(f"#{widget_id}", Input)
    field.value = value
    field.focus()
    await pilot.press("enter")
    await settle(pilot)


async def open_log(pilot: Pilot[object]) -> RequestsScreen:
    await pilot.press("8")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RequestsScreen)
    return screen


async def test_pages_newest_first_and_back(config: Path, seeded: Seeded) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        screen = await open_log(pilot)
        everyone = seeded.newest_first()
        size = request_log.PAGE_ROWS
        assert shown_ids(pilot) == everyone[:size]
        table = pilot.app.screen.query_one("#requests", DataTable)
        first, second = ([str(c) for c in table.get_row_at(i)] for i in (0, 1))
        assert first[:4] == ["2026-12-01 12:35:30", "200", "", "(no user)"] and first[5] == "(no key)"
        assert (second[3], second[5]) == ("ben", f"ci ({seeded.ben_key.public_id})")
        await pilot.press("n")
        await settle(pilot)
        assert shown_ids(pilot) == everyone[size:]
        assert "no older requests" in str(screen.query_one("#log-caption", Label).render())
        await pilot.press("n")  # nothing older: stays
        await settle(pilot)
        assert shown_ids(pilot) == everyone[size:]
        await pilot.press("b")
        await settle(pilot)
        assert shown_ids(pilot) == everyone[:size]


async def test_filters_and_a_bad_one_shown_on_the_screen(config: Path, seeded: Seeded) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        screen = await open_log(pilot)
        await type_in(pilot, "user", "ann")
        assert shown_ids(pilot) == seeded.newest_first([r for r in seeded.rows if r.user_id == seeded.ann.id])
        screen.query_one("#status", Select).value = "error"
        await settle(pilot)
        expected = [
            r for r in seeded.rows if r.user_id == seeded.ann.id and (r.status >= 400 or r.error_type)
        ]
        assert shown_ids(pilot) == seeded.newest_first(expected) and expected
        screen.query_one("#kind", Select).value = "policy"
        await settle(pilot)
        policy = [r for r in expected if r.error_kind == "policy"]
        assert shown_ids(pilot) == seeded.newest_first(policy) and policy
        assert (
            pilot.app.screen.query_one("#requests", DataTable).get_row_at(0)[2] == "policy: budget_exceeded"
        )
        screen.query_one("#kind", Select).clear()
        await type_in(pilot, "user", "")
        await type_in(pilot, "key", "laptop")
        assert "16 hex digits" in str(screen.query_one("#log-problem", Label).render())
        assert shown_ids(pilot) == []
        await type_in(pilot, "key", seeded.ben_key.public_id)
        assert str(screen.query_one("#log-problem", Label).render()) == ""
        bens = [
            r for r in seeded.rows if r.api_key_id == seeded.ben_key.id and (r.status >= 400 or r.error_type)
        ]
        assert shown_ids(pilot) == seeded.newest_first(bens)
        screen.query_one("#period", Select).value = 3600
        await settle(pilot)
        hour = [r for r in bens if r.created_at >= NOW - 3600]
        assert shown_ids(pilot) == seeded.newest_first(hour) and len(hour) < len(bens)
        # a typed from and to: the window 09:00 to 10:00 UTC, whatever the period says
        await type_in(pilot, "since", "2026-12-01 09:00")
        await type_in(pilot, "until", "2026-12-01T10:00")
        window = [r for r in bens if NOW - 3 * 3600 - 2430 <= r.created_at < NOW - 2 * 3600 - 2430]
        assert shown_ids(pilot) == seeded.newest_first(window) and window
        await type_in(pilot, "until", "yesterday")
        assert "To (UTC) must be a date or time" in str(screen.query_one("#log-problem", Label).render())


async def test_a_request_found_by_id_or_opened_from_its_row(config: Path, seeded: Seeded) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await open_log(pilot)
        await type_in(pilot, "find", "req_013")
        dialog = pilot.app.screen
        assert isinstance(dialog, RequestDialog)
        table = dialog.query_one("#columns", DataTable)
        columns = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert columns["request_id"] == "req_013" and columns["error_type"] == "stream_cut"
        assert columns["created_at"].startswith("2026-12-01T08:45:30.000Z") and columns["streamed"] == "no"
        assert columns["api_key_id"] == str(seeded.ben_key.id) and columns["cost_usd"] == "0.013"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(pilot.app.screen, RequestsScreen)

        log = pilot.app.screen.query_one("#requests", DataTable)
        log.focus()
        log.move_cursor(row=2)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, RequestDialog)
        assert pilot.app.screen.detail.row.request_id == seeded.newest_first()[2]


async def test_export_writes_the_filtered_set(config: Path, seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "requests.csv"
    async with app(config).run_test(size=SIZE) as pilot:
        await open_log(pilot)
        await type_in(pilot, "model", "fast")  # Enter applies it and goes back to the table
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(pilot.app.screen, FormDialog)
        field = pilot.app.focused
        assert isinstance(field, Input)
        field.value = str(out)
        await pilot.press("enter")
        await settle(pilot)
    with out.open(newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["request_id"] for r in table] == seeded.newest_first(
        [r for r in seeded.rows if r.model_requested == "fast"]
    )
