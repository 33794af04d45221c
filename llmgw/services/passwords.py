"""Portal passwords: the policy, argon2id hashing, and verification that a login flood cannot turn into
a memory exhaustion or a user-name oracle.

- argon2id through argon2-cffi's `PasswordHasher` with its defaults (RFC 9106's low-memory profile:
  3 passes, 64 MiB, 4 lanes, 16-byte salt, 32-byte hash); the parameters travel inside each hash, so
  changing them later only needs `needs_rehash` at the next login.
- Each hash or verification takes ~64 MiB and a core for 50-200 ms: a module-wide semaphore lets only
  `MAX_CONCURRENT_HASHES` run at once, whatever the number of threads asking; the others wait.
- The server runs its password work in `POOL`, a `HashingPool`: threads of its own, never the event
  loop's default executor (the key-index refresh, limits, session checks and page queries run there,
  and must never wait behind a login flood), at a lower CPU priority than the event loop (Linux), and
  a bounded queue: past `MAX_WAITING_HASHES` waiting jobs, the next is refused at once
  (`PasswordChecksBusy`), before anything about the account is read.
- Verifying for a user name that does not exist checks the password against a dummy hash made with
  the same parameters (`verify_password(None, ...)`): the same function, the same cost, the same answer
  (False), so timing does not tell which names exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from llmgw.errors import InvalidAccountInput, PasswordChecksBusy

__all__ = [
    "MAX_CONCURRENT_HASHES",
    "MAX_LENGTH",
    "MAX_WAITING_HASHES",
    "MIN_LENGTH",
    "POOL",
    "HashingPool",
    "check_policy",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; this only keeps absurd inputs out of forms and logs
MAX_CONCURRENT_HASHES = 2
# Beyond the running ones: a login waits for at most about 4 hashes per thread (under a second) or is
# refused at once; a longer queue would only make every login of a flood slower.
MAX_WAITING_HASHES = 8
_NICENESS = 10  # of the pool's threads: a page or the key index wins a busy CPU over a login

_P = ParamSpec("_P")
_T = TypeVar("_T")

_hasher = PasswordHasher()
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)


def check_policy(password: str) -> None:
    """Raise InvalidAccountInput unless `password` may be set: 12 to 1024 characters (code points)."""
    if len(password) < MIN_LENGTH:
        raise InvalidAccountInput(f"the password is too short: at least {MIN_LENGTH} characters are needed")
    if len(password) > MAX_LENGTH:
        raise InvalidAccountInput(f"the password is too long: at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string: parameters, salt and hash) to store; blocks for tens of ms."""
    with _slots:
        return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password with the current parameters, made once per process."""
    return hash_password(secrets.token_urlsafe(32))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`. None (no such user, or no password set) verifies
    against the dummy hash instead and returns False: the same work as a wrong password. Blocks: call
    it off the event loop (`verify_password_async`)."""
    target = _dummy_hash() if password_hash is None else password_hash
    with _slots:
        try:
            matched: bool = _hasher.verify(target, password)
        except (VerificationError, InvalidHashError):
            matched = False
    return matched and password_hash is not None


class HashingPool:
    """Runs password work (a use case that hashes or verifies) on `threads` threads of its own, with at
    most `waiting` more jobs queued; one more is refused at once with `PasswordChecksBusy`."""

    def __init__(self, threads: int = MAX_CONCURRENT_HASHES, waiting: int = MAX_WAITING_HASHES) -> None:
        self._executor = ThreadPoolExecutor(
            threads, thread_name_prefix="llmgw-passwords", initializer=_lower_priority
        )
        self._capacity = threads + waiting
        self._admitted = 0  # running or queued; released when the job ends, not when its caller leaves
        self._lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """Jobs running or queued now."""
        return self._admitted

    async def run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """`fn(*args, **kwargs)` in the pool; PasswordChecksBusy at once when it is full. A caller
        cancelled while waiting takes its job out of the queue; a running job still counts."""
        with self._lock:
            if self._admitted >= self._capacity:
                raise PasswordChecksBusy("too many password checks at once; try again in a few seconds")
            self._admitted += 1
        try:
            job = self._executor.submit(fn, *args, **kwargs)
        except BaseException:
            self._release()
            raise
        job.add_done_callback(self._release)
        return await asyncio.wrap_future(job)

    def _release(self, _job: object = None) -> None:
        with self._lock:
            self._admitted -= 1


def _lower_priority() -> None:
    """In each pool thread: on Linux a thread has a nice value of its own (elsewhere it would be the
    whole process's, so nothing is changed)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICENESS)


POOL = HashingPool()


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's (rehash it at login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
