"""How a secret is shown: the one masking rule of the CLI, the TUI and the gateway's published key
states (a pure function, so the relay may use it without loading the keyring)."""

from __future__ import annotations

__all__ = ["mask_secret"]


def mask_secret(value: str) -> str:
    """A display form: at most the first 3 and last 4 characters (``sk-…3f9a``); ``****`` if short."""
    if len(value) < 12:
        return "****"
    return f"{value[:3]}…{value[-4:]}"
