"""The terminal admin driven as a person drives it (Textual's Pilot: keys, the command palette, the
dialogs) against a real SQLite database; what each action did is checked through llmgw.services."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backends import fail
from llmgw_tui import charts
from llmgw_tui.app import DARK, LIGHT
from llmgw_tui.main import build
from llmgw_tui.problems import from_exception
from llmgw_tui.screens.dashboard import DashboardScreen
from llmgw_tui.screens.dialogs import FormDialog, TokenDialog
from llmgw_tui.screens.keys import KeysScreen
from llmgw_tui.screens.problem import ProblemScreen
from llmgw_tui.screens.usage import write_csv
from llmgw_tui.screens.users import UsersScreen
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Label, Select, Sparkline, Static

from llmgw.services import audit, credentials, keys, limits, tokens, usage, users
from llmgw.services.usage import UsageGroup, UsageReport, UsageStats
from llmgw.storage import Store
from tests.support.tui_support import ADMIN, NOW, PASSWORD, MemoryKeyring, app, seed, settle, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]
SIZE = (120, 36)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    seed(tmp_path / "llmgw.db")
    return path


@pytest.fixture
def store(tmp_path: Path, config: Path) -> Iterator[Store]:
    """A second connection, as another process would have: what the TUI changed is committed."""
    with Store.open(tmp_path / "llmgw.db") as s:
        yield s


def cells(pilot: Pilot[object], table_id: str) -> list[list[str]]:
    table = pilot.app.screen.query_one(table_id, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def fill(pilot: Pilot[object], *values: str) -> None:
    """Type each value into the open form's fields in turn; Enter on the last submits."""
    assert isinstance(pilot.app.screen, FormDialog)
    for value in values:
        focused = pilot.app.focused
        assert isinstance(focused, Input)
        focused.value = value
        await pilot.press("enter")
    await settle(pilot)


async def select_row(pilot: Pilot[object], table_id: str, first_cell: str) -> None:
    table = pilot.app.screen.query_one(table_id, DataTable)
    row = [str(table.get_row_at(i)[0]) for i in range(table.row_count)].index(first_cell)
    table.move_cursor(row=row)
    table.focus()
    await pilot.pause()


async def test_the_dashboard_comes_first_with_totals_charts_and_the_newest_requests(config: Path) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)
        totals = str(screen.query_one("#totals", Static).render())
        assert "Today (UTC): 40 requests" in totals
        assert "6 upstream errors (15.0%) · 4 refused by policy · 0 client errors" in totals
        tail = cells(pilot, "#tail")
        assert tail[0][:4] == ["12:40:00", "root", "up/gpt-4o-mini", "500"]
        assert tail[1][1] == "alice"
        # each request's error code, key (its name and public id, never its token) and request id
        assert tail[0][4:] == ["upstream_error", "100", "200 ms", "-", "req_000"]
        assert tail[1][4] == "" and tail[1][7].startswith("laptop (") and tail[1][8] == "req_001"
        assert cells(pilot, "#tail")[5][4] == "gateway_rate_limit_exceeded"
        assert len(tail) == 15
        # The charts draw what the service counts: the same buckets, one per minute of the last hour.
        with Store.open(config.parent / "llmgw.db") as store:
            hour = usage.activity(store, ADMIN, buckets=60, width=60, now=NOW)
        assert (
            screen.query_one("#chart-requests", Sparkline).data
            == charts.series(hour, "requests", "min").values
        )
        # 37 of the 40 rows are in the last 60 minutes
        assert sum(screen.query_one("#chart-requests", Sparkline).data or []) == 37
        await pilot.press("d")  # the last day, per hour
        day = screen.query_one("#chart-requests", Sparkline).data or []
        assert len(day) == 24 and sum(day) == 40


