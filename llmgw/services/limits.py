"""Rate limits and spend budgets: set, list and clear a user's or a personal key's limits; one function
per use case, administrators only, each writing its audit entry in the transaction of its change.

A subject is named as people know it: a key by its public id (16 hex digits, as `llmgw key list` shows
it; a name of that shape is a key when such a key exists), else a user by name. A change replaces only
the values it names (`KEEP` leaves one as it is, None removes it); a subject left with no value at all
has its row removed. A user's limits bind every key of theirs, those created later included; a key's
bind that key only (`BINDS` says so in the words every front end shows). Pre-filled limit forms (the
portal's, the TUI's) read each field through `form_field`: left blank or as shown, it is kept, so a
value another administrator changed meanwhile stays theirs. The running gateway reads the table into
memory (`relay/limits.py`) and sees a change within one `PRAGMA data_version` poll.
"""

from __future__ import annotations

import enum
import math
import re
import time
from dataclasses import dataclass, replace
from typing import Final

from llmgw.errors import AccountNotFound, InvalidAccountInput
from llmgw.services import audit
from llmgw.services.audit import Actor
from llmgw.storage import Accounts, LimitRow, LimitValues, Scope, Store

__all__ = [
    "BINDS",
    "KEEP",
    "PERIODS",
    "Keep",
    "LimitChange",
    "LimitRow",
    "LimitValues",
    "SubjectLimits",
    "clear_limits",
    "describe",
    "form_field",
    "list_limits",
    "set_limits",
    "subject_limits",
]

PERIODS: Final = ("day", "month")
MAX_RATE = 1_000_000_000
MAX_BUDGET_USD = 1_000_000_000.0
LIMIT_SET = "limit.set"
LIMIT_CLEARED = "limit.cleared"
_PUBLIC_ID = re.compile(r"[0-9a-f]{16}")
# What a limit binds, as every limit form and listing says it.
BINDS: Final[dict[Scope, str]] = {"user": "this user, all keys", "key": "this key only"}


class Keep(enum.Enum):
    KEEP = "keep"


KEEP: Final = Keep.KEEP


@dataclass(frozen=True, slots=True)
class LimitChange:
    limit: LimitRow | None  # as the change left it; None: no limit remains
    changed: bool


@dataclass(frozen=True, slots=True)
class SubjectLimits:
    """A user or a key as a limit form shows it: what its limits bind, and their values now."""

    scope: Scope
    subject: str  # the user's name, or the key's public id
    owner: str  # the user's name (a key's owner)
    key_name: str | None  # a key's own name
    values: LimitValues | None  # None: no limits yet

    @property
    def binds(self) -> str:
        return BINDS[self.scope]


def _subject(accounts: Accounts, ref: str) -> tuple[Scope, int, str]:
    """(scope, id, name) of a key's public id or a user's name."""
    ref = ref.strip()
    if _PUBLIC_ID.fullmatch(ref):
        key = accounts.key_by_public_id(ref)
        if key is not None:
            return "key", key.id, key.public_id
    user = accounts.user_by_name(ref)
    if user is None:
        raise AccountNotFound(f"no user or key {ref!r}")
    return "user", user.id, user.name


def _check(values: LimitValues) -> LimitValues:
    for name, rate in (("rpm", values.rpm), ("tpm", values.tpm)):
        if rate is not None and not 1 <= rate <= MAX_RATE:
            raise InvalidAccountInput(f"{name} must be a whole number from 1 to {MAX_RATE} (or off)")
    budget = values.budget_usd
    if budget is not None and not (math.isfinite(budget) and 0 <= budget <= MAX_BUDGET_USD):
        raise InvalidAccountInput(f"the budget must be from 0 to {MAX_BUDGET_USD:.0f} USD (or off)")
    if values.period not in PERIODS:
        raise InvalidAccountInput("the period is day or month")
    return values


