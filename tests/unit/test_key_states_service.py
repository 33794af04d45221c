"""Reading the published key states (services/key_states.py): admins only, freshness, matching a
keyring key to its row."""

from __future__ import annotations

import pytest

from llmgw.errors import PermissionDenied
from llmgw.services import key_states, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.unit.test_key_states_store import state

ADMIN = Actor("cli:admin")


def test_published_states_and_their_freshness(database: str) -> None:
    with Store.open(database) as store:
        none = key_states.published_states(store, ADMIN)
        assert none.updated_at is None and not none.live(1000.0) and none.age(1000.0) is None
        store.publish_key_states([state("oai", 1, updated_at=1000.0), state("ant", 1, updated_at=1000.0)])
        got = key_states.published_states(store, ADMIN)
    assert [r.provider for r in got.of("oai")] == ["oai"]
    assert got.age(1004.0) == 4.0 and got.live(1004.0)
    assert not got.live(1000.0 + key_states.STALE_AFTER + 1)


def test_only_administrators_read_them(database: str) -> None:
    with Store.open(database) as store:
        bob = users.create_user(store, ADMIN, "bob", "a long enough password")
        with pytest.raises(PermissionDenied):
            key_states.published_states(store, Actor.user(bob.id, "bob"))


def test_matching_by_slot_and_mask_then_by_a_unique_mask() -> None:
    rows = [
        state("oai", 1, mask="sk-…aaaa"),
        state("oai", 2, mask="sk-…bbbb"),
        state("oai", 3, mask="****"),
        state("oai", 4, mask="****"),
        state("ant", 1, mask="sk-…aaaa"),
    ]
    assert key_states.match(rows, "oai", 2, "sk-…bbbb") == rows[1]
    assert key_states.match(rows, "oai", 1, "sk-…bbbb") == rows[1]  # slots moved: the same key
    assert key_states.match(rows, "oai", 4, "****") == rows[3]  # slot and mask agree
    assert key_states.match(rows, "oai", 5, "****") is None  # two rows share it: no guess
    assert key_states.match(rows, "oai", 1, "sk-…cccc") is None  # the server never read this key
    assert key_states.match(rows, "ant", 2, "sk-…aaaa") == rows[4]  # never another provider's row