async def palette_offers(pilot: Pilot[object], name: str) -> None:
    """Wait until the command palette's search has put `name` first (its search runs in the
    background and a loaded machine takes its time: a fixed pause made this test flaky)."""
    for _ in range(200):  # 10 s
        await pilot.pause(0.05)
        palette = pilot.app.screen
        if isinstance(palette, CommandPalette):
            found = palette.query_one(CommandList)
            if found.option_count and name.lower() in str(found.get_option_at_index(0).prompt).lower():
                return
    raise AssertionError(f"the palette never offered {name!r}")


async def test_every_screen_opens_from_the_palette_by_its_name(config: Path) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await settle(pilot)
        for name, screen_type in (
            ("Users", "UsersScreen"),
            ("Keys", "KeysScreen"),
            ("Usage", "UsageScreen"),
            ("Providers", "ProvidersScreen"),
            ("Audit", "AuditScreen"),
            ("Dashboard", "DashboardScreen"),
        ):
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*name)
            await palette_offers(pilot, name)
            await pilot.press("enter")
            await settle(pilot)
            assert type(pilot.app.screen).__name__ == screen_type, name


async def test_theme_toggle_and_quit(config: Path) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        assert pilot.app.theme == DARK
        await pilot.press("ctrl+t")
        assert pilot.app.theme == LIGHT
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not pilot.app.is_running


async def test_users_create_disable_enable_reset_role_delete(config: Path, store: Store) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(pilot.app.screen, UsersScreen)
        assert [r[0] for r in cells(pilot, "#users")] == ["alice", "bob", "root"]

        await pilot.press("n")
        await fill(pilot, "carol", PASSWORD, "user")
        assert "carol" in [r[0] for r in cells(pilot, "#users")]

        await select_row(pilot, "#users", "carol")
        await pilot.press("e", "y")  # disabling asks first
        await settle(pilot)
        assert cells(pilot, "#users")[2][:3] == ["carol", "user", "disabled"]
        await pilot.press("e")  # enabling does not
        await settle(pilot)
        assert cells(pilot, "#users")[2][2] == "active"

        await pilot.press("p")
        await fill(pilot, "another long password")
        assert users.authenticate(store, "carol", "another long password", None) is not None

        await pilot.press("r", "y")
        await settle(pilot)
        assert cells(pilot, "#users")[2][1] == "admin"

        await pilot.press("x", "n")  # asked, and answered no: nothing happens
        await settle(pilot)
        assert "carol" in [u.name for u in users.list_users(store, ADMIN)]
        await pilot.press("x", "y")
        await settle(pilot)
        assert "carol" not in [r[0] for r in cells(pilot, "#users")]

    actions = [e.action for e in audit.entries(store, ADMIN) if e.target == "carol"]
    assert actions == [
        audit.USER_CREATED,
        audit.USER_DISABLED,
        audit.USER_ENABLED,
        audit.USER_PASSWORD_RESET,
        audit.LOGIN_SUCCEEDED,  # the test's own check of the new password
        audit.USER_ROLE_CHANGED,
        audit.USER_DELETED,
    ]
    assert {
        e.actor for e in audit.entries(store, ADMIN) if e.target == "carol" and "login" not in e.action
    } == {"cli:admin"}


async def test_users_search_and_a_refusal_shown_not_raised(config: Path) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("slash", "b", "o")
        await pilot.pause()
        assert [r[0] for r in cells(pilot, "#users")] == ["bob"]
        pilot.app.screen.query_one("#search", Input).value = "root"
        await pilot.pause()
        await select_row(pilot, "#users", "root")
        await pilot.press("x", "y")  # the last active admin: refused by the service, said on screen
        await settle(pilot)
        assert "root" in [r[0] for r in cells(pilot, "#users")]
        assert any("last active administrator" in str(n.message) for n in pilot.app._notifications)


