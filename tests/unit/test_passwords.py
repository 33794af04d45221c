"""Portal passwords: the policy, argon2id, the bound on concurrent hashes, the unknown-user path, and
the password pool (its own threads, a bounded queue, an early refusal)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable

import pytest

from llmgw.errors import InvalidAccountInput, PasswordChecksBusy
from llmgw.services import passwords

GOOD = "correct horse battery"


class SpyHasher:
    """Wraps the module's PasswordHasher (its attributes are read-only), recording or replacing verify."""

    def __init__(self, verify: Callable[[str, str], bool] | None = None) -> None:
        self.real = passwords._hasher
        self.calls: list[str] = []
        self._verify = verify or self.real.verify

    def verify(self, hash_: str, password: str) -> bool:
        self.calls.append(hash_)
        return self._verify(hash_, password)

    def hash(self, password: str) -> str:
        return self.real.hash(password)


def test_hash_is_argon2id_with_a_salt_and_verifies() -> None:
    first, second = passwords.hash_password(GOOD), passwords.hash_password(GOOD)
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert GOOD not in first
    assert passwords.verify_password(first, GOOD)
    assert not passwords.verify_password(first, GOOD + "!")
    assert not passwords.verify_password("not a hash", GOOD)
    assert not passwords.needs_rehash(first)
    assert passwords.needs_rehash("not a hash")


def test_unknown_user_verifies_against_the_dummy_hash_with_the_same_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No timing assertion: the unknown-user path must do the same call a wrong password does."""
    spy = SpyHasher()
    calls = spy.calls
    monkeypatch.setattr(passwords, "_hasher", spy)
    stored = passwords.hash_password(GOOD)
    assert not passwords.verify_password(stored, "a wrong password")
    assert not passwords.verify_password(None, "a wrong password")
    assert not passwords.verify_password(None, GOOD)
    assert len(calls) == 3 and calls[0] == stored
    dummy = calls[1]
    assert calls[2] == dummy and dummy != stored
    # Same algorithm and parameters: the same cost.
    assert dummy.split("$")[1:4] == stored.split("$")[1:4]


def test_dummy_hash_never_lets_anyone_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a password that matched the dummy hash (it cannot be known) gives False for no user."""
    monkeypatch.setattr(passwords, "_hasher", SpyHasher(lambda h, p: True))
    assert not passwords.verify_password(None, GOOD)


@pytest.mark.parametrize(
    ("password", "ok"),
    [("", False), ("x" * 11, False), ("x" * 12, True), ("é" * 12, True), ("x" * 1025, False)],
)
def test_policy(password: str, ok: bool) -> None:
    if ok:
        passwords.check_policy(password)
    else:
        with pytest.raises(InvalidAccountInput, match="password is too"):
            passwords.check_policy(password)


def test_at_most_two_hashes_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of logins queues on the semaphore instead of each taking its 64 MiB."""
    running = 0
    peak = 0
    lock = threading.Lock()

    def slow_verify(hash_: str, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return False

    stored = passwords.hash_password(GOOD)
    passwords._dummy_hash()  # made before the spy goes in
    monkeypatch.setattr(passwords, "_hasher", SpyHasher(slow_verify))
    threads = [threading.Thread(target=passwords.verify_password, args=(stored, "x")) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == passwords.MAX_CONCURRENT_HASHES == 2


def test_the_pool_verifies() -> None:
    stored = passwords.hash_password(GOOD)
    assert asyncio.run(passwords.POOL.run(passwords.verify_password, stored, GOOD))
    assert not asyncio.run(passwords.POOL.run(passwords.verify_password, None, GOOD))


def test_a_full_pool_refuses_at_once_and_never_holds_the_default_executor() -> None:
    """Two running, three waiting: the sixth is refused without waiting; meanwhile the loop's default
    executor (the key index, limits, sessions) answers at once; a job cancelled while queued leaves
    the queue. The pool's threads run at a lower CPU priority (Linux), so pages win a busy CPU."""
    pool = passwords.HashingPool(threads=2, waiting=3)
    release = threading.Event()
    ran_on: list[tuple[str, int]] = []

    def job() -> str:
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) if sys.platform == "linux" else 0
        ran_on.append((threading.current_thread().name, nice))
        release.wait(10)
        return "done"

    async def scenario() -> list[str]:
        jobs = [asyncio.create_task(pool.run(job)) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert pool.admitted == 5
        started = time.monotonic()
        with pytest.raises(PasswordChecksBusy):
            await pool.run(job)
        assert await asyncio.to_thread(lambda: "free") == "free"  # not behind the pool
        assert time.monotonic() - started < 1.0
        jobs[-1].cancel()  # queued, never started
        await asyncio.sleep(0.05)
        assert pool.admitted == 4
        jobs.append(asyncio.create_task(pool.run(job)))
        await asyncio.sleep(0.05)
        release.set()
        return [r for r in await asyncio.gather(*jobs, return_exceptions=True) if isinstance(r, str)]

    assert asyncio.run(scenario()) == ["done"] * 5
    assert pool.admitted == 0
    assert all(name.startswith("llmgw-passwords") for name, _ in ran_on)
    if sys.platform == "linux":
        assert all(nice >= 10 for _, nice in ran_on), ran_on
