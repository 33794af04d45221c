"""KeyPool: rotation, cool-downs, exclusion and re-admission. Time is passed in, never slept."""

from __future__ import annotations

import logging

import pytest

from llmgw.relay.keypool import MAX_COOLDOWN, Key, KeyPool, fingerprint

SECRET_A = "sk-test-AAAA-0123456789-first"
SECRET_B = "sk-test-BBBB-0123456789-second"
M = "gpt-4o-mini"


def got(key: Key | None) -> tuple[int, str] | None:
    return None if key is None else (key.number, key.secret)


def take(pool: KeyPool, now: float, model: str = M) -> Key:
    key = pool.acquire(model, now)
    assert key is not None
    return key


def test_round_robin() -> None:
    pool = KeyPool("p", ["a", "b", "c"])
    assert [got(pool.acquire(M, 0.0)) for _ in range(4)] == [(1, "a"), (2, "b"), (3, "c"), (1, "a")]


def test_exclude_skips_keys_already_tried() -> None:
    pool = KeyPool("p", ["a", "b"])
    first = take(pool, 0.0)
    second = pool.acquire(M, 0.0, exclude={first})
    assert got(second) == (2, "b")
    assert second is not None and pool.acquire(M, 0.0, exclude={first, second}) is None


def test_stated_wait_cools_the_key_and_is_reported() -> None:
    pool = KeyPool("p", ["a", "b"])
    a = take(pool, 100.0)
    assert pool.rate_limited(a, M, 7.0, now=100.0) == 7.0
    assert got(pool.acquire(M, 101.0)) == (2, "b")
    b = take(pool, 101.0)  # a is still cooling
    assert b.number == 2
    assert pool.waits(M, 101.0) == [pytest.approx(6.0), None]  # b is free: the gateway must not answer
    pool.rate_limited(b, M, 3.0, now=101.0)
    assert pool.acquire(M, 102.0) is None  # every key waits as the upstream said
    assert pool.waits(M, 102.0) == [pytest.approx(5.0), pytest.approx(2.0)]
    assert got(pool.acquire(M, 104.0)) == (2, "b")


def test_cool_down_is_per_model_unless_key_wide() -> None:
    """A 429 cools (key, model); an error that says the whole key is out cools every model."""
    pool = KeyPool("p", ["a"])
    a = take(pool, 0.0, "gpt-4o")
    pool.rate_limited(a, "gpt-4o", 3600.0, now=0.0)
    assert pool.acquire("gpt-4o", 1.0) is None
    assert got(pool.acquire("gpt-4o-mini", 1.0)) == (1, "a")
    pool.rate_limited(a, "gpt-4o-mini", 30.0, key_wide=True, now=1.0)
    assert pool.acquire("o3", 2.0) is None
    assert pool.waits("o3", 2.0) == [pytest.approx(29.0)]
    assert pool.waits("gpt-4o", 2.0) == [pytest.approx(3598.0)]  # the longer of the two


def test_guessed_cool_down_only_orders_the_keys() -> None:
    """Without an upstream-stated wait a cooling key is still handed out: free keys first, then the
    cooling ones by which frees first. The gateway never answers 429 on its own guess."""
    pool = KeyPool("p", ["a", "b", "c"])
    a, b, c = (take(pool, 0.0) for _ in range(3))
    pool.rate_limited(a, M, None, now=0.0)  # 1 s
    pool.rate_limited(a, M, None, now=0.0)  # 2 s
    pool.rate_limited(b, M, None, now=0.0)  # 1 s
    assert {got(pool.acquire(M, 0.5)) for _ in range(3)} == {(3, "c")}
    pool.rate_limited(c, M, 60.0, now=0.5)  # c: stated, never handed out while it runs
    assert got(pool.acquire(M, 0.5)) == (2, "b")  # frees at 1.0, before a (2.0)
    assert got(pool.acquire(M, 0.5, exclude={b})) == (1, "a")
    assert pool.acquire(M, 0.5, exclude={a, b}) is None
    assert pool.waits(M, 0.5) == [None, None, pytest.approx(60.0)]


