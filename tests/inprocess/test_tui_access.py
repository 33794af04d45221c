"""Model access in the terminal admin (Pilot): the Users and Keys screens show each list, `m` edits it
(empty lifts it), a new key takes its models, and a bad pattern is shown in the form (what was typed
kept), never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llmgw_tui.screens.dialogs import FormDialog, TokenDialog
from llmgw_tui.screens.keys import KeysScreen
from llmgw_tui.screens.users import UsersScreen

from llmgw.services import audit, keys, model_access
from llmgw.storage import Store
from tests.inprocess.test_tui_app import cells, fill, select_row
from tests.support.tui_support import ADMIN, app, seed, settle, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]
SIZE = (160, 36)  # wide enough for the models column


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    seed(tmp_path / "llmgw.db")
    return path


@pytest.fixture
def store(tmp_path: Path, config: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "llmgw.db") as s:
        yield s


def patterns(store: Store, ref: str) -> tuple[str, ...] | None:
    return model_access.subject_access(store, ADMIN, ref).patterns


async def test_a_users_models_set_shown_and_lifted(config: Path, store: Store) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(pilot.app.screen, UsersScreen)
        await select_row(pilot, "#users", "bob")
        assert next(r for r in cells(pilot, "#users") if r[0] == "bob")[-1] == "any"
        await pilot.press("m")
        await fill(pilot, "up/* smart")
        assert patterns(store, "bob") == ("up/*", "smart")
        assert next(r for r in cells(pilot, "#users") if r[0] == "bob")[-1] == "up/* smart"
        await pilot.press("m")
        assert isinstance(pilot.app.screen, FormDialog)
        assert pilot.app.screen.values() == {"patterns": "up/* smart"}  # pre-filled with the list
        await fill(pilot, "up/gpt-4?")  # refused: shown in the form, what was typed kept, nothing changed
        assert patterns(store, "bob") == ("up/*", "smart")
        form = pilot.app.screen
        assert isinstance(form, FormDialog) and form.error.startswith("Refused: ")
        assert form.values() == {"patterns": "up/gpt-4?"}
        await fill(pilot, "")
        assert patterns(store, "bob") is None
    actions = [e.action for e in audit.entries(store, ADMIN) if e.action.startswith("model_access")]
    assert actions == ["model_access.set", "model_access.cleared"]


async def test_a_new_keys_models_and_a_keys_own_list(config: Path, store: Store) -> None:
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(pilot.app.screen, KeysScreen)
        await pilot.press("n")
        await fill(pilot, "bob", "ci", "", "up/gpt-4o-mini, smart")
        assert isinstance(pilot.app.screen, TokenDialog)
        await pilot.press("escape")
        await settle(pilot)
        (minted,) = keys.list_keys(store, ADMIN, "bob")
        assert minted.model_access == ("up/gpt-4o-mini", "smart")
        row = next(r for r in cells(pilot, "#keys") if r[0] == minted.public_id)
        assert row[-1] == "up/gpt-4o-mini smart"
        await select_row(pilot, "#keys", minted.public_id)
        await pilot.press("m")
        await fill(pilot, "up/*")
        assert patterns(store, minted.public_id) == ("up/*",)
