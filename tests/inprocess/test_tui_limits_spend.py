"""The TUI's Limits screen with spend against budget: spent, left and a bar per user and key; the bar's
cells as a pure function."""

from __future__ import annotations

from pathlib import Path

import pytest
from llmgw_tui.screens.limits import used_bar
from textual.widgets import DataTable

from llmgw.services import limits
from llmgw.storage import Store
from tests.support.tui_support import ADMIN, app, seed, settle, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]


@pytest.mark.parametrize(
    ("used", "bar"),
    [
        (None, "-"),
        (0.0, "   0% ░░░░░░░░░░"),
        (0.004, "  <1% ▇░░░░░░░░░"),
        (0.8, "  80% ▇▇▇▇▇▇▇▇░░"),
        (1.0, " 100% ▇▇▇▇▇▇▇▇▇▇"),
        (2.5, " 250% ▇▇▇▇▇▇▇▇▇▇"),
        (float("inf"), ">999% ▇▇▇▇▇▇▇▇▇▇"),
    ],
)
def test_used_bar(used: float | None, bar: str) -> None:
    assert used_bar(used) == bar


async def test_the_limits_screen_shows_spend_against_budget(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    seed(tmp_path / "llmgw.db")  # alice spent 0.040 USD today (NOW), through her key
    with Store.open(tmp_path / "llmgw.db") as store:
        limits.set_limits(store, ADMIN, "alice", budget_usd=0.05, period="day")
        limits.set_limits(store, ADMIN, "0123456789abcdef", rpm=10)  # alice's key, no budget
    async with app(config).run_test(size=(160, 40)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        table = pilot.app.screen.query_one("#limits", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    assert rows[0][:10] == [
        "alice", "user", "alice", "off", "off", "$0.05", "day", "$0.04", "$0.01", "  80% ▇▇▇▇▇▇▇▇░░",
    ]  # fmt: skip
    assert rows[1][:10] == [
        "0123456789abcdef",
        "key",
        "alice",
        "10",
        "off",
        "off",
        "month",
        "$0.04",
        "-",
        "-",
    ]
