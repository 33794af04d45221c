"""Portal passwords: the policy, argon2id, the bound on concurrent hashes, the unknown-user path."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from llmgw.errors import InvalidAccountInput
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

    async def flood() -> list[bool]:
        return await asyncio.gather(*(passwords.verify_password_async(stored, "x") for _ in range(12)))

    assert asyncio.run(flood()) == [False] * 12
    assert peak == passwords.MAX_CONCURRENT_HASHES == 2


def test_async_verify_matches() -> None:
    stored = passwords.hash_password(GOOD)
    assert asyncio.run(passwords.verify_password_async(stored, GOOD))
