"""`[server] auth_mode` by every kind of credential, in both headers a client may send it in; personal
keys found in memory (no query per request), revoked or disabled from ANOTHER process and refused
within a few polls; the ledger row of a request carries who made it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmgw.services.tokens import hash_secret
from llmgw.storage import Store
from tests.conftest import UPSTREAM_KEY, ledger_row, provider
from tests.inprocess.test_relay_inprocess import PROXY_KEY, USER, anthropic_message, gateway, openai_chat
from tests.support.accounts_rows import Key, add_key, add_user, create_schema, execute, last_used
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

ACCEPTED = {"legacy": {"legacy"}, "users": {"personal"}, "both": {"personal", "legacy"}}
CREDENTIALS = (
    "personal",
    "legacy",
    "revoked",
    "expired",
    "disabled user",
    "deleted user",
    "malformed",
    "sql garbage",
    "wrong secret",
)


def answer(request: httpx.Request) -> httpx.Response:
    return anthropic_message() if request.url.host == "ant.test" else openai_chat()


def prepare(db: Path) -> tuple[dict[str, str], Key]:
    """A database holding a key of every state, written as another process would; the presented
    value for each credential, and the good key."""
    create_schema(db)
    now = time.time()
    ada = add_user(db, "ada")
    off = add_user(db, "off", disabled=True)
    gone = add_user(db, "gone")
    good = add_key(db, ada)
    revoked = add_key(db, ada, revoked_at=now - 5)
    expired = add_key(db, ada, expires_at=now - 5)
    disabled = add_key(db, off)
    deleted = add_key(db, gone)
    execute(db, "DELETE FROM users WHERE id = ?", (gone,))
    secret = good.secret
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    values = {
        "personal": good.token,
        "legacy": PROXY_KEY,
        "revoked": revoked.token,
        "expired": expired.token,
        "disabled user": disabled.token,
        "deleted user": deleted.token,
        "malformed": good.token[:-3],
        "sql garbage": "' OR '1'='1'; DROP TABLE api_keys; --",
        "wrong secret": f"llmgw-{good.public_id}-{wrong}",
    }
    return values, good


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "users", "both"])
async def test_every_mode_and_credential_in_both_headers(tmp_path: Path, mode: str) -> None:
    values, good = prepare(tmp_path / "llmgw.db")
    got: dict[tuple[str, str], int] = {}
    accepted_ids: dict[str, str] = {}
    async with gateway(tmp_path, answer, server={"auth_mode": mode}) as gw:
        for cred, value in values.items():
            r = await gw.client.post(
                "/v1/chat/completions",
                json={"model": "oai/gpt-4o-mini", "messages": USER},
                headers={"authorization": f"Bearer {value}"},
            )
            got[cred, "authorization"] = r.status_code
            if r.status_code == 401:
                assert r.json()["error"]["code"] == "invalid_api_key"
                assert r.json()["error"]["message"] == "Incorrect API key provided."  # no oracle
            else:
                accepted_ids[r.headers["x-request-id"]] = cred
            r = await gw.client.post(
                "/v1/messages",
                json={"model": "claude", "max_tokens": 16, "messages": USER},
                headers={"x-api-key": value, "anthropic-version": "2023-06-01"},
            )
            got[cred, "x-api-key"] = r.status_code
            if r.status_code == 401:
                assert r.json()["error"] == {
                    "type": "authentication_error",
                    "message": "Incorrect API key provided.",
                }
            else:
                accepted_ids[r.headers["x-request-id"]] = cred
            models = await gw.client.get("/v1/models", headers={"x-api-key": value})
            assert models.status_code == (200 if cred in ACCEPTED[mode] else 401)
        missing = await gw.client.post(
            "/v1/chat/completions", json={"model": "oai/gpt-4o-mini", "messages": USER}
        )
        refused = gw.runtime.auth_failures.total
    assert missing.status_code == 401
    expected = {
        (cred, header): 200 if cred in ACCEPTED[mode] else 401
        for cred in CREDENTIALS
        for header in ("authorization", "x-api-key")
    }
    assert got == expected
    assert refused == 3 * (len(CREDENTIALS) - len(ACCEPTED[mode])) + 1
    # Refused requests leave no row; accepted ones carry their principal.
    rows = gw.rows()
    assert set(rows) == set(accepted_ids)
    for request_id, cred in accepted_ids.items():
        ids = (rows[request_id]["user_id"], rows[request_id]["api_key_id"])
        assert ids == ((good.user_id, good.key_id) if cred == "personal" else (None, None))
    if "personal" in ACCEPTED[mode]:
        assert last_used(gw.db, good.key_id) is not None  # flushed at shutdown
    with Store.open(gw.db) as store:
        assert len(store.api_key_records()) == 4  # the garbage went nowhere near SQL


@pytest.mark.anyio
async def test_no_query_per_request_in_steady_state(tmp_path: Path) -> None:
    values, _ = prepare(tmp_path / "llmgw.db")
    headers = {"authorization": f"Bearer {values['personal']}"}
    body = {"model": "oai/gpt-4o-mini", "messages": USER}
    async with gateway(tmp_path, answer, server={"auth_mode": "users"}) as gw:
        store = gw.runtime.store
        loads: list[int] = []
        real = store.api_key_records

        def spy() -> Any:
            loads.append(1)
            return real()

        store.api_key_records = spy  # type: ignore[method-assign]
        statements: list[str] = []
        store._db.conn.set_trace_callback(statements.append)
        for _ in range(100):
            r = await gw.client.post("/v1/chat/completions", json=body, headers=headers)
            assert r.status_code == 200
        store._db.conn.set_trace_callback(None)
    assert loads == []
    about_keys = [s for s in statements if "api_keys" in s or "users" in s]
    # At most one batched last-used write may fall in the window; never a read of the keys.
    assert not [s for s in about_keys if not s.lstrip().upper().startswith("UPDATE")]
    assert len(about_keys) <= 1, about_keys
    assert len(gw.rows()) == 100


# -- another process changes the database under a running `llmgw serve` ---------------------------

_CHANGE = """
import sqlite3, sys, time
from contextlib import closing
with closing(sqlite3.connect(sys.argv[1])) as conn, conn:
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(sys.argv[2], tuple(float(a) if "." in a else int(a) for a in sys.argv[3:]))
"""


def change_from_another_process(db: Path, sql: str, *params: object) -> None:
    subprocess.run([sys.executable, "-c", _CHANGE, str(db), sql, *map(str, params)], check=True, timeout=30)


def polls_until_refused(url: str, token: str, polls: int = 20) -> int:
    """How many requests, 100 ms apart, until the gateway answers 401 (AssertionError if none does)."""
    for n in range(1, polls + 1):
        r = httpx.get(f"{url}/v1/models", headers={"authorization": f"Bearer {token}"}, timeout=10)
        if r.status_code == 401:
            return n
        assert r.status_code == 200, r.text
        time.sleep(0.1)
    raise AssertionError(f"still accepted after {polls} polls of 100 ms")


def test_changes_by_another_process_take_effect_at_once(fake: FakeOpenAI, tmp_path: Path) -> None:
    db = tmp_path / "llmgw.db"
    create_schema(db)
    ada, bob, eve = add_user(db, "ada"), add_user(db, "bob"), add_user(db, "eve")
    to_revoke, to_disable, to_delete = add_key(db, ada), add_key(db, bob), add_key(db, eve)
    later = add_key(db, ada, name="later")  # created while serving
    execute(db, "DELETE FROM api_keys WHERE id = ?", (later.key_id,))
    env = {"LLMGW_AUTH_MODE": "users", "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, provider("up", fake.base_url, 'models = ["m"]'), env) as gw:
        r = httpx.post(
            f"{gw.base_url}/v1/chat/completions",
            json={"model": "up/m", "messages": USER},
            headers={"x-api-key": to_revoke.token},
        )
        assert r.status_code == 200
        row = ledger_row(db, r.headers["x-request-id"])
        assert (row["user_id"], row["api_key_id"]) == (ada, to_revoke.key_id)

        change_from_another_process(
            db, "UPDATE api_keys SET revoked_at = ? WHERE id = ?", time.time(), to_revoke.key_id
        )
        assert polls_until_refused(gw.base_url, to_revoke.token) <= 20
        change_from_another_process(db, "UPDATE users SET disabled = 1 WHERE id = ?", bob)
        assert polls_until_refused(gw.base_url, to_disable.token) <= 20
        change_from_another_process(db, "DELETE FROM users WHERE id = ?", eve)
        assert polls_until_refused(gw.base_url, to_delete.token) <= 20
        # A key created by the CLI while the gateway runs is accepted as soon.
        change_from_another_process(
            db,
            "INSERT INTO api_keys (id, public_id, user_id, name, secret_hash, created_at) "
            f"VALUES (?, '{later.public_id}', ?, 'later', "
            f"'{hash_secret(later.secret)}', ?)",
            later.key_id,
            ada,
            time.time(),
        )
        for _ in range(20):
            ok = httpx.get(f"{gw.base_url}/v1/models", headers={"authorization": f"Bearer {later.token}"})
            if ok.status_code == 200:
                break
            time.sleep(0.1)
        assert ok.status_code == 200
    assert last_used(db, to_revoke.key_id) is not None
