"""The `upstream_key_states` table (m008): the gateway's published key states, replaced as a whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llmgw.storage import KeyStateRow, Store


def state(provider: str, slot: int, **changes: object) -> KeyStateRow:
    values: dict[str, object] = {
        "provider": provider,
        "slot": slot,
        "mask": "sk-…abcd",
        "state": "ok",
        "cooling_until": None,
        "cooling_models": (),
        "key_wide": False,
        "reason": None,
        "last_used_at": None,
        "last_error_at": None,
        "requests": 0,
        "failures": 0,
        "run": "run1",
        "updated_at": 1000.0,
    }
    values.update(changes)
    return KeyStateRow(**values)  # type: ignore[arg-type]


def test_m008_is_recorded(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.sqlite"):
        pass
    conn = sqlite3.connect(tmp_path / "db.sqlite")
    names = [n for (n,) in conn.execute("SELECT name FROM _sqlite_migrations")]
    conn.close()
    assert "m008_upstream_key_state" in names


def test_publish_round_trips_and_replaces_everything(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.sqlite") as store:
        assert store.key_states() == []
        cooling = state(
            "oai",
            2,
            state="cooling",
            cooling_until=1060.0,
            cooling_models=("gpt-4o", "gpt-4o-mini"),
            reason="429 rate_limit_exceeded",
            last_error_at=999.0,
            requests=3,
            failures=1,
        )
        rejected = state("ant", 1, state="rejected", reason="401 authentication_error", key_wide=False)
        store.publish_key_states([state("oai", 1), cooling, rejected])
        assert store.key_states() == [rejected, state("oai", 1), cooling]  # by provider, then slot

        # A refresh dropped a key and a provider: the next publication is the whole view.
        store.publish_key_states([state("oai", 1, updated_at=1002.0, key_wide=True, state="cooling")])
        assert store.key_states() == [state("oai", 1, updated_at=1002.0, key_wide=True, state="cooling")]


def test_a_state_outside_the_three_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.sqlite") as store, pytest.raises(sqlite3.IntegrityError):
        store.publish_key_states([state("oai", 1, state="asleep")])
    with Store.open(tmp_path / "db.sqlite") as store:
        assert store.key_states() == []  # the failed transaction left nothing behind
