"""Personal API tokens: shape, uniqueness, parsing of hostile input, constant-time matching."""

from __future__ import annotations

import pytest

from llmgw.services.tokens import PREFIX, hash_secret, mint, parse, secret_matches


def test_a_minted_token_parses_back_and_matches_only_its_hash() -> None:
    minted = mint()
    assert minted.token.startswith(PREFIX)
    assert minted.token.isascii() and minted.token.isprintable() and " " not in minted.token
    parsed = parse(minted.token)
    assert parsed is not None
    assert parsed.public_id == minted.public_id
    assert secret_matches(parsed, minted.secret_hash)
    assert not secret_matches(parsed, mint().secret_hash)
    assert parsed.secret not in minted.secret_hash  # the stored form gives nothing away


def test_tokens_are_unique_and_carry_256_random_bits() -> None:
    tokens = {mint().token for _ in range(1000)}
    assert len(tokens) == 1000
    secret = parse(next(iter(tokens)))
    assert secret is not None and len(secret.secret) == 43  # base64 of 32 bytes


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "llmgw-",
        "sk-proj-abc",
        "llmgw-0123456789abcdef-short",
        "llmgw-0123456789ABCDEF-" + "a" * 43,  # upper-case id
        "llmgw-0123456789abcdef-" + "a" * 44,
        "llmgw-0123456789abcdef-" + "a" * 42 + "=",
        "' OR 1=1 --",
        "llmgw-0123456789abcdef-" + "a" * 42 + "\n",
        " llmgw-0123456789abcdef-" + "a" * 43,
    ],
)
def test_anything_else_is_not_a_token(presented: str) -> None:
    assert parse(presented) is None


def test_hash_is_hex_sha256() -> None:
    assert hash_secret("x") == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
