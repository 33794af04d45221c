"""The portal behind a TLS-terminating reverse proxy and under its own name: X-Forwarded-Proto believed
from `trusted_proxies` only (Secure `__Host-` cookie, HSTS in production), X-Forwarded-For values that
are not addresses ignored, the Host checked against `public_url` / `allowed_hosts` / loopback names,
and Origin compared by scheme, host and port."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from llmgw.services import audit
from llmgw.services.audit import Actor
from tests.inprocess.test_portal import BOB_PW, SITE, login, make_app, store_of

pytestmark = pytest.mark.usefixtures(
    "fast_hashes"
)  # argon2's real parameters are tests/unit/test_passwords.py's

PROXY = ("10.0.0.5", 40000)  # in trusted_proxies below
STRANGER = ("198.51.100.9", 40000)  # not
PROXIES = ["10.0.0.0/8"]
HTTPS = {"x-forwarded-proto": "https"}
HSTS = "strict-transport-security"


def client(tmp_path: Path, peer: tuple[str, int] = PROXY, base_url: str = SITE, **server: Any) -> TestClient:
    return TestClient(make_app(tmp_path, **server), base_url=base_url, client=peer)


def session_id(cookie: str) -> str:
    return cookie.split(";", 1)[0].split("=", 1)[1]


def last_session_address(tmp_path: Path) -> str | None:
    with closing(sqlite3.connect(tmp_path / "llmgw.db")) as conn:
        row = conn.execute("SELECT client_address FROM sessions ORDER BY rowid DESC LIMIT 1").fetchone()
    return None if row is None else str(row[0]) if row[0] is not None else None


def last_login_address(tmp_path: Path) -> str | None:
    with store_of(tmp_path) as store:
        entry = [e for e in audit.entries(store, Actor.cli()) if e.action == "login.success"][-1]
    return entry.client_address


# --- X-Forwarded-Proto: the cookie and HSTS -------------------------------------------------------


def test_https_forwarded_by_a_trusted_proxy_makes_the_cookie_secure_and_host_prefixed(tmp_path: Path) -> None:
    with client(tmp_path, trusted_proxies=PROXIES) as c:
        r = login(c, "bob", BOB_PW, origin="https://testserver", **HTTPS)
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-llmgw_session=")
        lowered = cookie.lower()
        assert "secure" in lowered and "path=/" in lowered and "domain" not in lowered
        # Read back under the same name over the same (forwarded) https; the client's jar would not
        # send a Secure cookie to its http:// base URL, so the browser's header is written out.
        c.cookies.clear()
        sid = session_id(cookie)
        page = c.get(
            "/ui/keys",
            headers={**HTTPS, "cookie": f"__Host-llmgw_session={sid}"},
            follow_redirects=False,
        )
        assert page.status_code == 200
        # The plain name is not read on an https request (a cookie an http page could have planted).
        planted = c.get(
            "/ui/keys", headers={**HTTPS, "cookie": f"llmgw_session={sid}"}, follow_redirects=False
        )
        assert planted.status_code == 303 and planted.headers["location"] == "/ui/login"


def test_forwarded_https_from_anyone_else_is_not_believed(tmp_path: Path) -> None:
    with client(tmp_path, peer=STRANGER, trusted_proxies=PROXIES) as c:
        r = login(c, "bob", BOB_PW, **HTTPS)
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("llmgw_session=") and "secure" not in cookie.lower()
        # The request came over http, whatever the header says: an https Origin is another site.
        refused = login(c, "bob", BOB_PW, origin="https://testserver", **HTTPS)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
    with client(tmp_path / "2", peer=PROXY) as c:  # no trusted_proxies at all
        r = login(c, "bob", BOB_PW, **HTTPS)
        assert r.headers["set-cookie"].startswith("llmgw_session=")


def test_direct_https_makes_auto_cookies_secure_and_false_means_false(tmp_path: Path) -> None:
    with client(tmp_path, peer=STRANGER, base_url="https://testserver") as c:
        r = login(c, "bob", BOB_PW, origin="https://testserver")
        assert r.headers["set-cookie"].startswith("__Host-llmgw_session=")
        assert c.get("/ui/keys", follow_redirects=False).status_code == 200
    with client(tmp_path / "2", peer=STRANGER, base_url="https://testserver", cookie_secure=False) as c:
        r = login(c, "bob", BOB_PW, origin="https://testserver")
        assert r.headers["set-cookie"].startswith("llmgw_session=")
        assert "secure" not in r.headers["set-cookie"].lower()


def test_hsts_in_production_over_https_only(tmp_path: Path) -> None:
    with client(tmp_path / "1", env="production", trusted_proxies=PROXIES) as c:
        page = c.get("/ui/login", headers=HTTPS)
        assert page.status_code == 200 and page.headers[HSTS] == "max-age=31536000"
        assert HSTS not in c.get("/ui/login").headers  # the proxy says http
    with client(tmp_path / "2", peer=STRANGER, env="production", trusted_proxies=PROXIES) as c:
        assert HSTS not in c.get("/ui/login", headers=HTTPS).headers  # not a trusted proxy's word
    with client(tmp_path / "3", peer=STRANGER, base_url="https://testserver", env="production") as c:
        assert c.get("/ui/login").headers[HSTS] == "max-age=31536000"  # TLS at the gateway itself
    with client(tmp_path / "4", trusted_proxies=PROXIES) as c:  # development: never pinned
        assert HSTS not in c.get("/ui/login", headers=HTTPS).headers


def test_production_cookies_stay_secure_behind_a_proxy_it_does_not_trust(tmp_path: Path) -> None:
    with client(tmp_path, peer=STRANGER, env="production") as c:
        r = login(c, "bob", BOB_PW)
        assert r.headers["set-cookie"].startswith("__Host-llmgw_session=")


# --- X-Forwarded-For ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forwarded",
    ["not-an-ip", "<script>alert(1)</script>", "fe80::1%<b>", "203.0.113.7:443", "203.0.113.7, nonsense"],
)
def test_a_forwarded_for_that_is_not_an_address_is_ignored(tmp_path: Path, forwarded: str) -> None:
    with client(tmp_path, trusted_proxies=PROXIES) as c:
        r = login(c, "bob", BOB_PW, **{"x-forwarded-for": forwarded})
        assert r.status_code == 303
    assert last_session_address(tmp_path) == "10.0.0.5"  # the proxy's own: all that is known
    assert last_login_address(tmp_path) == "10.0.0.5"


@pytest.mark.parametrize(
    ("forwarded", "stored"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"),  # the last hop a trusted proxy vouches for
        ("2001:DB8::1", "2001:db8::1"),
    ],
)
def test_a_forwarded_for_address_is_stored_as_an_address(tmp_path: Path, forwarded: str, stored: str) -> None:
    with client(tmp_path, trusted_proxies=PROXIES) as c:
        assert login(c, "bob", BOB_PW, **{"x-forwarded-for": forwarded}).status_code == 303
    assert last_session_address(tmp_path) == stored
    assert last_login_address(tmp_path) == stored


# --- Host -----------------------------------------------------------------------------------------


def test_a_foreign_host_gets_a_plain_400_and_no_session(tmp_path: Path) -> None:
    with client(tmp_path, peer=STRANGER) as c:
        r = login(c, "bob", BOB_PW, host="evil.example", origin="http://evil.example")
        assert r.status_code == 400 and "set-cookie" not in r.headers
        assert "evil.example" not in r.text  # not reflected
        page = c.get("/ui/login", headers={"host": "evil.example"})
        assert page.status_code == 400 and "frame-ancestors" in page.headers["content-security-policy"]
        for host in ("localhost", "localhost:4000", "127.0.0.1:4000", "[::1]:4000", "testserver:8080"):
            assert c.get("/ui/login", headers={"host": host}).status_code == 200, host
        for host in ("", "evil.example:80", "testserver.evil.example", "user@testserver", "testserver/x"):
            assert c.get("/ui/login", headers={"host": host}).status_code == 400, host
        # API routes do not check it: their keys are never sent by a browser on its own
        assert c.get("/v1/models", headers={"host": "evil.example"}).status_code == 401
        assert c.get("/healthz", headers={"host": "evil.example"}).status_code == 200


def test_development_answers_loopback_names_and_the_bind_host(tmp_path: Path) -> None:
    with client(tmp_path, peer=STRANGER, allowed_hosts=[], host="192.0.2.10") as c:
        assert c.get("/ui/login").status_code == 400  # testserver: not named anywhere
        assert c.get("/ui/login", headers={"host": "192.0.2.10:4000"}).status_code == 200
        assert c.get("/ui/login", headers={"host": "localhost:4000"}).status_code == 200
    with client(tmp_path / "2", peer=STRANGER, allowed_hosts=[], env="production", host="192.0.2.10") as c:
        assert c.get("/ui/login", headers={"host": "192.0.2.10:4000"}).status_code == 400
        assert c.get("/ui/login", headers={"host": "localhost:4000"}).status_code == 200


def test_public_url_names_the_host_and_the_origin(tmp_path: Path) -> None:
    site = "https://llm.example.com"
    with client(tmp_path, peer=STRANGER, allowed_hosts=[], public_url=site) as c:
        # TLS ended at a proxy the gateway does not know of: public_url says the browser is on https
        r = login(c, "bob", BOB_PW, host="llm.example.com", origin=site)
        assert r.status_code == 303 and r.headers["set-cookie"].startswith("__Host-llmgw_session=")
        plain = login(c, "bob", BOB_PW, host="llm.example.com", origin="http://llm.example.com")
        assert plain.status_code == 403 and "set-cookie" not in plain.headers
        assert c.get("/ui/login", headers={"host": "testserver"}).status_code == 400
    with client(tmp_path / "2", allowed_hosts=[], public_url=site, trusted_proxies=PROXIES) as c:
        # a trusted proxy's X-Forwarded-Proto is what the browser is on, public_url or not
        r = login(
            c,
            "bob",
            BOB_PW,
            host="llm.example.com",
            origin="http://llm.example.com",
            **{"x-forwarded-proto": "http"},
        )
        assert r.status_code == 303 and r.headers["set-cookie"].startswith("llmgw_session=")


def test_behind_a_proxy_that_keeps_its_own_host_header(tmp_path: Path) -> None:
    """nginx's default `Host: $proxy_host`: the gateway sees 127.0.0.1:4000, the browser's Origin is the
    site's; public_url says which that is (or X-Forwarded-Host, from a trusted proxy)."""
    inner = {"host": "127.0.0.1:4000", **HTTPS}
    with client(
        tmp_path, allowed_hosts=[], trusted_proxies=PROXIES, public_url="https://llm.example.com"
    ) as c:
        assert login(c, "bob", BOB_PW, origin="https://llm.example.com", **inner).status_code == 303
        assert login(c, "bob", BOB_PW, origin="https://evil.example", **inner).status_code == 403
    with client(tmp_path / "2", allowed_hosts=["llm.example.com"], trusted_proxies=PROXIES) as c:
        assert login(c, "bob", BOB_PW, origin="https://llm.example.com", **inner).status_code == 403
        named = {**inner, "x-forwarded-host": "llm.example.com"}
        assert login(c, "bob", BOB_PW, origin="https://llm.example.com", **named).status_code == 303
        foreign = {**inner, "x-forwarded-host": "evil.example"}
        assert c.get("/ui/login", headers=foreign).status_code == 400