def form_field(shown: str, typed: str, kind: type[int] | type[float], what: str) -> int | float | Keep | None:
    """What one field of a pre-filled limit form asks for: KEEP when left blank or as the form showed
    it (the same number counts, `2.50` for `2.5`), None for `off`, else the typed number. Comparing
    with what was shown, not with what is stored now, keeps a concurrent change to a field this
    form did not touch."""
    typed = typed.strip()
    if not typed or typed == shown.strip():
        return KEEP
    if typed.lower() == "off":
        return None
    try:
        value = kind(typed)
    except ValueError:
        number = "a whole number" if kind is int else "a number"
        raise InvalidAccountInput(f"{what} must be {number}, or off to remove it") from None
    try:
        return KEEP if kind(shown.strip()) == value else value
    except ValueError:  # nothing was shown (no such limit yet)
        return value


def describe(values: LimitValues) -> str:
    """`rpm 60, tpm off, budget 5.00 USD/day`: a limit in one line (audit detail, listings)."""
    budget = "off" if values.budget_usd is None else f"{values.budget_usd:.2f} USD/{values.period}"
    rpm = "off" if values.rpm is None else str(values.rpm)
    tpm = "off" if values.tpm is None else str(values.tpm)
    return f"rpm {rpm}, tpm {tpm}, budget {budget}"


def set_limits(
    store: Store,
    actor: Actor,
    ref: str,
    *,
    rpm: int | Keep | None = KEEP,
    tpm: int | Keep | None = KEEP,
    budget_usd: float | Keep | None = KEEP,
    period: str | Keep = KEEP,
) -> LimitChange:
    """Change the named values of `ref`'s limits (a user name or a key's public id)."""
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        scope, subject_id, name = _subject(accounts, ref)
        found = accounts.limits(scope, subject_id)
        old = found[0].values if found else LimitValues()
        new = old
        if not isinstance(rpm, Keep):
            new = replace(new, rpm=rpm)
        if not isinstance(tpm, Keep):
            new = replace(new, tpm=tpm)
        if not isinstance(budget_usd, Keep):
            new = replace(new, budget_usd=budget_usd)
        if not isinstance(period, Keep):
            new = replace(new, period=period)
        _check(new)
        if found and new == old:
            return LimitChange(found[0], changed=False)
        now = time.time()
        if new.rpm is None and new.tpm is None and new.budget_usd is None:
            if not found:
                return LimitChange(None, changed=False)
            accounts.clear_limits(scope, subject_id)
        else:
            accounts.set_limits(scope, subject_id, new, now)
        audit.write(
            accounts,
            actor,
            LIMIT_SET,
            target_type=scope,
            target_id=name if scope == "key" else subject_id,
            target_name=name,
            detail=describe(new),
            at=now,
        )
        after = accounts.limits(scope, subject_id)
        return LimitChange(after[0] if after else None, changed=True)


def clear_limits(store: Store, actor: Actor, ref: str) -> LimitChange:
    """Remove every limit of `ref`; `changed=False` when it had none."""
    with store.accounts() as accounts:
        audit.require_admin(accounts, actor)
        scope, subject_id, name = _subject(accounts, ref)
        if not accounts.clear_limits(scope, subject_id):
            return LimitChange(None, changed=False)
        audit.write(
            accounts,
            actor,
            LIMIT_CLEARED,
            target_type=scope,
            target_id=name if scope == "key" else subject_id,
            target_name=name,
        )
        return LimitChange(None, changed=True)


def subject_limits(store: Store, actor: Actor, ref: str) -> SubjectLimits:
    """One user's or key's limits (None when it has none) and what they bind. Administrators only."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
        scope, subject_id, name = _subject(accounts, ref)
        found = accounts.limits(scope, subject_id)
        values = found[0].values if found else None
        if scope == "user":
            return SubjectLimits(scope, name, name, None, values)
        key = accounts.key_by_id(subject_id)
        assert key is not None  # found by _subject in this transaction
        return SubjectLimits(scope, name, key.user_name, key.name, values)


def list_limits(store: Store, actor: Actor, ref: str | None = None) -> list[LimitRow]:
    """Every limit (users first, then keys), or one subject's. Administrators only."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
        if ref is None:
            return accounts.limits()
        scope, subject_id, _ = _subject(accounts, ref)
        return accounts.limits(scope, subject_id)
