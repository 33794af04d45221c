"""KeyPool: rotation, cool-downs, exclusion and re-admission. Time is passed in, never slept."""

from __future__ import annotations

import logging

import pytest

from llmgw.relay.keypool import MAX_COOLDOWN, KeyPool, fingerprint

SECRET_A = "sk-test-AAAA-0123456789-first"
SECRET_B = "sk-test-BBBB-0123456789-second"


def test_round_robin() -> None:
    pool = KeyPool("p", ["a", "b", "c"])
    assert [pool.acquire(0.0) for _ in range(4)] == [(1, "a"), (2, "b"), (3, "c"), (1, "a")]


def test_exclude_skips_keys_already_tried() -> None:
    pool = KeyPool("p", ["a", "b"])
    assert pool.acquire(0.0, exclude=frozenset({1})) == (2, "b")
    assert pool.acquire(0.0, exclude=frozenset({1, 2})) is None


def test_retry_after_cools_the_key_and_soonest_reports_it() -> None:
    pool = KeyPool("p", ["a", "b"])
    assert pool.rate_limited(1, 7.0, now=100.0) == 7.0
    assert pool.acquire(101.0) == (2, "b")
    assert pool.acquire(101.0) == (2, "b")  # a is still cooling
    pool.rate_limited(2, 3.0, now=101.0)
    assert pool.acquire(102.0) is None
    assert pool.soonest(102.0) == pytest.approx(2.0)
    assert pool.acquire(104.0) == (2, "b")


def test_escalating_default_cooldown_resets_on_success() -> None:
    pool = KeyPool("p", ["a"])
    waits = [pool.rate_limited(1, None, now=0.0) for _ in range(9)]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == MAX_COOLDOWN
    pool.succeeded(1)
    assert pool.rate_limited(1, None, now=0.0) == 1.0


def test_rejected_key_is_out_until_its_secret_changes(caplog: pytest.LogCaptureFixture) -> None:
    pool = KeyPool("p", ["secret-a", "secret-b"])
    with caplog.at_level(logging.WARNING, "llmgw.keys"):
        pool.rejected(1, 401)
        pool.rejected(1, 401)
    assert len(caplog.records) == 1 and "secret-a" not in caplog.text  # logged once, by index
    assert {pool.acquire(0.0) for _ in range(3)} == {(2, "secret-b")}
    pool.refresh(["secret-a", "secret-b"])  # same secret: still out
    assert {pool.acquire(0.0) for _ in range(3)} == {(2, "secret-b")}
    pool.refresh(["secret-a2", "secret-b"])  # rotated secret: back in
    assert (1, "secret-a2") in {pool.acquire(0.0) for _ in range(3)}


def test_all_rejected_means_no_soonest() -> None:
    pool = KeyPool("p", ["a"])
    pool.rejected(1, 403)
    assert pool.acquire(0.0) is None and pool.soonest(0.0) is None


def test_refresh_keeps_state_of_unchanged_keys_and_handles_shrinking() -> None:
    pool = KeyPool("p", ["a", "b", "c"])
    pool.rate_limited(2, 50.0, now=0.0)
    pool.refresh(["b"])
    assert pool.acquire(10.0) is None  # b kept its cool-down
    pool.refresh([])
    assert pool.acquire(10.0) is None and pool.soonest(10.0) is None and len(pool) == 0


def test_fingerprint() -> None:
    fp = fingerprint(SECRET_A)
    assert len(fp) == 12
    assert int(fp, 16) >= 0
    assert fp == fingerprint(SECRET_A)
    assert fp != fingerprint(SECRET_B)
    assert fp not in SECRET_A
