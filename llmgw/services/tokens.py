"""Personal API tokens: their format, minting, reading, and the hash that is all the database keeps.

    llmgw-<public id: 16 hex digits>-<secret: 43 URL-safe base64 characters, 256 random bits>

The prefix makes a leaked token recognisable (secret scanners, logs); the public id finds the key's row
without revealing anything; only the SHA-256 of the secret is stored, and compared in constant time.
SHA-256 rather than a slow password hash: the secret is 256 random bits, so a stolen hash cannot be
guessed back, and checking it costs ~1 µs on the request path. Every character is visible ASCII, so a
token travels in `Authorization: Bearer …` and in `x-api-key` alike. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["PREFIX", "MintedToken", "ParsedToken", "hash_secret", "mint", "parse", "secret_matches"]

PREFIX = "llmgw-"
_TOKEN = re.compile(r"llmgw-(?P<public_id>[0-9a-f]{16})-(?P<secret>[A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A new token: `token` is shown once to its owner; `public_id` and `secret_hash` are stored."""

    token: str
    public_id: str
    secret_hash: str


@dataclass(frozen=True, slots=True)
class ParsedToken:
    public_id: str
    secret: str


def hash_secret(secret: str) -> str:
    """The stored form of a token's secret part: hex SHA-256."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def mint() -> MintedToken:
    """A fresh token from the OS's CSPRNG."""
    public_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)  # 32 bytes → 43 characters, no padding
    return MintedToken(f"{PREFIX}{public_id}-{secret}", public_id, hash_secret(secret))


def parse(presented: str) -> ParsedToken | None:
    """The parts of a presented token, or None if it does not have the shape of one (then it is not a
    personal key: in `both` mode it may still be the legacy proxy key)."""
    match = _TOKEN.fullmatch(presented)
    if match is None:
        return None
    return ParsedToken(match["public_id"], match["secret"])


def secret_matches(parsed: ParsedToken, secret_hash: str) -> bool:
    """Whether the presented secret is the one whose hash is stored (constant time)."""
    return hmac.compare_digest(hash_secret(parsed.secret), secret_hash)
