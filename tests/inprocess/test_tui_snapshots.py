"""Every screen of the TUI at a fixed size, on seeded data and a frozen clock, compared with its kept
snapshot (tests/support/tui_snapshots.py); 80x24 for all of them (the smallest terminal it must stay readable
in), a larger terminal and the light theme for the dashboard."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest
from llmgw_tui.app import LIGHT
from textual.pilot import Pilot

from llmgw.services import credentials, limits
from llmgw.storage import KeyStateRow, Store
from tests.support.tui_snapshots import check, screenshot
from tests.support.tui_support import ADMIN, NOW, MemoryKeyring, app, seed, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]
SMALL = (80, 24)


@pytest.fixture(autouse=True)
def fixed_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same secrets on every machine: one key in the keyring, none in the environment."""
    backend = MemoryKeyring({"llmgw/up": "sk-upstream-0123456789abcd", "llmgw/__index__": '["up"]'})
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    for name in [n for n in os.environ if n.startswith("LLMGW_") and "_KEY" in n]:
        monkeypatch.delenv(name)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    seed(tmp_path / "llmgw.db")
    with Store.open(tmp_path / "llmgw.db") as store, mock.patch("time.time", return_value=NOW - 600):
        limits.set_limits(store, ADMIN, "alice", rpm=60, budget_usd=5.0, period="day")
        limits.set_limits(store, ADMIN, "0123456789abcdef", tpm=20000)
        # The running server's view of the keyring's key: cooling for one model (the Providers screen).
        store.publish_key_states([published_cooling()])
    return path


def published_cooling() -> KeyStateRow:
    return KeyStateRow(
        provider="up",
        slot=1,
        mask=credentials.mask_secret("sk-upstream-0123456789abcd"),
        state="cooling",
        cooling_until=NOW + 42,
        cooling_models=("gpt-4o-mini",),
        key_wide=False,
        reason="429 rate_limit_exceeded",
        last_used_at=NOW - 5,
        last_error_at=NOW - 5,
        requests=12,
        failures=1,
        run="0123456789ab",
        updated_at=NOW - 2,
    )


def press(*keys: str):  # type: ignore[no-untyped-def]
    async def before(pilot: Pilot[object]) -> None:
        await pilot.press(*keys)

    return before


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("dashboard", ()),
        ("dashboard_day", ("d",)),
        ("users", ("2",)),
        ("keys", ("3",)),
        ("usage", ("4",)),
        ("providers", ("5",)),
        ("limits", ("6",)),
        ("audit", ("7",)),
        ("requests", ("8",)),
        ("request_detail", ("8", "enter")),
        ("new_user_form", ("2", "n")),
        ("limits_form", ("6", "s")),
    ],
)
async def test_screen_at_80x24(name: str, keys: tuple[str, ...], config: Path, tmp_path: Path) -> None:
    svg = await screenshot(app(config), SMALL, press(*keys) if keys else None)
    check(name, svg, tmp_path)


@pytest.mark.parametrize("size", [(120, 40), (160, 48)], ids=["120x40", "160x48"])
async def test_dashboard_on_a_large_terminal(size: tuple[int, int], config: Path, tmp_path: Path) -> None:
    """The charts take the rows the newest-requests table does not need."""
    check(f"dashboard_{size[0]}x{size[1]}", await screenshot(app(config), size), tmp_path)


async def test_a_refused_form_at_80x24(config: Path, tmp_path: Path) -> None:
    """The refusal inside the dialog, what was typed kept (the password masked)."""

    async def refused(pilot: Pilot[object]) -> None:
        await pilot.press("2", "n")
        for value in ("carol", "short", "user"):
            await pilot.press(*value, "enter")

    check("new_user_refused", await screenshot(app(config), SMALL, refused), tmp_path)


async def test_dashboard_light_theme(config: Path, tmp_path: Path) -> None:
    async def light(pilot: Pilot[object]) -> None:
        pilot.app.theme = LIGHT

    check("dashboard_light", await screenshot(app(config), SMALL, light), tmp_path)


@pytest.fixture
def relative_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative paths: the problem's message names them, and a temporary directory's name varies."""
    monkeypatch.chdir(tmp_path)
    config = Path("llmgw.toml")
    config.write_text('[server]\ndatabase = "data/llmgw.db"\n', encoding="utf-8")
    return config


async def test_no_database_problem(relative_config: Path, tmp_path: Path) -> None:
    check("no_database", await screenshot(app(relative_config), SMALL), tmp_path)
