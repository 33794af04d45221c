"""Portal passwords: the policy, argon2id hashing, and verification that a login flood cannot turn into
a memory exhaustion or a user-name oracle.

- argon2id through argon2-cffi's `PasswordHasher` with its defaults (RFC 9106's low-memory profile:
  3 passes, 64 MiB, 4 lanes, 16-byte salt, 32-byte hash); the parameters travel inside each hash, so
  changing them later only needs `needs_rehash` at the next login.
- Each hash or verification takes ~64 MiB for tens of milliseconds: a module-wide semaphore lets only
  `MAX_CONCURRENT_HASHES` run at once, whatever the number of threads asking; the others wait.
- Verifying for a user name that does not exist checks the password against a dummy hash made with
  the same parameters (`verify_password(None, ...)`): the same function, the same cost, the same answer
  (False), so timing does not tell which names exist.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from llmgw.errors import InvalidAccountInput

__all__ = [
    "MAX_CONCURRENT_HASHES",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "check_policy",
    "hash_password",
    "needs_rehash",
    "verify_password",
    "verify_password_async",
]

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; this only keeps absurd inputs out of forms and logs
MAX_CONCURRENT_HASHES = 2

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


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` in a worker thread, for the portal's request handlers."""
    return await asyncio.to_thread(verify_password, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's (rehash it at login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
