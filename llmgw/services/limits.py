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

Spend against budget (`limits_with_spend` for administrators, `user_spend` for a user's own page and
`llmgw usage --user`): each limit with what its subject spent this UTC day and month, read from the
ledger's hourly rollups (what the gateway's limiter starts from too), what remains of its budget and
when its period resets. Requests still in flight are not in it until they end.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from llmgw.errors import InvalidAccountInput
from llmgw.services import audit
from llmgw.services.audit import Actor
from llmgw.services.money import usd
from llmgw.services.subjects import subject_row
from llmgw.storage import Accounts, KeyRow, LimitRow, LimitValues, Scope, Spend, Store

__all__ = [
    "BINDS",
    "KEEP",
    "PERIODS",
    "Keep",
    "LimitChange",
    "LimitRow",
    "LimitUse",
    "LimitValues",
    "PeriodBounds",
    "SubjectLimits",
    "UserSpend",
    "check_values",
    "clear_limits",
    "describe",
    "form_field",
    "limits_with_spend",
    "list_limits",
    "period_bounds",
    "set_limits",
    "subject_limits",
    "used_percent",
    "user_spend",
]

PERIODS: Final = ("day", "month")
MAX_RATE = 1_000_000_000
MAX_BUDGET_USD = 1_000_000_000.0
LIMIT_SET = "limit.set"
LIMIT_CLEARED = "limit.cleared"
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
    row = subject_row(accounts, ref)
    if isinstance(row, KeyRow):
        return "key", row.id, row.public_id
    return "user", row.id, row.name


def check_values(values: LimitValues) -> LimitValues:
    """`values` as `set_limits` would take them, or InvalidAccountInput saying which is out of range
    (a form that does more than set limits checks them before it changes anything)."""
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
    """`rpm 60, tpm off, budget 5.00 USD/day`: a limit in one line (audit detail, listings); a budget
    under 1 USD keeps its digits (`0.005 USD/day`)."""
    budget = "off" if values.budget_usd is None else f"{usd(values.budget_usd)}/{values.period}"
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
        check_values(new)
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


# -- spend against budget ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodBounds:
    """The current UTC day and month, as unix seconds: [start, end)."""

    day_start: float
    day_end: float
    month_start: float
    month_end: float

    def end(self, period: str) -> float:
        return self.day_end if period == "day" else self.month_end


def period_bounds(now: float) -> PeriodBounds:
    """The UTC day and month `now` falls in: what budgets are spent per."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    following = (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else month.replace(month=month.month + 1)
    )
    return PeriodBounds(day.timestamp(), day.timestamp() + 86400, month.timestamp(), following.timestamp())


def used_percent(used: float | None) -> str:
    """A budget's use as people read it: `42%`, `<1%` for a little spend (never `0%` for some),
    `>999%` past any sense; "" without a budget."""
    if used is None:
        return ""
    if math.isinf(used):
        return ">999%"
    if 0 < used < 0.01:
        return "<1%"
    return f"{math.floor(used * 100):.0f}%"


@dataclass(frozen=True, slots=True)
class LimitUse:
    """One subject's limits with what it spent: a `LimitRow`'s fields, plus the spend this UTC day and
    month and, for a budget, what is spent of it, what remains and when its period resets."""

    limit: LimitRow
    key_name: str | None  # a key's own name; None for a user
    spent_day: float  # USD, this UTC day
    spent_month: float  # USD, this UTC month
    resets_at: float  # the budget's period's end (unix seconds)

    @property
    def scope(self) -> Scope:
        return self.limit.scope

    @property
    def subject(self) -> str:
        return self.limit.subject

    @property
    def owner(self) -> str:
        return self.limit.owner

    @property
    def values(self) -> LimitValues:
        return self.limit.values

    @property
    def updated_at(self) -> float:
        return self.limit.updated_at

    @property
    def binds(self) -> str:
        return BINDS[self.limit.scope]

    @property
    def spent(self) -> float:
        """USD spent in the budget's period (the month when no budget is set)."""
        return self.spent_day if self.limit.values.period == "day" else self.spent_month

    @property
    def budget(self) -> float | None:
        return self.limit.values.budget_usd

    @property
    def remaining(self) -> float | None:
        """USD left in the budget's period (never below 0); None without a budget."""
        budget = self.budget
        return None if budget is None else max(0.0, budget - self.spent)

    @property
    def used(self) -> float | None:
        """Spend as a fraction of the budget (over 1 when past it); None without a budget. A budget of
        0 is used up (1.0) from the start."""
        budget = self.budget
        if budget is None:
            return None
        if budget <= 0:
            return 1.0 if self.spent <= 0 else math.inf
        # Rounded past float noise: 0.60 of 0.75 is 0.8 (80%, near a budget), not 0.7999…
        return round(self.spent / budget, 9)

    @property
    def used_percent(self) -> str:
        return used_percent(self.used)