async def test_keys_mint_shows_the_token_once_and_revoke(config: Path, store: Store) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(pilot.app.screen, KeysScreen)
        assert cells(pilot, "#keys")[0][:4] == ["0123456789abcdef", "laptop", "alice", "active"]

        await pilot.press("n")
        await fill(pilot, "bob", "ci", "30", "")  # no model restriction
        dialog = pilot.app.screen
        assert isinstance(dialog, TokenDialog)
        token = dialog.token
        parsed = tokens.parse(token)
        assert parsed is not None
        await pilot.press("c")
        assert pilot.app.clipboard == token
        await pilot.press("escape")
        await settle(pilot)

        minted = next(k for k in keys.list_keys(store, ADMIN, "bob"))
        assert (minted.public_id, minted.name, minted.state) == (parsed.public_id, "ci", "active")
        assert minted.expires_at is not None

        await select_row(pilot, "#keys", parsed.public_id)
        await pilot.press("x", "y")
        await settle(pilot)
        assert keys.list_keys(store, ADMIN, "bob")[0].state == "revoked"
        row = next(r for r in cells(pilot, "#keys") if r[0] == parsed.public_id)
        assert row[3] == "revoked"
        assert token not in str(pilot.app.screen.query_one("#keys", DataTable).get_row_at(0))


