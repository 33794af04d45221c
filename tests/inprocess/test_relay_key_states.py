"""The gateway publishes its upstream keys' states to the database (relay/key_states.py): after a 429
and a 401, after a key refresh, at shutdown; a key named by slot and mask, never by value."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from llmgw.relay.keypool import fingerprint
from llmgw.services.masking import mask_secret
from llmgw.storage import KeyStateRow, Store
from tests.inprocess.test_relay_inprocess import Keys, gateway, key_of, key_refused, openai_chat, rate_limited

pytestmark = pytest.mark.anyio

COOLING = "sk-cool-0123456789abcdefWXYZ"
REJECTED = "sk-bad-0123456789abcdef7777"
FINE = "sk-fine-0123456789abcdef4242"


def published(db: Path) -> list[KeyStateRow]:
    with Store.open(db) as store:
        return store.key_states()


def answer(request: httpx.Request) -> httpx.Response:
    key = key_of(request)
    if key == COOLING:
        return rate_limited(request, "30")  # a stated wait: the next key is tried at once
    if key == REJECTED:
        return key_refused(request)
    return openai_chat()


def secrets_in(db: Path, secrets: list[str]) -> list[str]:
    """Which of `secrets` (or their SHA-256, whole or the pool's fingerprint) the database files hold."""
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
    found = []
    for s in secrets:
        for form in (s, hashlib.sha256(s.encode()).hexdigest(), fingerprint(s)):
            if form.encode() in raw:
                found.append(form)
    return found


async def test_a_429_and_a_401_are_published_with_no_secret_in_the_database(tmp_path: Path) -> None:
    before = time.time()
    async with gateway(tmp_path, answer, keys={"oai": [COOLING, REJECTED, FINE]}) as gw:
        r = await gw.chat("oai/gpt-4o-mini")
        assert r.status_code == 200
        assert await gw.loops.key_states.publish()  # what the periodic task does every 2 s
        running = published(gw.db)
        assert secrets_in(gw.db, [COOLING, REJECTED, FINE]) == []  # the WAL included, while it exists
        assert not await gw.loops.key_states.publish()  # nothing changed: nothing written
    after = time.time()

    cooling, rejected, fine = running
    assert [(k.provider, k.slot, k.mask, k.state) for k in running] == [
        ("oai", 1, mask_secret(COOLING), "cooling"),
        ("oai", 2, mask_secret(REJECTED), "rejected"),
        ("oai", 3, mask_secret(FINE), "ok"),
    ]
    assert cooling.mask == "sk-…WXYZ"
    assert cooling.cooling_models == ("gpt-4o-mini",) and not cooling.key_wide
    assert cooling.cooling_until is not None and before + 29 <= cooling.cooling_until <= after + 31
    assert cooling.reason == "429 rate_limit_exceeded" and rejected.reason == "401 invalid_api_key"
    assert rejected.cooling_until is None and fine.reason is None and fine.last_error_at is None
    assert [(k.requests, k.failures) for k in running] == [(1, 1), (1, 1), (1, 0)]
    for k in running:
        assert k.last_used_at is not None and before <= k.last_used_at <= after
        assert before <= k.updated_at <= after
    assert len({k.run for k in running}) == 1

    final = published(gw.db)  # the last write at shutdown: the same states, stamped later
    assert [(k.slot, k.state, k.reason) for k in final] == [(k.slot, k.state, k.reason) for k in running]
    assert final[0].updated_at >= running[0].updated_at
    assert secrets_in(gw.db, [COOLING, REJECTED, FINE]) == []


async def test_a_key_refresh_changes_the_published_slots(tmp_path: Path) -> None:
    source = {"oai": [COOLING, FINE], "ant": ["sk-ant-0123456789abcdef1111"]}
    async with gateway(tmp_path, answer, source=Keys(source)) as gw:
        await gw.chat("oai/gpt-4o-mini")
        await gw.loops.key_states.publish()
        assert [(k.provider, k.slot, k.state) for k in published(gw.db)] == [
            ("ant", 1, "ok"),
            ("oai", 1, "cooling"),
            ("oai", 2, "ok"),
        ]
        source["oai"] = [FINE, COOLING]  # reordered in the keyring: the cooling key keeps its state
        del source["ant"]
        await gw.loops.refresh_keys()
        assert await gw.loops.key_states.publish()
        assert [(k.provider, k.slot, k.mask, k.state) for k in published(gw.db)] == [
            ("oai", 1, mask_secret(FINE), "ok"),
            ("oai", 2, mask_secret(COOLING), "cooling"),
        ]
