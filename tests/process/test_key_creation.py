"""An administrator's per-user switch for self-service key creation (issue 16, item 5): a limit put on
one key binds only while its owner cannot mint another, so an administrator may turn minting off for a
user. The owner is refused (portal: 403; the service: PermissionDenied), administrators still create
keys for them, existing keys keep working, and the switch is audited. Service, CLI, portal and TUI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from llmgw.errors import AccountNotFound, PermissionDenied
from llmgw.services import audit, keys, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.inprocess.test_portal import ADMIN_PW, BOB_PW, SITE, csrf, login, make_app, post
from tests.process.test_cli_accounts import Cli, ok, refused

pytestmark = pytest.mark.usefixtures("fast_hashes")

PW = "a long enough password"
CLI = Actor(name="cli:tester")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "llmgw.db") as s:
        yield s


def test_the_owner_is_refused_an_administrator_is_not_and_the_switch_is_audited(store: Store) -> None:
    root = users.create_user(store, CLI, "root", PW, role="admin")
    bob = users.create_user(store, CLI, "bob", PW)
    assert bob.may_create_keys
    as_bob = Actor.user(bob.id, "bob", "192.0.2.9")
    as_root = Actor.user(root.id, "root", "192.0.2.1")
    first = keys.create_key(store, as_bob, "bob", "laptop")

    change = users.set_key_creation(store, as_root, "bob", allowed=False)
    assert change.changed and not change.user.may_create_keys
    assert not users.set_key_creation(store, as_root, "bob", allowed=False).changed  # nothing to do
    assert [u.may_create_keys for u in users.list_users(store, CLI) if u.name == "bob"] == [False]
    assert not keys.may_create_own_keys(store, as_bob)
    assert keys.may_create_own_keys(store, as_root)

    with pytest.raises(PermissionDenied, match="turned off key creation for 'bob'"):
        keys.create_key(store, as_bob, "bob", "another")
    assert [k.public_id for k in keys.list_keys(store, CLI, "bob")] == [first.key.public_id]
    assert keys.list_keys(store, CLI, "bob")[0].state == "active"  # existing keys keep working
    # Administrators (in the portal, or the local one at the CLI and in the TUI) still mint for bob.
    assert keys.create_key(store, as_root, "bob", "from root").key.owner == "bob"
    assert keys.create_key(store, CLI, "bob", "from the cli").key.owner == "bob"
    # Only an administrator flips it, and a user cannot flip their own.
    with pytest.raises(PermissionDenied):
        users.set_key_creation(store, as_bob, "bob", allowed=True)
    with pytest.raises(AccountNotFound):
        users.set_key_creation(store, CLI, "nobody", allowed=True)

    users.set_key_creation(store, CLI, "bob", allowed=True)
    assert keys.create_key(store, as_bob, "bob", "again").key.name == "again"
    entries = [e for e in audit.entries(store, CLI) if e.action == audit.USER_KEY_CREATION_CHANGED]
    assert [(e.actor, e.target, e.detail, e.client_address) for e in entries] == [
        ("root", "bob", "on -> off", "192.0.2.1"),
        (CLI.name, "bob", "off -> on", None),
    ]


def test_an_administrator_who_turned_off_their_own_is_refused_too(store: Store) -> None:
    """One rule, whoever the owner: the switch binds the owner's own minting."""
    root = users.create_user(store, CLI, "root", PW, role="admin")
    as_root = Actor.user(root.id, "root")
    users.set_key_creation(store, as_root, "root", allowed=False)
    with pytest.raises(PermissionDenied):
        keys.create_key(store, as_root, "root")
    assert keys.create_key(store, CLI, "root").key.owner == "root"


