"""Limits as administrators manage them: the use cases (rights, audit entries, partial changes, bad
values), `llmgw limit …` in a subprocess, and a change made by the CLI reaching a running server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from llmgw.errors import AccountNotFound, InvalidAccountInput, PermissionDenied
from llmgw.services import audit, limits, users
from llmgw.services.audit import Actor
from llmgw.storage import LimitValues, Store
from tests.conftest import UPSTREAM_KEY, provider
from tests.process.test_cli_accounts import Cli, ok, refused
from tests.support.accounts_rows import add_key, add_user, create_schema
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

pytestmark = pytest.mark.usefixtures(
    "fast_hashes"
)  # argon2's real parameters are tests/unit/test_passwords.py's

CLI = Actor.cli()
PW = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "llmgw.db")


def test_set_changes_only_what_it_names(store: Store) -> None:
    users.create_user(store, CLI, "ada", PW)
    change = limits.set_limits(store, CLI, "ada", rpm=60, budget_usd=5.0, period="day")
    assert change.changed and change.limit is not None
    assert change.limit.values == LimitValues(rpm=60, tpm=None, budget_usd=5.0, period="day")
    assert (change.limit.scope, change.limit.subject, change.limit.owner) == ("user", "ada", "ada")
    change = limits.set_limits(store, CLI, "ada", tpm=1000, rpm=None)
    assert change.limit is not None
    assert change.limit.values == LimitValues(rpm=None, tpm=1000, budget_usd=5.0, period="day")
    assert not limits.set_limits(store, CLI, "ada", tpm=1000).changed
    # Nothing left: the row goes.
    change = limits.set_limits(store, CLI, "ada", tpm=None, budget_usd=None)
    assert change.changed and change.limit is None
    assert limits.list_limits(store, CLI) == []


def test_a_key_is_named_by_its_public_id(store: Store, tmp_path: Path) -> None:
    store.close()
    db = tmp_path / "llmgw.db"
    key = add_key(db, add_user(db, "ada"))
    with Store.open(db) as s:
        limits.set_limits(s, CLI, key.public_id, rpm=5)
        limits.set_limits(s, CLI, "ada", budget_usd=1.0)
        listed = limits.list_limits(s, CLI)
        assert [(r.scope, r.subject, r.owner, r.subject_id) for r in listed] == [
            ("user", "ada", "ada", key.user_id),
            ("key", key.public_id, "ada", key.key_id),
        ]
        assert [r.scope for r in limits.list_limits(s, CLI, key.public_id)] == ["key"]
        assert limits.clear_limits(s, CLI, key.public_id).changed
        assert not limits.clear_limits(s, CLI, key.public_id).changed
        users.delete_user(s, CLI, "ada")
        assert limits.list_limits(s, CLI) == []  # gone with the user (ON DELETE CASCADE)


def test_bad_values_and_unknown_subjects_are_refused(store: Store) -> None:
    users.create_user(store, CLI, "ada", PW)
    for values in (
        {"rpm": 0},
        {"tpm": -1},
        {"budget_usd": -0.01},
        {"budget_usd": float("nan")},
        {"period": "week"},
    ):
        with pytest.raises(InvalidAccountInput):
            limits.set_limits(store, CLI, "ada", **values)  # type: ignore[arg-type]
    with pytest.raises(AccountNotFound, match="no user or key 'bob'"):
        limits.set_limits(store, CLI, "bob", rpm=1)
    with pytest.raises(AccountNotFound):
        limits.set_limits(store, CLI, "0123456789abcdef", rpm=1)  # no such key, no such user
    assert limits.list_limits(store, CLI) == []


@pytest.mark.parametrize(
    ("shown", "typed", "kind", "expected"),
    [
        ("30", "30", int, limits.KEEP),  # left as shown: kept, whatever is stored now
        ("30", "", int, limits.KEEP),  # blank: kept, never "no limit"
        ("30", "  ", int, limits.KEEP),
        ("", "", int, limits.KEEP),
        ("30", "40", int, 40),
        ("", "40", int, 40),  # nothing shown (no such limit yet): set
        ("30", "off", int, None),  # removed only when asked, as in `llmgw limit set`
        ("30", "OFF", int, None),
        ("2.5", "2.50", float, limits.KEEP),  # the same number, written another way
        ("2.5", "3", float, 3.0),
    ],
)
def test_a_pre_filled_form_field_changes_only_when_changed(
    shown: str, typed: str, kind: type[int] | type[float], expected: object
) -> None:
    assert limits.form_field(shown, typed, kind, "rpm") == expected


def test_a_form_field_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(InvalidAccountInput, match="requests per minute must be a whole number, or off"):
        limits.form_field("30", "many", int, "requests per minute")
    with pytest.raises(InvalidAccountInput, match="the budget must be a number"):
        limits.form_field("", "$5", float, "the budget")


def test_a_subjects_limits_say_what_they_bind(store: Store, tmp_path: Path) -> None:
    store.close()
    db = tmp_path / "llmgw.db"
    key = add_key(db, add_user(db, "ada"), name="laptop")
    with Store.open(db) as s:
        ada = limits.subject_limits(s, CLI, "ada")
        assert (ada.scope, ada.subject, ada.owner, ada.values, ada.binds) == (
            "user",
            "ada",
            "ada",
            None,
            "this user, all keys",
        )
        limits.set_limits(s, CLI, key.public_id, rpm=5)
        one = limits.subject_limits(s, CLI, key.public_id)
        assert (one.scope, one.owner, one.key_name, one.binds) == ("key", "ada", "laptop", "this key only")
        assert one.values == LimitValues(rpm=5)
        with pytest.raises(AccountNotFound):
            limits.subject_limits(s, CLI, "nobody")


def test_only_administrators_and_every_change_audited(store: Store) -> None:
    admin = users.create_user(store, CLI, "root", PW, role="admin")
    plain = users.create_user(store, CLI, "ada", PW)
    as_admin = Actor.user(admin.id, admin.name, "10.0.0.1")
    as_user = Actor.user(plain.id, plain.name)
    for call in (
        lambda: limits.set_limits(store, as_user, "ada", rpm=1000),
        lambda: limits.list_limits(store, as_user),
        lambda: limits.clear_limits(store, as_user, "ada"),
    ):
        with pytest.raises(PermissionDenied):
            call()
    limits.set_limits(store, as_admin, "ada", rpm=10, budget_usd=2.5)
    limits.set_limits(store, as_admin, "ada", rpm=10)  # no change: no entry
    limits.clear_limits(store, CLI, "ada")
    entries = [e for e in audit.entries(store, CLI) if e.action.startswith("limit.")]
    assert [(e.action, e.actor, e.target_type, e.target, e.client_address, e.detail) for e in entries] == [
        ("limit.set", "root", "user", "ada", "10.0.0.1", "rpm 10, tpm off, budget 2.50 USD/month"),
        ("limit.cleared", CLI.name, "user", "ada", None, None),
    ]


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    config = tmp_path / "llmgw.toml"
    config.write_text(f'[server]\ndatabase = "{tmp_path / "llmgw.db"}"\n', encoding="utf-8")
    return Cli(config)


def test_limit_commands(run: Cli) -> None:
    assert ok(run("limit", "list")) == "no limits\n"
    ok(run("user", "add", "ada", "--password-stdin", stdin=PW))
    key = ok(run("key", "create", "ada")).strip().split("-")[1]
    assert ok(run("limit", "set", "ada", "--rpm", "60", "--budget-usd", "5", "--period", "day")) == (
        "user 'ada': rpm 60, tpm off, budget 5.00 USD/day (set)\n"
    )
    assert ok(run("limit", "set", key, "--tpm", "10000")) == (
        f"key {key} (of 'ada'): rpm off, tpm 10000, budget off (set)\n"
    )
    assert "(unchanged)" in ok(run("limit", "set", key, "--tpm", "10000"))
    assert "rpm off" in ok(run("limit", "set", "ada", "--rpm", "off"))
    listed = json.loads(ok(run("limit", "list", "--json")))
    shown = ("scope", "subject", "owner", "rpm", "tpm", "budget_usd", "period")
    assert [{k: r[k] for k in shown} for r in listed] == [
        {
            "scope": "user",
            "subject": "ada",
            "owner": "ada",
            "rpm": None,
            "tpm": None,
            "budget_usd": 5.0,
            "period": "day",
        },
        {
            "scope": "key",
            "subject": key,
            "owner": "ada",
            "rpm": None,
            "tpm": 10000,
            "budget_usd": None,
            "period": "month",
        },
    ]
    table = ok(run("limit", "list")).splitlines()
    assert table[0].split() == [
        "scope", "subject", "owner", "rpm", "tpm", "budget", "usd", "spent", "remaining", "used", "updated",
    ]  # fmt: skip
    assert table[1].split()[:9] == ["user", "ada", "ada", "-", "-", "5.00/day", "0.00", "5.00", "0%"]
    refused(run("limit", "set", "bob", "--rpm", "1"), "no user or key 'bob'")
    refused(run("limit", "set", "ada", "--rpm", "0"), "rpm must be a whole number")
    assert run("limit", "set", "ada", "--rpm", "lots").returncode == 2  # argparse
    assert ok(run("limit", "clear", "ada")) == "cleared the limits of 'ada'\n"
    assert ok(run("limit", "clear", "ada")) == "'ada' had no limits\n"
    actions = [e["action"] for e in json.loads(ok(run("audit", "--json")))]
    assert actions.count("limit.set") == 3 and actions.count("limit.cleared") == 1


def test_a_limit_set_by_the_cli_reaches_a_running_server_within_a_second(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "llmgw.db"
    create_schema(db)
    key = add_key(db, add_user(db, "ada"))
    env = {"LLMGW_AUTH_MODE": "users", "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    body = {"model": "up/m", "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"authorization": f"Bearer {key.token}"}
    gateway = GatewayProcess(tmp_path, provider("up", fake.base_url, 'models = ["m"]'), env)
    with gateway as gw, httpx.Client(base_url=gw.base_url, headers=headers, timeout=30) as client:
        for _ in range(3):
            assert client.post("/v1/chat/completions", json=body).status_code == 200
        ok(Cli(gw.config_path)("limit", "set", "ada", "--rpm", "1"))
        set_at = time.monotonic()
        # Once the limit is loaded, one request is let through and the next is refused.
        statuses = []
        while time.monotonic() - set_at < 5:
            r = client.post("/v1/chat/completions", json=body)
            statuses.append(r.status_code)
            if r.status_code == 429:
                break
            time.sleep(0.05)
        assert statuses[-1] == 429, statuses
        assert "user ada has reached its limit of 1 requests per minute" in r.json()["error"]["message"]
        assert int(r.headers["retry-after"]) >= 59
        # The gateway polls every 0.25 s: refused within 20 polls 50 ms apart (about a second).
        assert len(statuses) <= 20, statuses
        ok(Cli(gw.config_path)("limit", "clear", "ada"))
        for _ in range(30):
            if client.post("/v1/chat/completions", json=body).status_code == 200:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("still refused after the limit was cleared")
