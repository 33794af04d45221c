"""The web portal over Starlette's TestClient: login and sessions, the keys page, the password page,
the administrators' pages, and every security edge the portal promises (cookie flags, CSRF with
Origin, session fixation and revocation, the login rate limit, another user's ids answering 404)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from llmgw.portal.web import Backend
from llmgw.server.app import create_app
from llmgw.services import keys, tokens, users
from llmgw.services.audit import Actor
from llmgw.services.database import Store
from llmgw.services.key_index import Principal
from llmgw.services.login_throttle import ACCOUNT_FREE, MAX_DELAY, LoginThrottle
from llmgw.settings import Config
from llmgw.storage import is_database_url
from tests.support import raw_db

pytestmark = pytest.mark.usefixtures(
    "fast_hashes"
)  # argon2's real parameters are tests/unit/test_passwords.py's

ADMIN_PW = "admin-password-123"
BOB_PW = "bob-password-12345"
SITE = "http://testserver"


class NoKeys:
    def keys(self, provider: str) -> list[str]:
        return []

    def reread(self, provider: str) -> list[str]:
        return []

    def origin(self, provider: str) -> str:
        return "none"

    def how_to_add(self, provider: str) -> str:
        return "none"


def location(where: str | Path) -> str:
    """A database location: a PostgreSQL URL or a file as it is, a test's directory → its llmgw.db."""
    if isinstance(where, Path) and where.is_dir():
        return str(where / "llmgw.db")
    return str(where)


def make_app(database: str | Path, **server: Any) -> Starlette:
    db = location(database)
    with Store.open(db) as store:
        users.create_user(store, Actor.cli(), "alice", ADMIN_PW, role="admin")
        users.create_user(store, Actor.cli(), "bob", BOB_PW)
    cfg = Config.model_validate(
        {
            "server": {
                "database": str(db),
                "key_refresh_interval": 0,
                "auth_mode": "users",
                "allowed_hosts": [
                    "testserver"
                ],  # TestClient's Host; tests/inprocess/test_portal_site.py tries others
                **server,
            },
            "providers": {"oai": {"type": "openai-compatible", "base_url": "http://oai.test/v1"}},
        }
    )
    return create_app(cfg, None, NoKeys())


def backend_of(app: Starlette) -> Backend:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/ui")
    b: Backend = mount.app.state.backend  # type: ignore[attr-defined]
    return b


@pytest.fixture
def app(database: str) -> Starlette:
    return make_app(database)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=SITE) as c:
        yield c


@contextmanager
def other(app: Starlette) -> Iterator[TestClient]:
    """A second browser on the same running app: the lifespan stays the first client's."""
    c = TestClient(app, base_url=SITE)
    try:
        yield c
    finally:
        c.close()


def login(c: TestClient, name: str, password: str, **headers: str) -> Any:
    return c.post(
        "/ui/login",
        data={"username": name, "password": password},
        headers={"origin": SITE, **headers},
        follow_redirects=False,
    )


def csrf(c: TestClient, page: str = "/ui/keys") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', c.get(page).text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def post(c: TestClient, path: str, data: dict[str, str], origin: str | None = SITE) -> Any:
    headers = {"origin": origin} if origin else {}
    return c.post(path, data=data, headers=headers, follow_redirects=False)


def store_of(database: str | Path) -> Store:
    return Store.open(location(database))


# --- login, pages, headers ----------------------------------------------------------------------------