def test_the_cli_sets_shows_and_still_mints_for_the_user(tmp_path: Path) -> None:
    config = tmp_path / "llmgw.toml"
    config.write_text(f"[server]\ndatabase = '{tmp_path / 'llmgw.db'}'\n", encoding="utf-8")
    run = Cli(config)
    ok(run("user", "add", "bob", "--password-stdin", stdin=PW + "\n"))
    assert ok(run("user", "set", "bob", "--no-key-create")) == (
        "'bob' may no longer create their own keys (administrators still can, for them)\n"
    )
    assert ok(run("user", "set", "bob", "--no-key-create")) == "'bob' already may not create their own keys\n"
    listed = json.loads(ok(run("user", "list", "--json")))
    assert [(u["name"], u["may_create_keys"]) for u in listed] == [("bob", False)]
    table = ok(run("user", "list")).splitlines()
    assert re.split(r"\s{2,}", table[0])[:5] == ["name", "role", "state", "keys", "own keys"]
    assert re.split(r"\s{2,}", table[1])[:5] == ["bob", "user", "active", "0", "off"]
    assert ok(run("key", "create", "bob")).startswith("llmgw-")  # the local administrator still may
    refused(run("user", "set", "nobody", "--key-create"), "no user 'nobody'")
    assert run("user", "set", "bob").returncode == 2  # says nothing to set: a usage error
    assert ok(run("user", "set", "bob", "--key-create")) == "'bob' may create their own keys again\n"
    actions = [e["action"] for e in json.loads(ok(run("audit", "--json")))]
    assert actions.count(audit.USER_KEY_CREATION_CHANGED) == 2


def test_the_portal_refuses_the_user_with_a_403_and_the_admin_flips_it(tmp_path: Path) -> None:
    app = make_app(tmp_path)  # alice (admin), bob
    with TestClient(app, base_url=SITE) as admin, TestClient(app, base_url=SITE) as bob:
        assert login(admin, "alice", ADMIN_PW).status_code == 303
        assert login(bob, "bob", BOB_PW).status_code == 303
        page = admin.get("/ui/admin/users").text
        assert 'action="/ui/admin/key-creation/bob"' in page
        token = csrf(admin, "/ui/admin/users")
        r = post(admin, "/ui/admin/key-creation/bob", {"csrf_token": token, "allowed": "off"})
        assert r.status_code == 303 and r.headers["location"] == "/ui/admin/users?done=key-creation-off"
        assert "may no longer create their own keys" in admin.get(r.headers["location"]).text

        mine = bob.get("/ui/keys")
        assert "An administrator has turned off key creation for your account" in mine.text
        assert 'action="/ui/keys" ' not in mine.text and "Create a key" not in mine.text
        refused_page = post(bob, "/ui/keys", {"csrf_token": csrf(bob), "name": "sneaky"})
        assert refused_page.status_code == 403
        assert "turned off key creation" in refused_page.text and "llmgw-" not in refused_page.text
        # A plain user cannot reach the switch (the administrators' pages do not exist for them).
        sneaky = post(bob, "/ui/admin/key-creation/bob", {"csrf_token": csrf(bob), "allowed": "on"})
        assert sneaky.status_code == 404

        r = post(admin, "/ui/admin/key-creation/bob", {"csrf_token": token, "allowed": "on"})
        assert r.status_code == 303
        created = post(bob, "/ui/keys", {"csrf_token": csrf(bob), "name": "laptop"})
        assert created.status_code == 200 and "data-token=" in created.text
        assert (
            post(admin, "/ui/admin/key-creation/nobody", {"csrf_token": token, "allowed": "on"}).status_code
            == 404
        )


@pytest.mark.anyio
async def test_the_tui_users_screen_shows_and_flips_it(tmp_path: Path) -> None:
    from tests.inprocess.test_tui_app import SIZE, cells, select_row
    from tests.support.tui_support import ADMIN, app, seed, settle, write_config

    config = write_config(tmp_path)
    seed(tmp_path / "llmgw.db")
    async with app(config).run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        header = [str(c.label) for c in pilot.app.screen.query_one("#users").columns.values()]  # type: ignore[attr-defined]
        assert header[:5] == ["name", "role", "state", "keys", "own keys"]
        assert [r[4] for r in cells(pilot, "#users") if r[0] == "bob"] == ["on"]
        await select_row(pilot, "#users", "bob")
        await pilot.press("k")
        await settle(pilot)
        assert [r[4] for r in cells(pilot, "#users") if r[0] == "bob"] == ["off"]
        with Store.open(tmp_path / "llmgw.db") as store:
            assert [u.may_create_keys for u in users.list_users(store, ADMIN) if u.name == "bob"] == [False]
            entries = [e for e in audit.entries(store, ADMIN) if e.action == audit.USER_KEY_CREATION_CHANGED]
            assert [(e.actor, e.target, e.detail) for e in entries] == [("cli:admin", "bob", "on -> off")]
        await pilot.press("k")
        await settle(pilot)
        assert [r[4] for r in cells(pilot, "#users") if r[0] == "bob"] == ["on"]