def test_escalating_default_cooldown_resets_on_success() -> None:
    pool = KeyPool("p", ["a"])
    a = take(pool, 0.0)
    waits = [pool.rate_limited(a, M, None, now=0.0) for _ in range(9)]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert waits[-1] == MAX_COOLDOWN
    pool.succeeded(a, M)
    assert pool.rate_limited(a, M, None, now=0.0) == 1.0


def test_a_zero_wait_is_a_stated_wait() -> None:
    pool = KeyPool("p", ["a"])
    a = take(pool, 0.0)
    pool.rate_limited(a, M, None, now=0.0)
    assert pool.rate_limited(a, M, 0.0, now=0.0) == 0.0
    assert pool.rate_limited(a, M, None, now=0.0) == 2.0  # the escalation went on: 0 was no success


def test_rejected_key_is_out_until_its_secret_changes(caplog: pytest.LogCaptureFixture) -> None:
    pool = KeyPool("p", ["secret-a", "secret-b"])
    a = take(pool, 0.0)
    with caplog.at_level(logging.WARNING, "llmgw.keys"):
        pool.rejected(a, 401)
        pool.rejected(a, 401)
    assert len(caplog.records) == 1 and "secret-a" not in caplog.text  # logged once, by number
    assert {got(pool.acquire(M, 0.0)) for _ in range(3)} == {(2, "secret-b")}
    pool.refresh(["secret-a", "secret-b"])  # same secret: still out
    assert {got(pool.acquire(M, 0.0)) for _ in range(3)} == {(2, "secret-b")}
    pool.refresh(["secret-a2", "secret-b"])  # rotated secret: back in
    assert (1, "secret-a2") in {got(pool.acquire(M, 0.0)) for _ in range(3)}


def test_all_rejected_means_no_waits() -> None:
    pool = KeyPool("p", ["a"])
    pool.rejected(take(pool, 0.0), 401)
    assert pool.acquire(M, 0.0) is None and pool.waits(M, 0.0) == []


def test_refresh_keeps_state_of_unchanged_keys_and_handles_shrinking() -> None:
    pool = KeyPool("p", ["a", "b", "c"])
    take(pool, 0.0)
    b = take(pool, 0.0)
    pool.rate_limited(b, M, 50.0, now=0.0)
    pool.refresh(["b"])
    assert pool.acquire(M, 10.0) is None  # b kept its cool-down
    assert b.number == 1  # and took its new place
    pool.refresh([])
    assert pool.acquire(M, 10.0) is None and pool.waits(M, 10.0) == [] and len(pool) == 0


def test_the_key_is_held_not_its_position() -> None:
    """A refresh while a request holds a key: reporting on it neither raises nor touches another key."""
    pool = KeyPool("p", ["a", "b", "c"])
    take(pool, 0.0)
    take(pool, 0.0)
    c = take(pool, 0.0)
    pool.refresh(["a"])
    pool.succeeded(c, M)
    pool.rate_limited(c, M, 30.0, now=0.0)
    pool.rejected(c, 401)
    assert got(pool.acquire(M, 0.0)) == (1, "a")


def test_keys_unfit_for_a_header_are_left_out(caplog: pytest.LogCaptureFixture) -> None:
    """A header value must be visible ASCII: a key with a CR, a space or an accent would fail every
    request it lands on. It is left out with one log line naming its number, never the key."""
    bad = ["sk-first\r", "sk-sécond", "sk- third", "sk-fourth\n"]
    with caplog.at_level(logging.WARNING, "llmgw.keys"):
        pool = KeyPool("p", [*bad, "sk-fifth"])
        pool.refresh([*bad, "sk-fifth"])  # a refresh does not log them again
    assert len(pool) == 1 and got(pool.acquire(M, 0.0)) == (5, "sk-fifth")  # keeps its number
    assert len(caplog.records) == 4
    assert [r.getMessage()[:15] for r in caplog.records] == [f"provider p key #{i}"[:15] for i in range(1, 5)]
    assert "#1" in caplog.records[0].getMessage() and "#4" in caplog.records[3].getMessage()
    for secret in bad:
        assert secret.strip() not in caplog.text and "sécond" not in caplog.text


def test_fingerprint() -> None:
    fp = fingerprint(SECRET_A)
    assert len(fp) == 12
    assert int(fp, 16) >= 0
    assert fp == fingerprint(SECRET_A)
    assert fp != fingerprint(SECRET_B)
    assert fp not in SECRET_A
