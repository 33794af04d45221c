"""The usage use cases behind the TUI dashboard: activity per time bucket (its charts) and everyone's
newest requests (its live tail), over a real Store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmgw.errors import PermissionDenied
from llmgw.services import keys, usage, users
from llmgw.services.audit import Actor
from llmgw.storage import Store, UsageRow

pytestmark = pytest.mark.usefixtures("fast_hashes")

CLI = Actor.cli()
NOW = 1_800_000_030.0  # 30 s into a minute


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


def row(n: int, at: float, **kw: object) -> UsageRow:
    fields: dict[str, object] = {"status": 200, "total_tokens": 10, "cost_usd": 0.5, **kw}
    return UsageRow(request_id=f"req_{n}", created_at=at, endpoint="/v1/chat/completions", **fields)  # type: ignore[arg-type]


def test_activity_buckets_every_minute_zeros_included(store: Store) -> None:
    minute = NOW // 60 * 60
    store.insert_requests(
        [
            row(1, minute + 1),
            row(
                2,
                minute + 2,
                status=500,
                total_tokens=None,
                cost_usd=None,
                error_kind="upstream",
                error_type="upstream_error",
            ),
            row(
                5,
                minute + 3,
                status=429,
                total_tokens=None,
                cost_usd=None,
                error_kind="policy",
                error_type="budget_exceeded",
            ),
            row(3, minute - 60 * 2 + 5, total_tokens=7),
            row(4, minute - 60 * 3, total_tokens=100),  # just outside three buckets
        ]
    )
    got = usage.activity(store, CLI, buckets=3, width=60, now=NOW)
    assert [b.start for b in got] == [minute - 120, minute - 60, minute]
    assert [(b.requests, b.errors, b.errors_upstream, b.tokens, b.cost_usd) for b in got] == [
        (1, 0, 0, 7, 0.5),
        (0, 0, 0, 0, 0.0),
        (3, 2, 1, 10, 0.5),
    ]
    assert got[2].error_rate == pytest.approx(2 / 3)
    assert got[2].upstream_error_rate == pytest.approx(1 / 3)  # the refusal by a budget is not the upstream's
    assert got[1].error_rate == 0.0 and got[1].upstream_error_rate == 0.0


def test_live_tail_names_each_requests_user(store: Store) -> None:
    alice = users.create_user(store, CLI, "alice", "a long enough password")
    store.insert_requests(
        [
            row(1, NOW - 3, user_id=alice.id, model_requested="fast", provider="up", latency_ms=12.5),
            row(2, NOW - 1, model_requested="up/gpt", provider="up", status=429),
        ]
    )
    tail = usage.live_tail(store, CLI, limit=5)
    assert [(r.request_id, r.user, r.model, r.status) for r in tail] == [
        ("req_2", None, "up/gpt", 429),
        ("req_1", "alice", "fast", 200),
    ]
    assert tail[1].latency_ms == 12.5
    assert tail[1].tokens == 10
    assert len(usage.live_tail(store, CLI, limit=1)) == 1


def test_the_live_tail_shows_each_requests_key_and_error_code_never_a_token(store: Store) -> None:
    alice = users.create_user(store, CLI, "alice", "a long enough password")
    bob = users.create_user(store, CLI, "bob", "a long enough password")
    laptop = keys.create_key(store, CLI, "alice", "laptop")
    ci = keys.create_key(store, CLI, "bob", "ci")
    store.insert_requests(
        [
            row(1, NOW - 3, user_id=alice.id, api_key_id=laptop.key.id, status=429, error_kind="policy",
                error_type="gateway_rate_limit_exceeded"),
            row(2, NOW - 2, user_id=bob.id, api_key_id=ci.key.id),
            row(3, NOW - 1),  # the proxy key: no user, no key
        ]
    )  # fmt: skip
    users.delete_user(store, CLI, "bob")  # the key's name and public id outlive it
    tail = {r.request_id: r for r in usage.live_tail(store, CLI, limit=5)}
    first = tail["req_1"]
    assert (first.key, first.error_code, first.error_kind) == (
        f"laptop ({laptop.key.public_id})",
        "gateway_rate_limit_exceeded",
        "policy",
    )
    assert tail["req_2"].key == f"deleted key ci ({ci.key.public_id})"
    assert (tail["req_3"].key, tail["req_3"].error_code) == (None, None)
    assert all(laptop.token not in repr(r) and ci.token not in repr(r) for r in tail.values())


def test_only_administrators_see_everyones_activity(store: Store) -> None:
    bob = users.create_user(store, CLI, "bob", "a long enough password")
    as_bob = Actor.user(bob.id, bob.name)
    with pytest.raises(PermissionDenied):
        usage.live_tail(store, as_bob)
    with pytest.raises(PermissionDenied):
        usage.activity(store, as_bob, buckets=1, width=60)
