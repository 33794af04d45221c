"""Ids are never reused (issue 16, item 4): a user or key created after another was deleted never gets
its id, so never its requests, its spend or its limits; rows of a deleted user or key stay labelled
"deleted user NAME (#id)" / "deleted key NAME (public id)" in every report; and m009 brings an older
database there, detaching history an earlier reuse had already mixed."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from llmgw.services import keys, limits, usage, users
from llmgw.services.audit import Actor
from llmgw.storage import Store, UsageRow, rollups
from llmgw.storage.migrations import migrations
from llmgw.storage.requests import COLUMNS

pytestmark = pytest.mark.usefixtures("fast_hashes")

PW = "a long enough password"
CLI = Actor(name="cli:tester")
H = 3600.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "llmgw.db") as s:
        yield s


def row(request_id: str, **fields: Any) -> UsageRow:
    fields.setdefault("created_at", time.time() - 60)
    fields.setdefault("status", 200)
    fields.setdefault("provider", "oai")
    fields.setdefault("model_requested", "gpt-4o")
    fields.setdefault("usage_source", "provider")
    fields.setdefault("total_tokens", 10)
    return UsageRow(request_id=request_id, endpoint="/v1/chat/completions", **fields)


def labels(store: Store, actor: Actor, by: usage.GroupBy) -> dict[str, int]:
    rep = usage.report(store, actor, since=None, until=None, by=by)
    return {g.label: g.stats.requests for g in rep.groups}


def test_a_new_user_never_gets_a_deleted_users_id_history_spend_or_limits(store: Store) -> None:
    users.create_user(store, CLI, "root", PW, role="admin")
    ada = users.create_user(store, CLI, "ada", PW)
    ada_key = keys.create_key(store, CLI, "ada", "laptop").key
    limits.set_limits(store, CLI, "ada", budget_usd=1.0, period="day")
    limits.set_limits(store, CLI, ada_key.public_id, rpm=5)
    store.insert_requests([row("r1", user_id=ada.id, api_key_id=ada_key.id, cost_usd=0.75)])
    # ada is the newest user and her key the newest key: SQLite without AUTOINCREMENT hands both ids
    # straight to the next user and key.
    users.delete_user(store, CLI, "ada")
    bob = users.create_user(store, CLI, "bob", PW)
    bob_key = keys.create_key(store, CLI, "bob", "phone").key
    assert bob.id > ada.id and bob_key.id > ada_key.id

    me = Actor.user(bob.id, "bob")
    assert usage.my_recent_requests(store, me) == []
    mine = usage.report(store, me, since=None, until=None, by="key")
    assert (mine.total.requests, mine.total.cost_usd, mine.groups) == (0, 0.0, [])
    spend = store.spend_since(0)
    assert bob.id not in spend.by_user and bob_key.id not in spend.by_key
    assert spend.by_user[ada.id] == 0.75  # still counted, under ada's own id
    assert limits.list_limits(store, CLI) == []

    deleted_ada = f"deleted user ada (#{ada.id})"
    assert labels(store, CLI, "user") == {deleted_ada: 1}
    assert labels(store, CLI, "key") == {f"deleted key laptop ({ada_key.public_id})": 1}
    assert [r.user for r in usage.live_tail(store, CLI)] == [deleted_ada]
    points = usage.series(store, CLI, since=time.time() - H, until=time.time(), grain="hour", split="user")
    assert {p.label for p in points} == {deleted_ada}
    by_user = usage.report(store, CLI, since=None, until=None, by="user").groups
    assert [(g.user_id, g.deleted) for g in by_user] == [(ada.id, True)]

    # Her name is free again, and the new ada is someone else: her rows stay the old ada's.
    ada2 = users.create_user(store, CLI, "ada", PW)
    assert ada2.id not in (ada.id, bob.id)
    assert usage.report(store, CLI, since=None, until=None, user="ada").total.requests == 0
    assert labels(store, CLI, "user") == {deleted_ada: 1}


def test_a_label_for_an_id_nobody_recorded_still_says_deleted(store: Store) -> None:
    store.insert_requests([row("r1", user_id=41, api_key_id=17)])
    assert labels(store, CLI, "user") == {"deleted user #41": 1}
    assert labels(store, CLI, "key") == {"deleted key #17": 1}
    assert [r.user for r in usage.live_tail(store, CLI)] == ["deleted user #41"]


# --- migration m009 from a database at m008 ---------------------------------------------------------


def at_m008(path: Path) -> sqlite_utils.Database:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=ON")
    db = sqlite_utils.Database(conn)
    migrations.apply(db, stop_before="m009_ids_never_reused")
    applied = [m.name for m in migrations.applied(db)]
    assert applied[-1] == "m008_upstream_key_state", applied
    return db


def insert_at_m008(db: sqlite_utils.Database, rows: list[UsageRow]) -> None:
    """Ledger rows as a gateway at m008 wrote them: the columns it had, and their rollups."""
    then = [c for c in COLUMNS if c in db["requests"].columns_dict]
    db.conn.executemany(
        f"INSERT INTO requests ({', '.join(then)}) VALUES ({', '.join('?' * len(then))})",
        [tuple(getattr(r, c) for c in then) for r in rows],
    )
    old = rollups.M006  # the rollups' layout until m015
    rollups.record(db, [], [tuple(getattr(r, c) for c in old.source_columns) for r in rows], old)


def add_user(db: sqlite_utils.Database, name: str, at: float, role: str = "user") -> int:
    cur = db.execute(
        "INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at) "
        "VALUES (?, ?, 'hash-of-' || ?, 0, ?, ?)",
        [name, role, name, at, at],
    )
    return int(cur.lastrowid or 0)


def add_key(db: sqlite_utils.Database, user_id: int, public_id: str, name: str, at: float) -> int:
    cur = db.execute(
        "INSERT INTO api_keys (public_id, user_id, name, secret_hash, created_at) VALUES (?, ?, ?, 'h', ?)",
        [public_id, user_id, name, at],
    )
    return int(cur.lastrowid or 0)


def delete_user(db: sqlite_utils.Database, user_id: int, name: str, at: float) -> None:
    """As m008's services did it: the row goes (keys, sessions, limits with it), the audit log keeps
    the name."""
    db.execute("DELETE FROM users WHERE id = ?", [user_id])
    db.execute(
        "INSERT INTO audit_log (at, actor_name, action, target_type, target_id, target_name) "
        "VALUES (?, 'cli:old', 'user.deleted', 'user', ?, ?)",
        [at, str(user_id), name],
    )


def test_m009_keeps_every_account_and_never_hands_out_an_id_the_ledger_holds(tmp_path: Path) -> None:
    path = tmp_path / "llmgw.db"
    t0 = (time.time() // H - 48) * H  # two days ago, on the hour
    db = at_m008(path)
    with db.conn:
        root = add_user(db, "root", t0, role="admin")
        ada = add_user(db, "ada", t0 + 60)
        ada_key = add_key(db, ada, "a" * 16, "laptop", t0 + 90)
        db.execute(
            "INSERT INTO limits (user_id, budget_usd, period, updated_at) VALUES (?, 1.0, 'day', ?)",
            [ada, t0],
        )
        old = [
            row("r0", user_id=ada, api_key_id=ada_key, created_at=t0 + 120, cost_usd=0.5),  # purged below
            row("r1", user_id=ada, api_key_id=ada_key, created_at=t0 + 2 * H + 60, cost_usd=0.25),
        ]
        insert_at_m008(db, old)
        db.execute("DELETE FROM requests WHERE request_id = 'r0'")  # retention: the rollups keep it
        delete_user(db, ada, "ada", t0 + 2 * H + 600)
        # Today's bug, already happened: eve took ada's id and her key ada's key's id.
        eve = add_user(db, "eve", t0 + 2 * H + 1200)
        eve_key = add_key(db, eve, "e" * 16, "phone", t0 + 2 * H + 1300)
        assert (eve, eve_key) == (ada, ada_key)
        db.execute(
            "INSERT INTO limits (user_id, rpm, updated_at) VALUES (?, 10, ?)", [eve, t0 + 2 * H + 1400]
        )
        db.execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at) "
            "VALUES ('s1', ?, 'c', ?, ?)",
            [eve, t0 + 3 * H, t0 + 3 * H],
        )
        insert_at_m008(
            db, [row("r2", user_id=eve, api_key_id=eve_key, created_at=t0 + 2 * H + 1800, cost_usd=0.125)]
        )
        # And the highest id deleted, its number free for the next user today.
        cat = add_user(db, "cat", t0 + 4 * H)
        cat_key = add_key(db, cat, "c" * 16, "desk", t0 + 4 * H)
        insert_at_m008(
            db, [row("r3", user_id=cat, api_key_id=cat_key, created_at=t0 + 4 * H + 60, cost_usd=1.0)]
        )
        delete_user(db, cat, "cat", t0 + 5 * H)
    db.close()

    with Store.open(path) as store:
        dan = users.create_user(store, CLI, "dan", PW)
        dan_key = keys.create_key(store, CLI, "dan").key
        assert dan.id > cat and dan_key.id > cat_key

        # Everyone kept their id, hash, keys, limits and sessions.
        with store.accounts(write=False) as accounts:
            assert [(u.id, u.name) for u in accounts.users()] == [
                (dan.id, "dan"),
                (eve, "eve"),
                (root, "root"),
            ]
            assert accounts.password_hash(eve) == "hash-of-eve"
            assert [(k.id, k.public_id) for k in accounts.keys(eve)] == [(eve_key, "e" * 16)]
            assert [lim.values.rpm for lim in accounts.limits("user", eve)] == [10]
            assert accounts.session("s1") is not None

        # eve's history is her own: ada's rows before eve existed moved to an id of their own.
        me = Actor.user(eve, "eve")
        assert [r.at for r in usage.my_recent_requests(store, me)] == [t0 + 2 * H + 1800]
        mine = usage.report(store, me, since=None, until=None)
        assert (mine.total.requests, mine.total.cost_usd) == (1, 0.125)
        spend = store.spend_since(0)
        assert spend.by_user[eve] == 0.125 and spend.by_key[eve_key] == 0.125
        by_user = usage.report(store, CLI, since=None, until=None, by="user").groups
        detached = next(g for g in by_user if g.label.startswith("deleted user ada"))
        assert detached.user_id not in (root, eve, cat, dan.id)
        assert cat < detached.user_id < dan.id
        assert detached.label == f"deleted user ada (#{detached.user_id})"
        assert (detached.stats.requests, detached.stats.cost_usd) == (2, 0.75)
        assert {g.label: g.stats.requests for g in by_user} == {
            detached.label: 2,
            "eve": 1,
            f"deleted user cat (#{cat})": 1,
        }
        by_key = {
            g.label: g.stats.requests
            for g in usage.report(store, CLI, since=None, until=None, by="key").groups
        }
        assert by_key[f"phone ({'e' * 16})"] == 1 and by_key[f"deleted key #{cat_key}"] == 1
        assert sum(by_key.values()) == 4

        # The schema is still sound: foreign keys cascade, nothing dangles.
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert (
                "AUTOINCREMENT"
                in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'users'").fetchone()[0]
            )
        assert store.health().problems == []
        users.delete_user(store, CLI, "eve")
        with store.accounts(write=False) as accounts:
            assert accounts.keys(eve) == [] and accounts.limits("user", eve) == []
            assert accounts.session("s1") is None
        assert f"deleted user eve (#{eve})" in labels(store, CLI, "user")


def test_m009_on_an_empty_database_and_twice(tmp_path: Path) -> None:
    path = tmp_path / "llmgw.db"
    Store.open(path).close()
    with Store.open(path) as store:
        assert users.create_user(store, CLI, "root", PW, role="admin").id == 1


def test_the_portal_shows_the_new_user_nothing_and_the_admin_the_deleted_users_rows(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from tests.inprocess.test_portal import ADMIN_PW, SITE, login, make_app

    app = make_app(tmp_path)  # alice (admin) and bob
    with Store.open(tmp_path / "llmgw.db") as store:
        bob = next(u for u in users.list_users(store, CLI) if u.name == "bob")
        bob_key = keys.create_key(store, CLI, "bob", "laptop").key
        store.insert_requests([row("r1", user_id=bob.id, api_key_id=bob_key.id, cost_usd=0.5)])
        users.delete_user(store, CLI, "bob")
        users.create_user(store, CLI, "carol", PW)
    with TestClient(app, base_url=SITE) as client:
        assert login(client, "carol", PW).status_code == 303
        mine = client.get("/ui/usage")
        assert mine.status_code == 200 and "gpt-4o" not in mine.text
        own_csv = client.get("/ui/usage.csv?by=key").text
        assert own_csv.count("\r\n") == 1  # the header alone
        client.cookies.clear()
        assert login(client, "alice", ADMIN_PW).status_code == 303
        label = f"deleted user bob (#{bob.id})"
        everyone = client.get("/ui/admin/usage")
        assert label in everyone.text
        assert "/ui/admin/usage/users/deleted" not in everyone.text  # no page for a user who is gone
        assert f"{label},{bob.id}," in client.get("/ui/admin/usage.csv?by=user").text
        by_key = client.get("/ui/admin/usage.csv?by=key").text
        assert f"deleted key laptop ({bob_key.public_id}),{bob.id},{bob_key.id}," in by_key