@dataclass(frozen=True, slots=True)
class UserSpend:
    """A user's spend this UTC day and month, and their limits and their keys' with spend."""

    user: str
    spent_day: float
    spent_month: float
    limits: list[LimitUse]  # the user's own first, then their keys'


def _spend(accounts: Accounts, bounds: PeriodBounds) -> tuple[Spend, Spend]:
    return accounts.spend_since(bounds.day_start), accounts.spend_since(bounds.month_start)


def _uses(
    accounts: Accounts, rows: list[LimitRow], bounds: PeriodBounds, day: Spend, month: Spend
) -> list[LimitUse]:
    key_rows = accounts.keys() if any(r.scope == "key" for r in rows) else []
    names = {k.id: k.name for k in key_rows}
    return [_use(r, names.get(r.subject_id) if r.scope == "key" else None, day, month, bounds) for r in rows]


def _use(row: LimitRow, key_name: str | None, day: Spend, month: Spend, bounds: PeriodBounds) -> LimitUse:
    of_day = day.by_user if row.scope == "user" else day.by_key
    of_month = month.by_user if row.scope == "user" else month.by_key
    return LimitUse(
        row,
        key_name,
        of_day.get(row.subject_id, 0.0),
        of_month.get(row.subject_id, 0.0),
        bounds.end(row.values.period),
    )


def limits_with_spend(
    store: Store, actor: Actor, ref: str | None = None, *, now: float | None = None
) -> list[LimitUse]:
    """`list_limits` with each subject's spend against its budget. Administrators only."""
    at = time.time() if now is None else now
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
        if ref is None:
            rows = accounts.limits()
        else:
            scope, subject_id, _ = _subject(accounts, ref)
            rows = accounts.limits(scope, subject_id)
        bounds = period_bounds(at)
        return _uses(accounts, rows, bounds, *_spend(accounts, bounds))


def user_spend(store: Store, actor: Actor, user: str | None = None, *, now: float | None = None) -> UserSpend:
    """A user's own spend and limits (theirs and their live keys'), with what remains of each budget:
    the acting user's when `user` is None. A user may ask only for themself; administrators for
    anyone."""
    at = time.time() if now is None else now
    with store.accounts(write=False) as accounts:
        row = audit.visible_user(accounts, actor, user, "spend", own_by_default=True)
        if row is None:
            raise InvalidAccountInput("name the user whose spend to show")
        live = {k.id for k in accounts.keys(row.id) if k.revoked_at is None}
        rows = accounts.limits("user", row.id) + [
            r for r in accounts.limits() if r.scope == "key" and r.subject_id in live
        ]
        bounds = period_bounds(at)
        day, month = _spend(accounts, bounds)
        uses = _uses(accounts, rows, bounds, day, month)
        return UserSpend(row.name, day.by_user.get(row.id, 0.0), month.by_user.get(row.id, 0.0), uses)
