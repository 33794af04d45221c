"""What a limit or a model-access rule is set on: a user, by name, or one of their keys, by its public id
(16 hex digits, as key listings show it). One lookup, shared by the use cases that take either."""

from __future__ import annotations

import re
from typing import Final

from llmgw.errors import AccountNotFound
from llmgw.storage import Accounts, KeyRow, UserRow

__all__ = ["PUBLIC_ID", "subject_row"]

PUBLIC_ID: Final = re.compile(r"[0-9a-f]{16}")  # a key's public id


def subject_row(accounts: Accounts, ref: str) -> UserRow | KeyRow:
    """The key whose public id `ref` is, else the user of that name; AccountNotFound for neither."""
    ref = ref.strip()
    if PUBLIC_ID.fullmatch(ref):
        key = accounts.key_by_public_id(ref)
        if key is not None:
            return key
    user = accounts.user_by_name(ref)
    if user is None:
        raise AccountNotFound(f"no user or key {ref!r}")
    return user
