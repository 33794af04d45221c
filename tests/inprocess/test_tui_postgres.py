"""The terminal admin on a PostgreSQL URL (a real server): it opens on the dashboard, never on SQLite's
"no database yet" screen, reads what it reads on a file, and says a server out of reach as a problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llmgw_tui.problems import from_exception
from llmgw_tui.screens.dashboard import DashboardScreen
from textual.widgets import Static

from llmgw.errors import DatabaseUnreadable
from llmgw.services import users
from llmgw.storage import Store
from tests.support.postgres import PgServer
from tests.support.tui_support import ADMIN, app, seed, settle, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]
SIZE = (120, 36)


@pytest.fixture
def url(pg_server: PgServer) -> Iterator[str]:
    location = pg_server.create_database()
    yield location
    pg_server.drop_database(location)


def config_on(tmp_path: Path, url: str) -> Path:
    path = write_config(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8").replace(str(tmp_path / "llmgw.db"), url), encoding="utf-8"
    )
    return path


async def test_the_dashboard_of_a_seeded_database(tmp_path: Path, url: str) -> None:
    seed(url)
    async with app(config_on(tmp_path, url)).run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)  # the same numbers as on a file (test_tui_app.py)
        totals = str(screen.query_one("#totals", Static).render())
        assert "Today (UTC): 40 requests" in totals
        assert "6 upstream errors (15.0%) · 4 refused by policy · 0 client errors" in totals
        assert not screen.query_one("#admin-problem", Static).has_class("shown")
    assert not (tmp_path / "llmgw.db").exists()


async def test_a_new_empty_database_opens_with_its_schema_applied(tmp_path: Path, url: str) -> None:
    async with app(config_on(tmp_path, url)).run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.screen, DashboardScreen)  # no "No database yet" on a server
        assert pilot.app.screen.query_one("#admin-problem", Static).has_class("shown")  # no admin yet
    with Store.open(url) as store:
        assert users.list_users(store, ADMIN) == []


def test_a_server_out_of_reach_is_a_problem_that_says_what_to_do() -> None:
    problem = from_exception(
        DatabaseUnreadable("cannot connect to the database postgresql://h/llmgw: refused")
    )
    assert problem.title == "Database unavailable"
    assert "postgresql://h/llmgw" in problem.detail and "llmgw db check" in problem.what_to_do
