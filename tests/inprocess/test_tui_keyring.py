"""The Providers screen against the OS keyring for real (the Secret Service under scripts/with-keyring, the
Keychain on macOS, the Credential Locker on Windows; skipped elsewhere, a failure where
LLMGW_REQUIRE_KEYRING=1): set, rotate and delete an upstream key through the
masked input; each change audited by name, never by value."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from llmgw.services import audit, credentials
from llmgw.storage import Store
from tests.support.required import unavailable
from tests.support.tui_support import ADMIN, app, seed, settle, write_config
from tests.unit.test_credentials import _os_keyring_skip_reason

pytestmark = pytest.mark.anyio
FIRST = "sk-tui-first-0123456789"
SECOND = "sk-tui-second-9876543210"


@pytest.fixture
def provider() -> Iterator[str]:
    reason = _os_keyring_skip_reason()
    if reason:
        unavailable("LLMGW_REQUIRE_KEYRING", reason)
    name = f"t-{uuid.uuid4().hex[:12]}"
    yield name
    credentials.delete_secret(name)


@pytest.mark.keyring
async def test_set_rotate_and_delete_a_secret_in_the_real_keyring(provider: str, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    seed(tmp_path / "llmgw.db")
    async with app(config).run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("s")
        name_input = pilot.app.focused
        assert isinstance(name_input, Input)
        name_input.value = provider
        await pilot.press("enter")
        value_input = pilot.app.focused
        assert isinstance(value_input, Input) and value_input.password  # masked
        value_input.value = FIRST
        await pilot.press("enter")
        await settle(pilot)
        assert credentials.provider_keys(provider, environ={}) == [FIRST]
        table = pilot.app.screen.query_one("#secrets", DataTable)
        names = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        row = names.index(provider)
        assert [str(c) for c in table.get_row_at(row)] == [
            provider,
            "OS keyring",
            credentials.mask_secret(FIRST),
            "-",  # server state: no gateway has published one for this database
        ]

        table.move_cursor(row=row)
        table.focus()
        await pilot.press("r")  # rotate: only the new value is asked for
        rotated = pilot.app.focused
        assert isinstance(rotated, Input) and rotated.password
        rotated.value = SECOND
        await pilot.press("enter")
        await settle(pilot)
        assert credentials.provider_keys(provider, environ={}) == [SECOND]

        await pilot.press("x", "y")
        await settle(pilot)
        assert credentials.provider_keys(provider, environ={}) == []

    with Store.open(tmp_path / "llmgw.db") as store:
        entries = [e for e in audit.entries(store, ADMIN) if e.target == provider]
    assert [e.action for e in entries] == [audit.SECRET_SET, audit.SECRET_SET, audit.SECRET_DELETED]
    assert not any(FIRST in str(e.to_json()) or SECOND in str(e.to_json()) for e in entries)
