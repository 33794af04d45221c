"""A login flood never delays a revocation or a page (issue 16, item 3), on the real `llmgw serve`.

240 bogus logins stay in flight, each from an address of its own (behind a trusted proxy: no throttle
sees an address twice), while a key is revoked through the service on the same database, as the CLI
does: the gateway refuses the key within about a second, and pages that hash nothing (/healthz, the
login form, a logged-in user's keys page) answer as fast. Before password hashing had its own bounded
pool, the logins queued in the default thread pool ahead of the key-index refresh: the review saw the
key usable for 4-5 s and pages take 12-37 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from llmgw.services import keys, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.conftest import UPSTREAM_KEY, provider
from tests.support.gateway_process import GatewayProcess

ADMIN_PW = "admin-password-123"
BOB_PW = "bob-password-12345"
CONCURRENCY = 240
# Seconds, for the revocation and for each page. The issue asks for 1 s; measured here 0.1-0.7 s on 2
# cores at a load of 7 (main: the key accepted 7-10 s, pages past 5 s); the margin is for busier CI.
BOUND = 1.5
ROOT = Path(__file__).resolve().parents[2]


def _timed_get(client: httpx.Client, path: str, expect: str) -> float:
    """Seconds `path` took to answer 200 with `expect` in it; infinity past the client's timeout."""
    started = time.monotonic()
    try:
        r = client.get(path)
    except httpx.TimeoutException:
        return float("inf")
    assert r.status_code == 200 and expect in r.text, (path, r.status_code)
    return time.monotonic() - started


def test_revocation_and_pages_are_not_delayed_by_a_login_flood(tmp_path: Path) -> None:
    db = tmp_path / "llmgw.db"
    with Store.open(db) as store:
        users.create_user(store, Actor.cli(), "alice", ADMIN_PW, role="admin")
        users.create_user(store, Actor.cli(), "bob", BOB_PW)
        token = keys.create_key(store, Actor.cli(), "bob", "ci").token
    config = 'trusted_proxies = ["127.0.0.1"]\n' + provider("up", "http://127.0.0.1:9/v1", 'models = ["m"]')
    env = {"LLMGW_AUTH_MODE": "users", "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, config, env) as gw, httpx.Client(base_url=gw.base_url, timeout=5) as web:
        key = {"authorization": f"Bearer {token}"}
        assert web.get("/v1/models", headers=key).status_code == 200
        logged_in = web.post(
            "/ui/login", data={"username": "bob", "password": BOB_PW}, headers={"origin": gw.base_url}
        )
        assert logged_in.status_code == 303 and "csrf_token" in web.get("/ui/keys").text

        command = [sys.executable, "-m", "tests.support.login_flood", str(gw.port), str(CONCURRENCY), "5"]
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as flood:
            try:
                assert flood.stdout is not None and flood.stdout.readline() == "flooding\n"
                time.sleep(1.0)  # every flooding login sent, the first ones answered
                # What each page must show: the keys page only to bob's session, still valid.
                pages = {"/healthz": "ok", "/ui/login": 'name="password"', "/ui/keys": "csrf_token"}
                took = {path: [_timed_get(web, path, expect)] for path, expect in pages.items()}

                with Store.open(db) as store:
                    keys.revoke_key(store, Actor.cli(), token)
                revoked_at = time.monotonic()
                while web.get("/v1/models", headers=key).status_code == 200:
                    assert time.monotonic() - revoked_at < 10, "the revoked key is still accepted"
                    time.sleep(0.02)
                revocation = time.monotonic() - revoked_at

                for path, expect in pages.items():  # once more, the flood still going
                    took[path].append(_timed_get(web, path, expect))
                assert flood.poll() is None, "the flood ended before the measurements did"
                slowest = {path: round(max(times), 2) for path, times in took.items()}
                said = f"revoked key accepted for {revocation:.2f} s; slowest pages {slowest}"
                assert revocation <= BOUND and max(slowest.values()) <= BOUND, said
                out, _ = flood.communicate(timeout=30)
            finally:
                flood.kill()
        counts = json.loads(out)
        # The flood did flood: every login answered, most refused at once (the pool full).
        assert set(counts) <= {"400", "429"} and counts["429"] > counts["400"] > 0, counts