def test_x_forwarded_host_from_anyone_else_is_ignored(tmp_path: Path) -> None:
    with client(tmp_path, peer=STRANGER, trusted_proxies=PROXIES) as c:
        assert c.get("/ui/login", headers={"x-forwarded-host": "evil.example"}).status_code == 200
        r = login(c, "bob", BOB_PW, origin="http://evil.example", **{"x-forwarded-host": "evil.example"})
        assert r.status_code == 403


# --- Origin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["https://testserver", "http://testserver:8080", "http://testserver.evil.example", "null"]
)
def test_origin_is_compared_by_scheme_host_and_port(tmp_path: Path, origin: str) -> None:
    with client(tmp_path, peer=STRANGER) as c:
        r = login(c, "bob", BOB_PW, origin=origin)
        assert r.status_code == 403 and "set-cookie" not in r.headers


def test_the_sites_own_origin_in_any_spelling_and_a_same_site_referer_pass(tmp_path: Path) -> None:
    with client(tmp_path, peer=STRANGER) as c:
        assert login(c, "bob", BOB_PW, origin="http://TestServer:80").status_code == 303
        r = c.post(
            "/ui/login",
            data={"username": "bob", "password": BOB_PW},
            headers={"referer": "http://testserver/ui/login"},
            follow_redirects=False,
        )
        assert r.status_code == 303
        r = c.post(
            "/ui/login",
            data={"username": "bob", "password": BOB_PW},
            headers={"referer": "https://testserver/ui/login"},
            follow_redirects=False,
        )
        assert r.status_code == 403
