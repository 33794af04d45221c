"""The portal's audit page filtered by actor, action (one, or a family) and time (a period, or UTC days
from and until), its choices taken from the log itself; a bad date said, never a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from llmgw.errors import AccountError
from llmgw.portal.admin_pages import audit_filter
from llmgw.services import audit, keys
from llmgw.services.audit import Actor, AuditEntry, AuditFilter
from tests.inprocess.test_portal import ADMIN_PW, BOB_PW, SITE, login, make_app, store_of

pytestmark = pytest.mark.usefixtures("fast_hashes")

CLI = Actor.cli()
DAY = 86400


def entry(actor: str, action: str, at: float = 0.0) -> AuditEntry:
    return AuditEntry(at, actor, action, None, None, None, None, None)


def test_a_filter_matches_actor_action_family_and_time() -> None:
    f = AuditFilter(since=None, until=100.0, actor="CLI:Root", action="key")
    assert f.matches(entry("cli:root", "key.created", 99))
    assert f.matches(entry("cli:root", "key.revoked", 0))
    assert not f.matches(entry("cli:root", "key.created", 100))  # until is exclusive
    assert not f.matches(entry("alice", "key.created", 1))
    assert not f.matches(entry("cli:root", "keyring.x", 1))  # a family is the part before the dot
    assert AuditFilter(action="model_access.set").matches(entry("x", "model_access.set"))
    assert not AuditFilter(action="model_access.set").matches(entry("x", "model_access.cleared"))
    assert AuditFilter().matches(entry("anyone", "anything"))


def test_the_query_read_as_a_filter() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC).timestamp()
    assert audit_filter({}, now) == AuditFilter(since=now - 7 * DAY)
    assert audit_filter({"period": "24h", "actor": " ada "}, now) == AuditFilter(since=now - DAY, actor="ada")
    assert audit_filter({"period": "all"}, now).since is None
    days = audit_filter({"period": "24h", "from": "2026-12-01", "until": "2026-12-02"}, now)
    start = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert (days.since, days.until) == (start, start + 2 * DAY)  # both days included; the period ignored
    assert audit_filter({"until": "2026-12-01"}, now) == AuditFilter(since=None, until=start + DAY)
    for bad in ({"from": "12/01/2026"}, {"from": "2026-12-03", "until": "2026-12-02"}):
        with pytest.raises(AccountError, match="From"):
            audit_filter(bad, now)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app: Starlette = make_app(tmp_path)
    with store_of(tmp_path) as store:
        old = keys.create_key(store, CLI, "bob", "old").key
        keys.create_key(store, CLI, "alice", "admin-key")
        keys.revoke_key(store, CLI, old.public_id)
    # One entry ten days ago: outside the default period.
    ten_days_ago = datetime.now(UTC).timestamp() - 10 * DAY
    with closing(sqlite3.connect(tmp_path / "llmgw.db")) as conn, conn:
        conn.execute("UPDATE audit_log SET at = ? WHERE action = 'key.revoked'", (ten_days_ago,))
    with TestClient(app, base_url=SITE) as c:
        yield c


def actions_shown(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1] if "<tbody>" in html else ""
    return [part.split("</code>", 1)[0] for part in body.split("<code>")[1:]]


def test_the_audit_page_filters(client: TestClient, tmp_path: Path) -> None:
    login(client, "alice", ADMIN_PW)
    default = client.get("/ui/admin/audit").text
    assert "key.revoked" not in actions_shown(default)  # ten days ago, outside the last 7 days
    assert actions_shown(default)[0] == "login.success"  # newest first
    everything = client.get("/ui/admin/audit?period=all").text
    assert "key.revoked" in actions_shown(everything)
    keys_only = client.get("/ui/admin/audit?period=all&action=key").text
    assert actions_shown(keys_only) == ["key.created", "key.created", "key.revoked"]
    assert '<option value="key" selected>key.*</option>' in keys_only
    created = client.get("/ui/admin/audit?period=all&action=key.created").text
    assert actions_shown(created) == ["key.created", "key.created"] and "2 entries match" in created
    by_alice = client.get("/ui/admin/audit?period=all&actor=alice").text
    assert actions_shown(by_alice) == ["login.success"]
    assert '<option value="alice" selected>alice</option>' in by_alice
    with store_of(tmp_path) as store:
        revoked_at = next(e for e in audit.entries(store, CLI) if e.action == "key.revoked").at
    day = datetime.fromtimestamp(revoked_at, UTC).strftime("%Y-%m-%d")
    that_day = client.get(f"/ui/admin/audit?from={day}&until={day}").text
    assert actions_shown(that_day) == ["key.revoked"] and f'value="{day}"' in that_day
    bad = client.get("/ui/admin/audit?from=yesterday")
    assert bad.status_code == 400 and "From: a date as YYYY-MM-DD" in bad.text
    none = client.get("/ui/admin/audit?actor=nobody").text
    assert "No entry matches." in none and '<option value="nobody" selected>' in none


def test_not_there_for_users(client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    assert client.get("/ui/admin/audit?actor=alice").status_code == 404
