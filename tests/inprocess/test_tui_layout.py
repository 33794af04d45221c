"""The TUI uses the terminal it is given: the dashboard's charts grow with it (and are laid out again
on a resize), and every screen and dialog fits both the smallest terminal (80x24) and a large one
(160x48): no widget is cut off by the screen's edge or its container's, unless it sits in a
container that scrolls to it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from llmgw_tui.layout import ChartLayout, chart_layout
from llmgw_tui.screens.dialogs import ConfirmDialog, FormDialog, TokenDialog
from llmgw_tui.screens.requests import RequestDialog
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Sparkline

from llmgw.services import credentials, limits
from llmgw.storage import Store
from tests.support.tui_support import ADMIN, MemoryKeyring, app, seed, settle, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]
SMALL, LARGE = (80, 24), (160, 48)


@pytest.fixture(autouse=True)
def keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryKeyring({"llmgw/up": "sk-upstream-0123456789abcd", "llmgw/__index__": '["up"]'})
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    for name in [n for n in os.environ if n.startswith("LLMGW_") and "_KEY" in n]:
        monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    seed(tmp_path / "llmgw.db")
    with Store.open(tmp_path / "llmgw.db") as store:
        limits.set_limits(store, ADMIN, "alice", rpm=60, budget_usd=5.0, period="day")
    return path


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((80, 24), ChartLayout(columns=2, rows=2, chart_height=3)),  # the smallest: as small as they get
        ((80, 20), ChartLayout(columns=2, rows=2, chart_height=3)),  # smaller still: the table gives way
        ((120, 40), ChartLayout(columns=2, rows=2, chart_height=9)),
        ((160, 48), ChartLayout(columns=2, rows=2, chart_height=13)),
        ((160, 100), ChartLayout(columns=2, rows=2, chart_height=16)),  # no taller than that
        ((240, 60), ChartLayout(columns=4, rows=1, chart_height=16)),  # very wide: side by side
        ((240, 30), ChartLayout(columns=4, rows=1, chart_height=9)),
    ],
)
def test_the_charts_grow_with_the_terminal(size: tuple[int, int], expected: ChartLayout) -> None:
    got = chart_layout(*size)
    assert got == expected
    assert got.height == got.rows * got.chart_height and got.bars_height == got.chart_height - 1


def bars_sizes(pilot: Pilot[object]) -> list[tuple[int, int]]:
    return [(s.region.width, s.region.height) for s in pilot.app.screen.query(Sparkline)]


async def test_the_dashboard_fills_a_large_terminal_and_follows_a_resize(config: Path) -> None:
    async with app(config).run_test(size=LARGE) as pilot:
        await settle(pilot)
        sizes = bars_sizes(pilot)
        assert len(sizes) == 4
        assert all(h == 12 for _, h in sizes)  # 13 rows a chart: its caption and 12 of bars
        assert all(w >= 70 for w, _ in sizes)  # half the width each
        assert cut_off(pilot.app.screen) == []

        await pilot.resize_terminal(*SMALL)
        await settle(pilot)
        assert all(h == 2 for _, h in bars_sizes(pilot))
        assert all(30 <= w < 40 for w, _ in bars_sizes(pilot))

        await pilot.resize_terminal(240, 60)
        await settle(pilot)
        sizes = bars_sizes(pilot)
        assert all(h == 15 for _, h in sizes)
        assert len({r.region.y for r in pilot.app.screen.query(Sparkline)}) == 1  # one row of four

        await pilot.press("2")  # resized while another screen shows: laid out again on return
        await pilot.resize_terminal(*LARGE)
        await pilot.press("1")
        await settle(pilot)
        assert all(h == 12 for _, h in bars_sizes(pilot))


def scrolls_to(widget: Widget) -> Widget | None:
    """The nearest container that scrolls, which can bring `widget` into view."""
    for ancestor in widget.ancestors:
        if isinstance(ancestor, Widget) and (ancestor.max_scroll_y > 0 or ancestor.max_scroll_x > 0):
            return ancestor
    return None


def cut_off(screen: Screen[object]) -> list[str]:
    """Each shown widget that lies past the screen's edge, or its container's, and no scrolling
    container brings into view."""
    problems = []
    for widget in screen.walk_children(with_self=False):
        if not isinstance(widget, Widget) or not widget.display or not widget.visible:
            continue
        region = widget.region
        if not region.area:
            continue
        parent = widget.parent
        bounds = [screen.region]
        if isinstance(parent, Widget) and parent is not screen and scrolls_to(widget) is None:
            bounds.append(parent.region)
        for bound in bounds:
            if not bound.contains_region(region) and scrolls_to(widget) is None:
                problems.append(f"{widget!r} at {region} is cut off by {bound}")
    return problems


async def reachable(pilot: Pilot[object]) -> list[str]:
    """`cut_off` for the screen shown, once each widget in a scrolling container is scrolled to."""
    screen = pilot.app.screen
    problems = cut_off(screen)
    for widget in list(screen.walk_children(with_self=False)):
        if isinstance(widget, Input | Button):  # what the admin must reach
            container = scrolls_to(widget)
            if container is not None:
                container.scroll_to_widget(widget, animate=False)
                await pilot.pause()
                if not container.region.contains_region(widget.region):
                    problems.append(f"{widget!r} at {widget.region} not brought into view by {container!r}")
    return problems


async def token_dialog(pilot: Pilot[object]) -> None:
    await pilot.press("3", "n")
    form = pilot.app.screen
    assert isinstance(form, FormDialog)
    form.query_one("#field-owner", Input).value = "bob"
    form.query_one("#ok", Button).press()
    await settle(pilot)


async def refused_new_user(pilot: Pilot[object]) -> None:
    await pilot.press("2", "n")
    form = pilot.app.screen
    assert isinstance(form, FormDialog)
    form.query_one("#field-name", Input).value = "carol"
    form.query_one("#field-password", Input).value = "short"
    form.query_one("#ok", Button).press()
    await settle(pilot)
    assert isinstance(pilot.app.screen, FormDialog) and pilot.app.screen.error


async def request_detail(pilot: Pilot[object]) -> None:
    await pilot.press("8")
    await settle(pilot)
    table = pilot.app.screen.query_one(DataTable)
    table.focus()
    await pilot.press("enter")
    await settle(pilot)


def keys(*pressed: str):  # type: ignore[no-untyped-def]
    async def press(pilot: Pilot[object]) -> None:
        await pilot.press(*pressed)
        await settle(pilot)

    return press


SCREENS = {
    "dashboard": (keys(), None),
    "dashboard by day": (keys("d"), None),
    "users": (keys("2"), None),
    "keys": (keys("3"), None),
    "usage": (keys("4"), None),
    "providers": (keys("5"), None),
    "limits": (keys("6"), None),
    "audit": (keys("7"), None),
    "requests": (keys("8"), None),
    "new user": (keys("2", "n"), FormDialog),
    "new user, refused": (refused_new_user, FormDialog),
    "reset password": (keys("2", "p"), FormDialog),
    "disable user": (keys("2", "e"), ConfirmDialog),
    "delete user": (keys("2", "x"), ConfirmDialog),
    "user's models": (keys("2", "m"), FormDialog),
    "new key": (keys("3", "n"), FormDialog),
    "key's models": (keys("3", "m"), FormDialog),
    "new key's token": (token_dialog, TokenDialog),
    "revoke key": (keys("3", "x"), ConfirmDialog),
    "export usage": (keys("4", "e"), FormDialog),
    "set upstream key": (keys("5", "s"), FormDialog),
    "new limits": (keys("6", "n"), FormDialog),
    "edit limits": (keys("6", "s"), FormDialog),
    "clear limits": (keys("6", "x"), ConfirmDialog),
    "a request": (request_detail, RequestDialog),
    "export requests": (keys("8", "e"), FormDialog),
}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
@pytest.mark.parametrize("name", list(SCREENS))
async def test_every_screen_and_dialog_fits(name: str, size: tuple[int, int], config: Path) -> None:
    open_it, dialog = SCREENS[name]
    async with app(config).run_test(size=size) as pilot:
        await settle(pilot)
        await open_it(pilot)
        if dialog is not None:
            assert isinstance(pilot.app.screen, dialog), f"{name}: {pilot.app.screen!r} instead of a dialog"
        assert await reachable(pilot) == []
