"""Snapshot comparison of the TUI's screens: the app's SVG screenshot (Textual's `export_screenshot`)
against the file kept in tests/snapshots/tui/. `LLMGW_UPDATE_SNAPSHOTS=1` writes the files instead;
look at them (any browser shows an SVG) before committing.

Why not pytest-textual-snapshot: it pins syrupy 4.8.0, which requires pytest < 9, and this project
tests with pytest 9; the comparison it adds over this file is its HTML report."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.worker import WorkerState

from tests.support.tui_support import settle

SNAPSHOTS = Path(__file__).parents[1] / "snapshots" / "tui"
UPDATE = os.environ.get("LLMGW_UPDATE_SNAPSHOTS") == "1"


def normalize(svg: str) -> str:
    """Without the per-render id Rich gives the SVG's CSS classes."""
    return re.sub(r"\bterminal-\d+", "terminal", svg)


async def screenshot(
    app: App[object], size: tuple[int, int], before: Callable[[Pilot[object]], Awaitable[None]] | None = None
) -> str:
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if before is not None:
            await before(pilot)
            await settle(pilot)
        # Some widgets finish their layout a refresh later (a table's column widths), and the screens
        # load their data in workers (threads that a loaded machine may run late): the screen is taken
        # once no worker is pending or running and two shots in a row agree.
        shot = normalize(app.export_screenshot())
        for _ in range(100):
            await app.workers.wait_for_complete()
            await pilot.wait_for_scheduled_animations()
            await pilot.pause(0.02)
            again = normalize(app.export_screenshot())
            if again == shot and not _busy(app):
                return shot
            shot = again
        pytest.fail("the screen never settled")


def _busy(app: App[object]) -> bool:
    return any(worker.state in (WorkerState.PENDING, WorkerState.RUNNING) for worker in app.workers)


def check(name: str, svg: str, failed_dir: Path) -> None:
    """Compare with the kept snapshot `name`; on a difference, keep the new one in `failed_dir`."""
    path = SNAPSHOTS / f"{name}.svg"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name}: run with LLMGW_UPDATE_SNAPSHOTS=1, look at it, commit it")
    kept = path.read_text(encoding="utf-8")
    if kept != svg:
        actual = failed_dir / f"{name}.svg"
        actual.write_text(svg, encoding="utf-8")
        diff = "\n".join(list(difflib.unified_diff(kept.splitlines(), svg.splitlines(), lineterm=""))[:40])
        pytest.fail(f"{name} differs from {path} (the new one: {actual}):\n{diff}")