def test_login_page_has_the_form_and_the_security_headers(client: TestClient) -> None:
    page = client.get("/ui/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp and "script-src" not in csp
    assert "default-src 'none'" in csp
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in page.text
    css = client.get("/ui/static/portal.css")
    assert css.status_code == 200 and css.headers["x-content-type-options"] == "nosniff"
    missing = client.get("/ui/nothing-here")
    assert missing.status_code == 404 and "frame-ancestors" in missing.headers["content-security-policy"]


def test_ui_redirects_to_login_then_to_the_keys_page(client: TestClient) -> None:
    assert client.get("/ui", follow_redirects=False).headers["location"] == "/ui/"
    assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"
    assert client.get("/ui/keys", follow_redirects=False).headers["location"] == "/ui/login"
    r = login(client, "bob", BOB_PW)
    assert r.status_code == 303 and r.headers["location"] == "/ui/keys"
    page = client.get("/ui/keys")
    assert page.status_code == 200 and "You have no keys yet" in page.text


def test_a_new_keys_token_is_shown_once_with_no_store(client: TestClient, database: str) -> None:
    login(client, "bob", BOB_PW)
    r = post(client, "/ui/keys", {"csrf_token": csrf(client), "name": "laptop"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    token = re.search(r'data-token="([^"]+)"', r.text)
    assert token and token.group(1).startswith("llmgw-")
    again = client.get("/ui/keys")
    assert token.group(1) not in again.text and "laptop" in again.text
    with store_of(database) as store:
        [key] = keys.list_keys(store, Actor.cli(), "bob")
    assert key.name == "laptop" and key.public_id in token.group(1)


def test_one_generic_message_for_every_login_failure(client: TestClient) -> None:
    wrong = login(client, "bob", "not-the-password")
    unknown = login(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    message = "Login failed: check your user name and password"
    assert message in wrong.text and message in unknown.text
    assert "set-cookie" not in wrong.headers


# --- cookies --------------------------------------------------------------------------------------------


def test_cookie_flags_in_development(client: TestClient) -> None:
    cookie = login(client, "bob", BOB_PW).headers["set-cookie"]
    assert cookie.startswith("llmgw_session=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
    assert "secure" not in lowered


@pytest.mark.parametrize("server", [{"cookie_secure": True}, {"env": "production"}])
def test_cookie_flags_with_secure_cookies(database: str, server: dict[str, Any]) -> None:
    app = make_app(database, **server)
    with TestClient(app, base_url="https://testserver") as c:
        r = login(c, "bob", BOB_PW, origin="https://testserver")
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-llmgw_session=")
        lowered = cookie.lower()
        assert "secure" in lowered and "httponly" in lowered and "path=/" in lowered
        assert "domain" not in lowered
        assert c.get("/ui/keys").status_code == 200


# --- CSRF and Origin ----------------------------------------------------------------------------------


def test_state_changes_need_the_sessions_csrf_token(
    app: Starlette, client: TestClient, database: str
) -> None:
    login(client, "bob", BOB_PW)
    mine = csrf(client)
    with other(app) as alice:
        login(alice, "alice", ADMIN_PW)
        alices = csrf(alice)
    for data in ({"name": "x"}, {"name": "x", "csrf_token": "wrong"}, {"name": "x", "csrf_token": alices}):
        r = post(client, "/ui/keys", data)
        assert r.status_code == 403 and "not sent from this site" in r.text
    with store_of(database) as store:
        assert keys.list_keys(store, Actor.cli(), "bob") == []
    assert post(client, "/ui/keys", {"name": "x", "csrf_token": mine}).status_code == 200


def test_state_changes_need_a_same_origin_request(client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    token = csrf(client)
    assert post(client, "/ui/keys", {"csrf_token": token}, origin="https://evil.test").status_code == 403
    assert post(client, "/ui/keys", {"csrf_token": token}, origin="null").status_code == 403
    assert post(client, "/ui/keys", {"csrf_token": token}, origin=None).status_code == 403
    referred = client.post("/ui/keys", data={"csrf_token": token}, headers={"referer": f"{SITE}/ui/keys"})
    assert referred.status_code == 200
    cross_login = login(client, "bob", BOB_PW, origin="https://evil.test")
    assert cross_login.status_code == 403


def test_state_changing_routes_refuse_get(client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    assert client.get("/ui/logout").status_code == 405
    # A revocation's GET is its confirmation page (tests/inprocess/test_portal_edits.py); no key, none.
    assert client.get("/ui/keys/0123456789abcdef/revoke").status_code == 404
    assert client.get("/ui/keys").status_code == 200  # still logged in


# --- sessions -----------------------------------------------------------------------------------------


def test_login_issues_a_new_session_id_and_ends_the_old_one(client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    first = client.cookies["llmgw_session"]
    login(client, "bob", BOB_PW)
    second = client.cookies["llmgw_session"]
    assert first != second
    client.cookies.clear()
    client.cookies.set("llmgw_session", first)
    assert client.get("/ui/keys", follow_redirects=False).status_code == 303


def test_a_planted_session_id_is_not_adopted(client: TestClient) -> None:
    planted = "attacker-chosen-session-id-0123456789"
    client.cookies.set("llmgw_session", planted)
    r = login(client, "bob", BOB_PW)
    assert r.status_code == 303
    assert f"llmgw_session={planted}" not in r.headers["set-cookie"]


def test_the_session_id_is_stored_hashed(client: TestClient, database: str) -> None:
    login(client, "bob", BOB_PW)
    sid = client.cookies["llmgw_session"]
    with store_of(database) as store:
        stored = raw_db.rows(store, "SELECT id_hash, csrf_token FROM sessions")
    assert len(stored) == 1 and sid not in str(stored)
    if not is_database_url(database):  # the file's every byte, its write-ahead log included
        raw = Path(database).read_bytes() + Path(f"{database}-wal").read_bytes()
        assert sid.encode() not in raw


def test_logout_ends_the_session_for_good(client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    sid = client.cookies["llmgw_session"]
    r = post(client, "/ui/logout", {"csrf_token": csrf(client)})
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?done=logout"
    client.cookies.clear()
    client.cookies.set("llmgw_session", sid)  # replayed
    assert client.get("/ui/keys", follow_redirects=False).headers["location"] == "/ui/login"


def test_a_password_change_ends_every_session_of_the_user(app: Starlette, client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    with other(app) as second:
        login(second, "bob", BOB_PW)
        new = "bob-new-password-456"
        form = {"csrf_token": csrf(client, "/ui/password"), "current_password": BOB_PW}
        r = post(client, "/ui/password", {**form, "new_password": new, "new_password_again": new})
        assert r.status_code == 303 and r.headers["location"] == "/ui/login?done=password"
        assert client.get("/ui/keys", follow_redirects=False).status_code == 303
        assert second.get("/ui/keys", follow_redirects=False).status_code == 303
        assert login(client, "bob", BOB_PW).status_code == 400
        assert login(client, "bob", new).status_code == 303


def test_a_wrong_current_password_changes_nothing(client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    form = {"csrf_token": csrf(client, "/ui/password"), "current_password": "wrong-password-000"}
    new = "bob-new-password-456"
    r = post(client, "/ui/password", {**form, "new_password": new, "new_password_again": new})
    assert r.status_code == 400 and "current password is wrong" in r.text
    assert client.get("/ui/keys").status_code == 200


def test_disabling_a_user_ends_their_sessions(app: Starlette, client: TestClient) -> None:
    login(client, "bob", BOB_PW)
    with other(app) as admin:
        login(admin, "alice", ADMIN_PW)
        r = post(admin, "/ui/admin/users/bob/disable", {"csrf_token": csrf(admin)})
        assert r.status_code == 303
    assert client.get("/ui/keys", follow_redirects=False).headers["location"] == "/ui/login"
    assert login(client, "bob", BOB_PW).status_code == 400


def test_sessions_expire_when_idle_and_absolutely(client: TestClient, database: str) -> None:
    from llmgw.services import sessions

    with store_of(database) as store:
        bob = next(u for u in users.list_users(store, Actor.cli()) if u.name == "bob")
        sid, _ = sessions.start(store, bob, None, now=1000.0)
        assert sessions.resume(store, sid, None, now=1000.0 + sessions.IDLE_TIMEOUT - 1) is not None
        assert sessions.resume(store, sid, None, now=1000.0 + 2 * sessions.IDLE_TIMEOUT) is None
        sid, _ = sessions.start(store, bob, None, now=1000.0)
        t = 1000.0
        while t < 1000.0 + sessions.ABSOLUTE_TIMEOUT - 60:  # kept busy, never idle
            t += sessions.IDLE_TIMEOUT / 2
            alive = sessions.resume(store, sid, None, now=t)
            assert (alive is not None) == (t < 1000.0 + sessions.ABSOLUTE_TIMEOUT)
        assert sessions.resume(store, sid, None, now=1000.0 + sessions.ABSOLUTE_TIMEOUT) is None


# --- the login rate limit ------------------------------------------------------------------------------


def test_login_is_rate_limited_per_account_and_address_with_growing_delays(
    app: Starlette, client: TestClient
) -> None:
    now = [5000.0]
    backend_of(app).throttle = LoginThrottle(lambda: now[0])
    for _ in range(5):
        assert login(client, "bob", "wrong-password-000").status_code == 400
    refused = login(client, "bob", BOB_PW)  # the right password, too soon: refused all the same
    assert refused.status_code == 400 and "Login failed" in refused.text
    now[0] += 1.5
    assert login(client, "bob", "wrong-password-000").status_code == 400  # 6th failure: 2 s now
    now[0] += 1.5
    assert login(client, "bob", BOB_PW).status_code == 400
    now[0] += 1.0
    assert login(client, "bob", BOB_PW).status_code == 303


def test_an_attack_from_one_address_never_locks_the_admin_out(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 wrong passwords for alice from one address, one a second (about one per delay window: what
    kept an account-wide lock closed for everyone): alice logs in from her own address during the
    attack and after it; the attacking address is refused unchecked, even with the right password,
    and gets only a handful of its guesses checked; it may still log in to another account."""
    app = make_app(database, trusted_proxies=["10.9.9.9"])  # TLS ends at a proxy: X-Forwarded-For
    now = [5000.0]
    checked: list[str | None] = []
    authenticate = users.authenticate

    def counted(store: Store, name: str, password: str, address: str | None) -> users.User | None:
        checked.append(address)
        return authenticate(store, name, password, address)

    monkeypatch.setattr(users, "authenticate", counted)
    attacker = {"x-forwarded-for": "198.51.100.66"}
    with TestClient(app, base_url=SITE, client=("10.9.9.9", 40000)) as proxy:
        backend_of(app).throttle = LoginThrottle(lambda: now[0])
        for attempt in range(200):
            assert login(proxy, "alice", f"guess-{attempt:04d}-xx", **attacker).status_code == 400
            now[0] += 1.0
            if attempt in (100, 199):  # alice, from her office, through the same proxy
                alice = TestClient(app, base_url=SITE, client=("10.9.9.9", 40001))
                r = login(alice, "alice", ADMIN_PW, **{"x-forwarded-for": "203.0.113.5"})
                assert r.status_code == 303, f"alice locked out after {attempt + 1} attacks"
                assert "Users" in alice.get("/ui/keys").text  # her session, an admin's
                alice.close()
        assert login(proxy, "alice", ADMIN_PW, **attacker).status_code == 400  # the attacker's address
        assert checked.count("198.51.100.66") <= 15  # 5 free, then 2, 4, 8 ... seconds apart
        assert login(proxy, "bob", BOB_PW, **attacker).status_code == 303  # per (account, address)


def test_login_throttle_per_pair_and_per_address() -> None:
    now = [0.0]
    t = LoginThrottle(lambda: now[0])
    for _ in range(5):
        t.failed("carol", "10.0.0.3")
    assert not t.allowed("CAROL", "10.0.0.3")  # names compare without regard to case
    assert t.allowed("carol", "10.0.0.9")  # another address: its own count
    assert t.allowed("dave", "10.0.0.3")  # another account from that address
    for i in range(20):
        t.failed(f"user{i}", "10.0.0.1")
    assert not t.allowed("someone-else", "10.0.0.1")  # one address, many accounts
    assert t.allowed("someone-else", "10.0.0.2")
    for i in range(5):  # an IPv6 host holds a /64: its addresses count as one
        t.failed("erin", f"2001:db8:1:2::{i + 1}")
    assert not t.allowed("erin", "2001:db8:1:2:ffff::1")
    assert t.allowed("erin", "2001:db8:1:3::1")
    now[0] += 3600
    assert t.allowed("x", "10.0.0.1") and t.allowed("carol", "10.0.0.3")


def test_an_account_failing_from_many_addresses_is_guarded_not_locked() -> None:
    """A botnet gets one guess per address per MAX_DELAY once the account is guarded; the right
    password from an address that has not been failing is still checked."""
    now = [0.0]
    t = LoginThrottle(lambda: now[0])
    for i in range(ACCOUNT_FREE + 20):
        address = f"192.0.2.{i}"
        assert t.allowed("carol", address)
        t.failed("carol", address)
        now[0] += 1.0
    assert not t.allowed("carol", "192.0.2.25")  # failed for carol lately, the account under attack
    assert t.allowed("carol", "192.0.2.200")  # a fresh address: checked
    t.failed("carol", "192.0.2.200")
    t.succeeded("carol", "192.0.2.200")  # it was carol
    assert t.allowed("carol", "192.0.2.200")
    t.failed("carol", "192.0.2.201")
    t.unchecked("carol", "192.0.2.201")  # never checked (the hashing pool was full): given back
    assert t.allowed("carol", "192.0.2.201")
    now[0] += MAX_DELAY + 1
    assert t.allowed("carol", "192.0.2.25")


def test_a_full_password_pool_refuses_logins_at_once(app: Starlette, client: TestClient) -> None:
    """Beyond the pool's queue a login is answered 429 without a check, the same for a real and an
    unknown name, and it costs the name nothing in the throttle."""
    import asyncio
    import threading

    from llmgw.services import passwords

    pool = passwords.HashingPool(threads=1, waiting=0)
    release = threading.Event()
    held = threading.Thread(target=asyncio.run, args=(pool.run(release.wait),))
    held.start()
    try:
        while pool.admitted == 0:
            time.sleep(0.01)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(passwords, "POOL", pool)
            for name in ("bob", "nobody-at-all"):
                for _ in range(8):  # more than the throttle's free attempts: none counted
                    r = login(client, name, BOB_PW)
                    assert r.status_code == 429 and "Too many login attempts right now" in r.text
                    assert r.headers["retry-after"]
    finally:
        release.set()
        held.join()
    assert login(client, "bob", BOB_PW).status_code == 303


def test_every_password_hash_of_the_portal_runs_in_the_password_pool(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logins, one's own password, an administrator's new user and reset: none of them holds a thread
    of the default executor (the key index's, the sessions') while it waits for a hashing slot."""
    from llmgw.services import passwords

    ran: list[str] = []

    class SpyPool(passwords.HashingPool):
        async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
            ran.append(fn.__name__)
            return await super().run(fn, *args, **kwargs)

    monkeypatch.setattr(passwords, "POOL", SpyPool())
    assert login(client, "alice", ADMIN_PW).status_code == 303
    token = csrf(client)
    made = {"csrf_token": token, "username": "carol", "password": "carol-password-12", "role": "user"}
    assert post(client, "/ui/admin/users", made).status_code == 303
    reset = {"csrf_token": token, "password": "carol-reset-pass-9"}
    assert post(client, "/ui/admin/users/carol/password", reset).status_code == 303
    new = "alice-new-password-1"
    form = {"csrf_token": csrf(client, "/ui/password"), "current_password": ADMIN_PW}
    assert (
        post(client, "/ui/password", {**form, "new_password": new, "new_password_again": new}).status_code
        == 303
    )
    assert ran == ["authenticate", "create_user", "set_password", "set_password"]


def test_login_throttle_forgets_old_failures_and_successes_do_not_count() -> None:
    now = [0.0]
    t = LoginThrottle(lambda: now[0])
    for _ in range(30):  # thirty logins from one office address, each counted then given back
        t.failed(f"user{_}", "10.0.0.1")
        t.succeeded(f"user{_}", "10.0.0.1")
    assert t.allowed("anyone", "10.0.0.1")
    for _ in range(5):
        t.failed("dave", "10.0.0.5")
        now[0] += 2 * 24 * 3600  # a typo every other day
    t.failed("dave", "10.0.0.5")
    assert t.allowed("dave", "10.0.0.5")


# --- another user's things, and the admin pages ---------------------------------------------------------


def test_another_users_key_answers_404(client: TestClient, database: str) -> None:
    with store_of(database) as store:
        alices = keys.create_key(store, Actor.cli(), "alice", "admin-key").key
    login(client, "bob", BOB_PW)
    token = csrf(client)
    theirs = post(client, f"/ui/keys/{alices.public_id}/revoke", {"csrf_token": token})
    missing = post(client, "/ui/keys/0123456789abcdef/revoke", {"csrf_token": token})
    assert theirs.status_code == missing.status_code == 404
    assert "not yours to see" in theirs.text
    with store_of(database) as store:
        [key] = keys.list_keys(store, Actor.cli(), "alice")
    assert key.state == "active"
    assert alices.public_id not in client.get("/ui/keys").text


def test_a_user_revokes_their_own_key(client: TestClient, database: str) -> None:
    login(client, "bob", BOB_PW)
    created = post(client, "/ui/keys", {"csrf_token": csrf(client), "name": "ci"})
    public_id = re.search(r'data-token="llmgw-([0-9a-f]{16})-', created.text)
    assert public_id
    r = post(client, f"/ui/keys/{public_id.group(1)}/revoke", {"csrf_token": csrf(client), "confirm": "yes"})
    assert r.status_code == 303
    assert "The key was revoked." in client.get(r.headers["location"]).text
    with store_of(database) as store:
        [key] = keys.list_keys(store, Actor.cli(), "bob")
    assert key.state == "revoked"


@pytest.mark.parametrize("page", ["/ui/admin/users", "/ui/admin/keys", "/ui/admin/audit"])
def test_admin_pages_are_404_for_users_and_strangers(client: TestClient, page: str) -> None:
    assert client.get(page).status_code == 404
    login(client, "bob", BOB_PW)
    assert client.get(page).status_code == 404
    assert "Users" not in client.get("/ui/keys").text.split("<main>")[0]


def test_a_user_cannot_post_admin_actions(client: TestClient, database: str) -> None:
    login(client, "bob", BOB_PW)
    token = csrf(client)
    assert post(client, "/ui/admin/users/alice/disable", {"csrf_token": token}).status_code == 404
    made = {"csrf_token": token, "username": "mallory", "password": "mallory-password-1"}
    assert post(client, "/ui/admin/users", made).status_code == 404
    with store_of(database) as store:
        names = {u.name: u for u in users.list_users(store, Actor.cli())}
    assert "mallory" not in names and not names["alice"].disabled


def test_admin_manages_users_keys_and_reads_the_audit_log(client: TestClient, database: str) -> None:
    login(client, "alice", ADMIN_PW)
    token = csrf(client)
    made = {"csrf_token": token, "username": "carol", "password": "carol-password-12", "role": "user"}
    r = post(client, "/ui/admin/users", made)
    assert r.status_code == 303
    listing = client.get(r.headers["location"]).text
    assert "The user was created." in listing and "carol" in listing
    assert (
        post(client, "/ui/admin/users/carol/role", {"csrf_token": token, "role": "admin"}).status_code == 303
    )
    reset = {"csrf_token": token, "password": "carol-reset-pass-9"}
    assert post(client, "/ui/admin/users/carol/password", reset).status_code == 303
    with store_of(database) as store:
        keys.create_key(store, Actor.cli(), "bob", "bobs")
    all_keys = client.get("/ui/admin/keys").text
    assert "bobs" in all_keys and "bob" in all_keys
    bobs = re.search(r"<code>([0-9a-f]{16})</code>", all_keys)
    assert bobs
    revoke = {"csrf_token": token, "back": "admin", "confirm": "yes"}
    r = post(client, f"/ui/keys/{bobs.group(1)}/revoke", revoke)
    assert r.status_code == 303 and r.headers["location"] == "/ui/admin/keys?done=revoked"
    deleted = post(client, "/ui/admin/users/carol/delete", {"csrf_token": token, "confirm": "yes"})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/ui/admin/users?done=deleted"
    refused = post(client, "/ui/admin/users/alice/disable", {"csrf_token": token})
    assert refused.status_code == 400 and "last active administrator" in refused.text
    assert post(client, "/ui/admin/users/nobody/disable", {"csrf_token": token}).status_code == 404
    log = client.get("/ui/admin/audit").text
    for action in ("login.success", "user.created", "user.role_changed", "user.password_reset"):
        assert action in log
    assert "key.revoked" in log and "user.deleted" in log


def test_logout_is_audited(client: TestClient, database: str) -> None:
    login(client, "bob", BOB_PW)
    post(client, "/ui/logout", {"csrf_token": csrf(client)})
    from llmgw.services import audit

    with store_of(database) as store:
        actions = [e.action for e in audit.entries(store, Actor.cli())]
    assert actions[-1] == "session.revoked"


def test_the_running_gateway_sees_portal_key_changes_at_once(app: Starlette, client: TestClient) -> None:
    """The portal writes through the gateway's own connection, which `PRAGMA data_version` does not
    count: it must tell the key index to reload."""
    index = app.state.gateway.key_index
    login(client, "bob", BOB_PW)
    created = post(client, "/ui/keys", {"csrf_token": csrf(client), "name": "now"})
    found = re.search(r'data-token="([^"]+)"', created.text)
    assert found
    parsed = tokens.parse(found.group(1))
    assert parsed is not None
    index.refresh()
    assert isinstance(index.identify(parsed), Principal)
    post(client, f"/ui/keys/{parsed.public_id}/revoke", {"csrf_token": csrf(client), "confirm": "yes"})
    index.refresh()
    assert index.identify(parsed) == "revoked"


def test_logging_in_again_drops_the_old_session_without_a_logout_entry(
    client: TestClient, database: str
) -> None:
    login(client, "bob", BOB_PW)
    login(client, "alice", ADMIN_PW)
    from llmgw.services import audit

    with store_of(database) as store:
        actions = [e.action for e in audit.entries(store, Actor.cli())]
    assert "session.revoked" not in actions


# --- one's own recent usage -----------------------------------------------------------------------------


def test_a_user_sees_only_their_own_recent_usage(client: TestClient, database: str) -> None:
    from llmgw.storage import UsageRow

    now = time.time()
    with store_of(database) as store:
        ids = {u.name: u.id for u in users.list_users(store, Actor.cli())}
        row = {"endpoint": "/v1/chat/completions", "status": 200, "created_at": now - 60}
        store.insert_requests(
            [
                UsageRow(
                    request_id="r1", user_id=ids["bob"], model_requested="bobs-model", prompt_tokens=42, **row
                ),
                UsageRow(request_id="r2", user_id=ids["alice"], model_requested="alices-model", **row),
                UsageRow(request_id="r3", user_id=None, model_requested="legacy-model", **row),
            ]
        )
    login(client, "bob", BOB_PW)
    page = client.get("/ui/usage")
    assert page.status_code == 200
    assert "bobs-model" in page.text and "42" in page.text
    assert "alices-model" not in page.text and "legacy-model" not in page.text
    assert 'href="/ui/usage"' in client.get("/ui/keys").text


def test_recent_requests_show_the_error_code_the_key_and_the_request_id(
    client: TestClient, database: str
) -> None:
    from llmgw.storage import UsageRow

    now = time.time()
    with store_of(database) as store:
        bob = next(u.id for u in users.list_users(store, Actor.cli()) if u.name == "bob")
        made = keys.create_key(store, Actor.cli(), "bob", "laptop")
        row = {"endpoint": "/v1/messages", "user_id": bob, "created_at": now - 60}
        store.insert_requests(
            [
                UsageRow(request_id="req_refused01", api_key_id=made.key.id, status=429, error_kind="policy",
                         error_type="budget_exceeded", model_requested="smart", **row),
                UsageRow(request_id="req_served02", api_key_id=made.key.id, status=200,
                         model_requested="smart", **{**row, "created_at": now - 30}),
            ]
        )  # fmt: skip
    login(client, "bob", BOB_PW)
    page = client.get("/ui/usage").text
    recent = page[page.index("My recent requests") :]
    refused = recent[recent.index("<tr>", recent.index("req_served02")) :]
    assert '<td data-error="budget_exceeded"><code>budget_exceeded</code>' in refused
    assert "refused by policy" in refused
    assert f"<td>laptop ({made.key.public_id})</td>" in refused
    assert "<code>req_refused01</code>" in refused
    assert made.token not in page  # a key is named by its name and public id, never its token
    served = recent[: recent.index("req_refused01")]
    assert '<td data-error=""></td>' in served and "<code>req_served02</code>" in served


def test_an_admin_sees_a_users_recent_requests_on_their_dashboard(client: TestClient, database: str) -> None:
    from llmgw.errors import AccountNotFound, PermissionDenied
    from llmgw.services import usage
    from llmgw.storage import UsageRow

    with store_of(database) as store:
        ids = {u.name: u.id for u in users.list_users(store, Actor.cli())}
        made = keys.create_key(store, Actor.cli(), "bob", "ci")
        store.insert_requests(
            [
                UsageRow(request_id="req_bob1", endpoint="/v1/messages", user_id=ids["bob"],
                         api_key_id=made.key.id, status=502, error_kind="upstream",
                         error_type="upstream_error", created_at=time.time() - 5),
                UsageRow(request_id="req_alice1", endpoint="/v1/messages", user_id=ids["alice"], status=200,
                         created_at=time.time() - 5),
            ]
        )  # fmt: skip
        bob = Actor.user(ids["bob"], "bob")
        with pytest.raises(PermissionDenied):
            usage.recent_requests(store, bob, "alice")  # a user names only themself
        with pytest.raises(AccountNotFound):
            usage.recent_requests(store, Actor.cli(), "nobody")
    login(client, "alice", ADMIN_PW)
    page = client.get("/ui/admin/usage/users/bob").text
    recent = page[page.index("Recent requests of bob") :]
    assert "<code>req_bob1</code>" in recent and f"<td>ci ({made.key.public_id})</td>" in recent
    assert '<td data-error="upstream_error">' in recent and "upstream error" in recent
    assert "req_alice1" not in page
    assert "My recent requests" not in page  # her own are on her own page
    assert client.get("/ui/admin/usage/users/nobody").status_code == 404


def test_usage_page_empty_state_and_login_required(client: TestClient) -> None:
    assert client.get("/ui/usage", follow_redirects=False).headers["location"] == "/ui/login"
    login(client, "bob", BOB_PW)
    assert "No requests with your keys" in client.get("/ui/usage").text


def test_admin_sets_and_clears_limits_and_the_gateway_applies_them_at_once(
    app: Starlette, client: TestClient, database: str
) -> None:
    login(client, "alice", ADMIN_PW)
    token = csrf(client, "/ui/admin/users")
    assert "No limits set." in client.get("/ui/admin/users").text
    form = {
        "csrf_token": token,
        "subject": "bob",
        "rpm": "30",
        "tpm": "",
        "budget_usd": "2.5",
        "period": "day",
    }
    r = post(client, "/ui/admin/limits", form)
    assert r.status_code == 303 and r.headers["location"] == "/ui/admin/users?done=limits"
    page = client.get(r.headers["location"]).text
    assert "The limits were saved" in page and "2.50 USD/day" in page
    assert app.state.gateway.limits.subject_count == 1  # no poll needed: the portal reloads them
    with store_of(database) as store:
        key = keys.create_key(store, Actor.cli(), "bob", "laptop").key
    r = post(
        client,
        "/ui/admin/limits",
        {**form, "subject": key.public_id, "rpm": "", "budget_usd": "", "tpm": "900"},
    )
    assert r.status_code == 303
    assert f"<code>{key.public_id}</code>" in client.get("/ui/admin/users").text
    bad = post(client, "/ui/admin/limits", {**form, "rpm": "many"})
    assert bad.status_code == 400 and "requests per minute must be a whole number" in bad.text
    unknown = post(client, "/ui/admin/limits", {**form, "subject": "nobody"})
    assert unknown.status_code == 400 and "no user or key &#39;nobody&#39;" in unknown.text
    r = post(client, "/ui/admin/limits/bob/clear", {"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/admin/users?done=limits-cleared"
    assert app.state.gateway.limits.subject_count == 1  # the key's remain
    log = client.get("/ui/admin/audit").text
    assert "limit.set" in log and "limit.cleared" in log


def test_a_user_cannot_set_limits(client: TestClient, database: str) -> None:
    login(client, "bob", BOB_PW)
    token = csrf(client)
    form = {"csrf_token": token, "subject": "bob", "rpm": "", "tpm": "", "budget_usd": "", "period": "month"}
    assert post(client, "/ui/admin/limits", form).status_code == 404
    assert post(client, "/ui/admin/limits/bob/clear", {"csrf_token": token}).status_code == 404
    without_csrf = {**form, "csrf_token": "wrong"}
    login(client, "alice", ADMIN_PW)
    assert post(client, "/ui/admin/limits", {**without_csrf, "rpm": "5"}).status_code == 403
    with store_of(database) as store:
        from llmgw.services import limits

        assert limits.list_limits(store, Actor.cli()) == []