async def test_usage_by_model_and_by_user_with_its_csv_export(config: Path, tmp_path: Path) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot)
        rows = cells(pilot, "#groups")
        # one row per model, the alias inside it; errors by kind, the upstream's with its rate
        assert [r[:5] for r in rows] == [["up/gpt-4o-mini via fast", "40", "6 (15.0%)", "4", "0"]]
        totals = str(pilot.app.screen.query_one("#usage-totals", Static).render())
        assert "6 upstream errors (15.0%) · 4 refused by policy · 0 client errors" in totals
        codes = str(pilot.app.screen.query_one("#usage-codes", Label).render())
        assert codes == "error codes: upstream: upstream_error 6 · policy: gateway_rate_limit_exceeded 4"
        chart = pilot.app.screen.query_one("#usage-chart", Sparkline).data or []
        assert len(chart) == 25 and sum(chart) == 40  # hourly, from the whole hour 24 h ago up to now
        pilot.app.screen.query_one("#by", Select).value = "user"
        await settle(pilot)
        assert sorted((r[0], r[1]) for r in cells(pilot, "#groups")) == [("alice", "20"), ("root", "20")]

        out = tmp_path / "usage.csv"
        await pilot.press("e")
        await fill(pilot, str(out))
    with out.open(newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert sorted((r["by"], r["label"], r["requests"]) for r in table) == [
        ("user", "alice", "20"),
        ("user", "root", "20"),
    ]
    assert sum(float(r["cost_usd"]) for r in table) == pytest.approx(sum(0.001 * (i % 5) for i in range(40)))


async def test_limits_set_change_and_clear(config: Path, store: Store) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await settle(pilot)
        assert cells(pilot, "#limits") == []
        await pilot.press("s")
        await fill(pilot, "alice", "60", "", "5", "day")
        assert [
            (r.subject, r.values.rpm, r.values.tpm, r.values.budget_usd, r.values.period)
            for r in limits.list_limits(store, ADMIN)
        ] == [("alice", 60, None, 5.0, "day")]
        assert cells(pilot, "#limits")[0][:7] == ["alice", "user", "alice", "60", "off", "$5.00", "day"]

        await pilot.press("s")  # the selected subject's values come pre-filled
        await fill(pilot, "60", "1000", "5.0", "day")
        assert limits.list_limits(store, ADMIN)[0].values.tpm == 1000

        await pilot.press("n")
        await fill(pilot, "0123456789abcdef", "10", "", "", "month")  # alice's key
        assert {r.scope for r in limits.list_limits(store, ADMIN)} == {"user", "key"}

        await select_row(pilot, "#limits", "alice")
        await pilot.press("x", "y")
        await settle(pilot)
        assert [r.subject for r in limits.list_limits(store, ADMIN)] == ["0123456789abcdef"]
    assert [e.action for e in audit.entries(store, ADMIN) if e.action.startswith("limit.")] == [
        "limit.set",
        "limit.set",
        "limit.set",
        "limit.cleared",
    ]


async def submit_form(pilot: Pilot[object], **values: str) -> None:
    """Change the open form's named fields (the others stay as they were shown), then press its OK."""
    form = pilot.app.screen
    assert isinstance(form, FormDialog)
    for name, value in values.items():
        form.query_one(f"#field-{name}", Input).value = value
    form.query_one("#ok", Button).press()
    await settle(pilot)


async def test_a_limit_edit_changes_only_the_fields_changed(config: Path, store: Store) -> None:
    limits.set_limits(store, ADMIN, "alice", rpm=60, tpm=1000, budget_usd=5.0, period="day")
    limits.set_limits(store, ADMIN, "0123456789abcdef", rpm=10)

    def alice() -> limits.LimitValues:
        return next(r.values for r in limits.list_limits(store, ADMIN) if r.subject == "alice")

    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await settle(pilot)
        await select_row(pilot, "#limits", "alice")
        await pilot.press("s")
        assert isinstance(pilot.app.screen, FormDialog)
        assert "this user, all keys" in pilot.app.screen.heading
        limits.set_limits(store, ADMIN, "alice", rpm=99)  # another administrator, while the form is open
        await submit_form(pilot, budget="7")
        assert alice() == limits.LimitValues(rpm=99, tpm=1000, budget_usd=7.0, period="day")

        await select_row(pilot, "#limits", "alice")
        await pilot.press("s")
        await submit_form(pilot, tpm="", budget="off")  # empty: unchanged; off: removed, as in the CLI
        assert alice() == limits.LimitValues(rpm=99, tpm=1000, budget_usd=None, period="day")

        await select_row(pilot, "#limits", "0123456789abcdef")
        await pilot.press("s")
        assert isinstance(pilot.app.screen, FormDialog)
        assert "this key only" in pilot.app.screen.heading
        await submit_form(pilot, tpm="500")
    [key] = [r.values for r in limits.list_limits(store, ADMIN) if r.scope == "key"]
    assert key == limits.LimitValues(rpm=10, tpm=500)


async def test_audit_log_filtered(config: Path) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await settle(pilot)
        assert len(cells(pilot, "#audit")) == 4  # three users created, one key
        pilot.app.screen.query_one("#filter", Input).value = "key.created"
        await pilot.pause()
        assert [r[2] for r in cells(pilot, "#audit")] == ["key.created"]


async def test_providers_without_a_keyring_say_what_to_do(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "_keyring", fail.Keyring)
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await settle(pilot)
        assert cells(pilot, "#providers")[0][0] == "up"
        banner = pilot.app.screen.query_one("#keyring-problem", Static)
        assert banner.has_class("shown")
        assert "OS keyring unavailable" in str(banner.render())


async def test_no_database_yet_then_created_from_the_problem_screen(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(pilot.app.screen, ProblemScreen)
        assert pilot.app.screen.problem.title == "No database yet"
        assert not (tmp_path / "llmgw.db").exists()
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert (tmp_path / "llmgw.db").exists()
        assert pilot.app.screen.query_one("#admin-problem", Static).has_class("shown")  # no admin yet


async def test_a_bad_configuration_is_a_problem_screen(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 'not a port'\n", encoding="utf-8")
    async with build(str(bad)).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(pilot.app.screen, ProblemScreen)
        assert pilot.app.screen.problem.title == "Configuration error"


def test_a_locked_database_is_explained() -> None:
    import sqlite3

    problem = from_exception(sqlite3.OperationalError("database is locked"))
    assert problem.title == "Database busy"
    assert "stuck llmgw or sqlite3 process" in problem.what_to_do


def test_usage_csv_defuses_a_formula_looking_name(tmp_path: Path) -> None:
    """A user's or model's name is someone's choice: the export must not let a spreadsheet run it."""
    stats = UsageStats(requests=1, prompt_tokens=1, completion_tokens=1, total_tokens=2, cost_usd=0.5)
    hostile = "=cmd|'/c calc'!A1"
    report = UsageReport(
        since=None,
        until=None,
        by="model",
        groups=[UsageGroup(hostile, stats)],
        total=stats,
        unpriced_models=[],
    )
    out = tmp_path / "usage.csv"
    assert write_csv(out, report) == 1
    with out.open(newline="", encoding="utf-8") as f:
        (line,) = list(csv.DictReader(f))
    assert (line["by"], line["label"], line["requests"]) == ("model", "'" + hostile, "1")


async def refused_in_the_form(pilot: Pilot[object], **values: str) -> FormDialog[object]:
    """Submit the open form with these fields changed; the form must stay open, showing why."""
    await submit_form(pilot, **values)
    form = pilot.app.screen
    assert isinstance(form, FormDialog), "the form closed on a refusal"
    assert form.error.startswith("Refused: ")
    assert not form.query_one("#ok", Button).disabled  # it can be sent again
    return form


async def test_the_new_user_form_keeps_what_was_typed_and_shows_each_refusal(
    config: Path, store: Store
) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("n")
        form = await refused_in_the_form(pilot, name="carol", password="short", role="user")
        assert "12" in form.error  # the weak password, said in the form
        assert form.values() == {"name": "carol", "password": "short", "role": "user"}

        form = await refused_in_the_form(pilot, name="no such name!", password=PASSWORD)
        assert form.values()["name"] == "no such name!"
        assert form.values()["password"] == PASSWORD

        form = await refused_in_the_form(pilot, name="bob")  # a duplicate
        assert "bob" in form.error

        form = await refused_in_the_form(pilot, name="carol", role="superuser")
        assert "user or admin" in form.error
        assert "carol" not in [u.name for u in users.list_users(store, ADMIN)]

        await submit_form(pilot, role="admin")  # corrected: created, the form closes
        assert isinstance(pilot.app.screen, UsersScreen)
        assert ("carol", "admin") in [(u.name, u.role) for u in users.list_users(store, ADMIN)]
        assert "carol" in [r[0] for r in cells(pilot, "#users")]


async def test_every_form_keeps_its_input_and_shows_the_refusal(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = MemoryKeyring()
    monkeypatch.setattr(credentials, "_keyring", lambda: keyring)
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        await select_row(pilot, "#users", "bob")
        await pilot.press("p")
        form = await refused_in_the_form(pilot, password="tiny")
        assert form.values() == {"password": "tiny"}
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("3")
        await settle(pilot)
        await pilot.press("n")
        form = await refused_in_the_form(pilot, owner="bob", name="ci", expires="soon")
        assert "number of days" in form.error
        form = await refused_in_the_form(pilot, owner="nobody", expires="30")
        assert "nobody" in form.error
        assert form.values() == {"owner": "nobody", "name": "ci", "expires": "30", "models": ""}
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("6")
        await settle(pilot)
        await pilot.press("n")
        form = await refused_in_the_form(pilot, subject="alice", rpm="lots")
        assert form.values()["rpm"] == "lots"
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("4")
        await settle(pilot)
        await pilot.press("e")
        missing = tmp_path / "no-such-dir" / "usage.csv"
        form = await refused_in_the_form(pilot, path=str(missing))
        assert "cannot write" in form.error
        assert form.values() == {"path": str(missing)}
        await pilot.press("escape")
        await settle(pilot)

        await pilot.press("5")
        await settle(pilot)
        await pilot.press("s")
        form = await refused_in_the_form(pilot, name="Not A Name!", value="sk-typed-value")
        assert "invalid" in form.error and "sk-typed-value" not in form.error
        assert form.values() == {"name": "Not A Name!", "value": "sk-typed-value"}
        await submit_form(pilot, name="up")
        assert not isinstance(pilot.app.screen, FormDialog)
    assert keyring.entries["llmgw/up"] == "sk-typed-value"
