"""Rate limits and spend budgets on the hot path, in memory: no SQL per request.

Each user and each personal key may have limits (`limits` table, `services/limits.py`); when both the
user and the key of a request have some, both apply. Per subject:

- requests per minute (rpm): the requests admitted in the last 60 s (a rolling window, to the second:
  one-second buckets, a request leaving it when its whole second has); at the limit a request gets
  429 with `Retry-After` = when the oldest of them leaves the window.
- tokens per minute (tpm): the tokens of the requests that ENDED in the last 60 s (their ledger counts);
  a request is admitted while that is under the limit. Tokens are known only at the end, so requests in
  flight together can overshoot a tpm limit by what they use; `Retry-After` = when enough leave the window.
- a spend budget per UTC day or month: spent in the period + reserved by requests in flight + this
  request's WORST CASE must stay within it. The worst case is reserved before the request goes upstream
  and replaced by the exact cost when it ends (`settle`, from `Recorder.finish`; a failure costs what
  its tokens cost, usually 0), so concurrent requests can never overshoot. Over budget: 429 naming the
  budget, `Retry-After` = seconds until the period resets (the earliest a retry can succeed; long, but
  true). A budget needs a price: a model without one is refused (403 `model_not_priced`), fail closed.
  The 429's words (`_refusal`) say what a user can act on, amounts with their digits (`money.usd`): a
  budget reached (spent, reserved by requests in flight, when it resets), or, when it is this request's
  reservation that does not fit what remains, that its output cap (`max_tokens`, or its dialect's field;
  `default_max_tokens` when it set none) is why and the largest value that would fit (`WorstCase`).

The worst case is `price.worst_case_usd(prompt bound, output cap)`, the dearest target's. The prompt
bound is `relay/prompt_bound.py`'s: the prompt counted with the gateway's tokenizer (with a margin for
models that cut text otherwise), never more than the body's bytes, plus what the body does not show
(hidden prompts for tools, an allowance per media part). The output side is the request's
`OutputCap.total` (`relay/output_cap.py`): the one table of each dialect's cap fields, read by the
bridge too, so the upstream is sent exactly the maximum reserved for (`server.default_max_tokens`
where the request sets none), times the answers it makes, plus a thinking budget a translation adds.
Embeddings have no output.

So a budget is never overshot while the upstream honours the cap it was sent. One that ignores it can
overshoot by at most the answers in flight: a stream that passes its cap is cut
(`delivery.StreamDelivery.check_cap`), a whole answer over it is recorded at its real cost and logged as the
upstream's fault.

Spend is kept per subject for every request whatever the limits (so a budget set mid-month counts the
month), loaded from the ledger's hourly rollups at start (`load_spend`); nothing is reserved after a
restart. Requests, tokens and spend of a key count for its user too. `count_tokens` is free upstream
and not limited.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from llmgw.errors import BudgetExceeded, LimitExceeded
from llmgw.relay.output_cap import OutputCap
from llmgw.services.money import usd
from llmgw.storage import LimitRow, LimitValues, Spend, UsageRow

__all__ = ["BudgetState", "Limiter", "Pending", "WorstCase"]

WINDOW = 60.0  # seconds: rpm and tpm are per rolling minute

SubjectKey = tuple[str, int | None]  # ("user", users.id) or ("key", api_keys.id); None is never found


class Rolling:
    """Amounts summed over the last `WINDOW` seconds, in one-second buckets: at most 61 of them, what
    the window spans. An amount leaves the window when its whole second has (up to 1 s late: never early, so
    a limit is never exceeded by the rounding)."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets: deque[list[int]] = deque()  # [second, amount], oldest first
        self.total = 0

    def prune(self, now: float) -> None:
        buckets = self.buckets
        while buckets and buckets[0][0] + 1 <= now - WINDOW:
            self.total -= buckets.popleft()[1]

    def add(self, now: float, amount: int) -> None:
        second = int(now)
        buckets = self.buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += amount
        else:
            buckets.append([second, amount])
        self.total += amount

    def remove(self, second: int, amount: int) -> None:
        """Take back what `add` counted in `second` (an admission refused later), if still there."""
        for bucket in reversed(self.buckets):
            if bucket[0] == second:
                bucket[1] -= amount
                self.total -= amount
                return

    def wait_below(self, limit: int, now: float) -> float:
        """Seconds until the total drops under `limit` as buckets leave the window."""
        total = self.total
        for second, amount in self.buckets:
            total -= amount
            if total < limit:
                return max(0.0, second + 1 + WINDOW - now)
        return WINDOW


@dataclass(slots=True)
class Spent:
    """USD spent in the current UTC day and month."""

    day_start: float = 0.0
    day: float = 0.0
    month_start: float = 0.0
    month: float = 0.0

    def roll(self, day_start: float, month_start: float) -> None:
        if self.day_start != day_start:
            self.day_start, self.day = day_start, 0.0
        if self.month_start != month_start:
            self.month_start, self.month = month_start, 0.0


@dataclass(slots=True)
class Subject:
    """One user's or key's limits and what counts against them."""

    key: SubjectKey
    label: str  # "user ada", "key 0123456789abcdef": named in the 429's message
    values: LimitValues
    owner: str = ""  # the user's name (a key's owner)
    name: str = ""  # the user's name, or the key's public id
    requests: Rolling = field(default_factory=Rolling)
    tokens: Rolling = field(default_factory=Rolling)
    reserved: float = 0.0


@dataclass(frozen=True, slots=True)
class BudgetState:
    """One budget as it stands: whose, how much, which period (by its start) and what was spent in it."""

    scope: str  # "user" or "key"
    subject_id: int
    subject: str  # the user's name, or the key's public id
    owner: str  # the user's name (a key's owner)
    budget_usd: float
    period: str  # "day" or "month"
    period_start: float
    spent_usd: float


@dataclass(slots=True)
class Hold:
    """What an admitted request holds until it is settled."""

    subjects: list[Subject]  # every limited subject of the request (their tpm counts its tokens)
    budgeted: list[Subject]  # those `reserved` was added to
    reserved: float


@dataclass(frozen=True, slots=True)
class WorstCase:
    """The most a request can cost, and what that is made of (for a refusal's words): per target it
    may go to, its prompt side in USD and the USD of one output token, both at the dearest rates; the
    request's output cap and the name its API gives the cap field."""

    sides: tuple[tuple[float, float], ...]  # per target: (prompt side USD, USD per output token)
    cap: OutputCap | None  # None: an operation without output (embeddings)
    cap_field: str | None = None  # `max_tokens`, `max_output_tokens`, ...: the client's own field

    @property
    def usd(self) -> float:
        """The dearest target's worst case: what is reserved."""
        out = self.cap.total if self.cap is not None else 0
        return max((prompt + out * per_token for prompt, per_token in self.sides), default=0.0)

    @property
    def prompt_usd(self) -> float:
        return max((prompt for prompt, _ in self.sides), default=0.0)

    def fitting_cap(self, room: float) -> int:
        """The largest per-answer output cap whose worst case fits in `room` USD (0: none does)."""
        cap = self.cap
        if cap is None:
            return 0
        best: float = math.inf
        for prompt, per_token in self.sides:
            if per_token <= 0:
                continue
            best = min(best, (room - prompt) / per_token / cap.answers - cap.thinking)
        if math.isinf(best):
            return 0
        fit = max(0, math.floor(best))
        while fit > 0 and self._cost(fit) > room:  # float rounding at the edge
            fit -= 1
        return fit

    def _cost(self, per_answer: int) -> float:
        assert self.cap is not None
        out = (per_answer + self.cap.thinking) * self.cap.answers
        return max(prompt + out * per_token for prompt, per_token in self.sides)


@dataclass(slots=True)
class Pending:
    """A request whose rates passed (and counted) and whose budgets the shared store checks next
    (`Limiter.begin`, then `commit` or `cancel`)."""

    request_id: str
    subjects: list[Subject]
    budgeted: list[Subject]
    worst: float | WorstCase
    cost: float
    now: float

    def ask(self, scope: str, periods: Periods) -> tuple[int, float, str, float] | None:
        """(subject id, budget, period, period start) of this request's `scope` subject, if budgeted."""
        for s in self.budgeted:
            v = s.values
            if s.key[0] == scope and s.key[1] is not None and v.budget_usd is not None:
                start = periods.day_start if v.period == "day" else periods.month_start
                return s.key[1], v.budget_usd, v.period, start
        return None


class Periods:
    """The current UTC day's and month's start and end, recomputed only when one ends."""

    def __init__(self) -> None:
        self.day_start = self.day_end = self.month_start = self.month_end = -math.inf

    def at(self, now: float) -> Periods:
        if not self.day_start <= now < self.day_end:
            d = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            self.day_start = d.timestamp()
            self.day_end = self.day_start + 86400
            m = d.replace(day=1)
            self.month_start = m.timestamp()
            following = m.replace(year=m.year + 1, month=1) if m.month == 12 else m.replace(month=m.month + 1)
            self.month_end = following.timestamp()
        return self

    def end(self, period: str) -> float:
        """When the current "day" or "month" ends: a budget of that period resets then."""
        return self.day_end if period == "day" else self.month_end


class Limiter:
    """The limits of every subject that has some, and every subject's spend. Runs on the event loop
    (`admit`, `settle`); `load` builds new objects and swaps them, so a worker thread may call it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._subjects: dict[SubjectKey, Subject] = {}
        self._spent: dict[SubjectKey, Spent] = {}
        self._holds: dict[str, Hold] = {}
        self._periods = Periods()
        # Instances sharing the rates (PostgreSQL: the live ones, from relay/shared.py's heartbeat):
        # each enforces its share of an rpm or tpm limit.
        self.instances = 1

    @property
    def subject_count(self) -> int:
        return len(self._subjects)

    def load(self, rows: Iterable[LimitRow]) -> None:
        """Take the limits as the table holds them now; counters of subjects still limited are kept."""
        old = self._subjects
        new: dict[SubjectKey, Subject] = {}
        for row in rows:
            key = (row.scope, row.subject_id)
            label = f"{row.scope} {row.subject}"
            subject = old.get(key)
            if subject is None:
                subject = Subject(key, label, row.values, row.owner, row.subject)
            else:
                subject.label, subject.values = label, row.values
                subject.owner, subject.name = row.owner, row.subject
            new[key] = subject
        self._subjects = new

    def load_spend(self, day: Spend, month: Spend) -> None:
        """Spend so far this UTC day and month, from the ledger's hourly rollups (at start, before
        serving)."""
        p = self._periods.at(self.clock())
        for scope, day_of, month_of in (
            ("user", day.by_user, month.by_user),
            ("key", day.by_key, month.by_key),
        ):
            for subject_id in day_of.keys() | month_of.keys():
                self._spent[(scope, subject_id)] = Spent(
                    p.day_start, day_of.get(subject_id, 0.0), p.month_start, month_of.get(subject_id, 0.0)
                )

    def period_starts(self) -> tuple[float, float]:
        """The current UTC day's and month's start (what `load_spend` is read since)."""
        p = self._periods.at(self.clock())
        return p.day_start, p.month_start

    def spent(self, scope: str, subject_id: int) -> tuple[float, float]:
        """USD spent this UTC day and this month by a subject."""
        p = self._periods.at(self.clock())
        s = self._spent.get((scope, subject_id))
        if s is None:
            return 0.0, 0.0
        s.roll(p.day_start, p.month_start)
        return s.day, s.month

    def budgets(self) -> list[BudgetState]:
        """Every budget and what its subject spent in its current period (the budget alerts' view)."""
        p = self._periods.at(self.clock())
        out = []
        for s in self._subjects.values():
            v = s.values
            if v.budget_usd is None or s.key[1] is None:
                continue
            day, month = self.spent(s.key[0], s.key[1])
            daily = v.period == "day"
            out.append(
                BudgetState(
                    s.key[0], s.key[1], s.name, s.owner, v.budget_usd, v.period,
                    p.day_start if daily else p.month_start, day if daily else month,
                )
            )  # fmt: skip
        return out

    def budget_applies(self, user_id: int | None, key_id: int | None) -> bool:
        subjects = self._subjects
        if not subjects:
            return False
        keys: tuple[SubjectKey, SubjectKey] = (("user", user_id), ("key", key_id))
        for key in keys:
            s = subjects.get(key)
            if s is not None and s.values.budget_usd is not None:
                return True
        return False

    def admit(
        self,
        request_id: str,
        user_id: int | None,
        key_id: int | None,
        worst_case: Callable[[], float | WorstCase],
    ) -> None:
        """Admit a request or raise 429 (`LimitExceeded`, `BudgetExceeded`). `worst_case` (called only
        when a budget applies) is the most it can cost, in USD or as a `WorstCase` (whose parts a
        refusal names); it raises when that cannot be known. Nothing is counted unless every check
        passes; check and count run with no await between them."""
        if not self._subjects:
            return
        subjects = self._subjects_of(user_id, key_id)
        if not subjects:
            return
        now = self.clock()
        self._check_rates(subjects, now)
        budgeted = [s for s in subjects if s.values.budget_usd is not None]
        worst = worst_case() if budgeted else 0.0
        cost = worst.usd if isinstance(worst, WorstCase) else worst
        if budgeted:
            self._check_budgets(budgeted, cost, worst, now)
        for s in subjects:
            if s.values.rpm is not None:
                s.requests.add(now, 1)
        for s in budgeted:
            s.reserved += cost
        self._holds[request_id] = Hold(subjects, budgeted, cost)

    def _subjects_of(self, user_id: int | None, key_id: int | None) -> list[Subject]:
        """The request's user and key, those of them that have limits."""
        subjects = self._subjects
        found = (subjects.get(("user", user_id)), subjects.get(("key", key_id)))
        return [s for s in found if s is not None]

    def _check_budgets(
        self, budgeted: list[Subject], cost: float, worst: float | WorstCase, now: float
    ) -> None:
        """429 for the first budget that spent + reserved + `cost` would exceed, on this instance's view."""
        p = self._periods.at(now)
        for s in budgeted:
            v = s.values
            assert v.budget_usd is not None
            used = self._used(s, p)
            if used + s.reserved + cost > v.budget_usd:
                raise _refusal(s, v.budget_usd, v.period, used, s.reserved, worst, p.end(v.period), now)

    def _check_rates(self, subjects: list[Subject], now: float) -> None:
        """429 for a subject at its rpm or tpm limit (this instance's share of it when several share
        the database: relay/shared.py)."""
        n = self.instances
        for s in subjects:
            v = s.values
            if v.rpm is not None:
                rpm = v.rpm if n == 1 else max(1, v.rpm // n)
                s.requests.prune(now)
                if s.requests.total >= rpm:
                    wait = s.requests.wait_below(rpm, now)
                    raise _limited(f"{s.label} has reached its limit of {v.rpm} requests per minute", wait)
            if v.tpm is not None:
                tpm = v.tpm if n == 1 else max(1, v.tpm // n)
                s.tokens.prune(now)
                if s.tokens.total >= tpm:
                    wait = s.tokens.wait_below(tpm, now)
                    raise _limited(f"{s.label} has reached its limit of {v.tpm} tokens per minute", wait)

    # -- a budget checked by the shared store (PostgreSQL: relay/shared.py) ---------------------------

    def begin(
        self,
        request_id: str,
        user_id: int | None,
        key_id: int | None,
        worst_case: Callable[[], float | WorstCase],
    ) -> Pending | None:
        """`admit`'s rate checks, and its counting of the request against them, for a request whose
        budget the shared store checks next; None when no budget applies (then it is admitted, as
        `admit` would). Follow with `commit` once the store held it, or `cancel`."""
        subjects = self._subjects_of(user_id, key_id)
        budgeted = [s for s in subjects if s.values.budget_usd is not None]
        if not budgeted:
            self.admit(request_id, user_id, key_id, worst_case)
            return None
        now = self.clock()
        self._check_rates(subjects, now)
        worst = worst_case()
        cost = worst.usd if isinstance(worst, WorstCase) else worst
        for s in subjects:
            if s.values.rpm is not None:
                s.requests.add(now, 1)
        return Pending(request_id, subjects, budgeted, worst, cost, now)

    def periods(self, now: float) -> Periods:
        return self._periods.at(now)

    def check_locally(self, pending: Pending) -> None:
        """The budget check `admit` makes, on this instance's view alone (the store unreachable)."""
        try:
            self._check_budgets(pending.budgeted, pending.cost, pending.worst, pending.now)
        except BudgetExceeded:
            self.cancel(pending)
            raise

    def refused(self, pending: Pending, scope: str, spent: float, reserved: float) -> BudgetExceeded:
        """The 429 of the store's refusal for the `scope` subject (its spent and reserved, every
        instance's); the request's rates given back."""
        self.cancel(pending)
        s = next(s for s in pending.budgeted if s.key[0] == scope)
        v = s.values
        assert v.budget_usd is not None
        reset_at = self._periods.at(pending.now).end(v.period)
        return _refusal(s, v.budget_usd, v.period, spent, reserved, pending.worst, reset_at, pending.now)

    def commit(self, pending: Pending) -> None:
        """The store held the request's worst case: it is admitted, and settles as `admit`'s do."""
        for s in pending.budgeted:
            s.reserved += pending.cost
        self._holds[pending.request_id] = Hold(pending.subjects, pending.budgeted, pending.cost)

    def cancel(self, pending: Pending) -> None:
        """The request is refused after `begin`: its rpm count given back."""
        second = int(pending.now)
        for s in pending.subjects:
            if s.values.rpm is not None:
                s.requests.remove(second, 1)

    def _used(self, s: Subject, p: Periods) -> float:
        spent = self._spent.get(s.key)
        if spent is None:
            return 0.0
        spent.roll(p.day_start, p.month_start)
        return spent.day if s.values.period == "day" else spent.month

    def settle(self, row: UsageRow) -> None:
        """A request ended: its reservation released, its exact cost (`row.cost_usd`, priced by the
        Recorder just before) spent, its tokens counted."""
        hold = self._holds.pop(row.request_id, None)
        if row.user_id is None and row.api_key_id is None:
            return
        cost = row.cost_usd
        now = self.clock()
        if hold is not None:
            tokens = row.total_tokens or (row.prompt_tokens or 0) + (row.completion_tokens or 0)
            for s in hold.budgeted:
                s.reserved = max(0.0, s.reserved - hold.reserved)
            for s in hold.subjects:
                if s.values.tpm is not None and tokens:
                    s.tokens.prune(now)
                    s.tokens.add(now, tokens)
        if cost:
            p = self._periods.at(now)
            keys: tuple[SubjectKey, SubjectKey] = (("user", row.user_id), ("key", row.api_key_id))
            for key in keys:
                if key[1] is None:
                    continue
                spent = self._spent.get(key)
                if spent is None:
                    spent = self._spent[key] = Spent(p.day_start, 0.0, p.month_start, 0.0)
                spent.roll(p.day_start, p.month_start)
                spent.day += cost
                spent.month += cost


def _refusal(
    s: Subject,
    budget: float,
    period: str,
    used: float,
    reserved: float,
    worst: float | WorstCase,
    reset_at: float,
    now: float,
) -> BudgetExceeded:
    """The 429 of a budget, in words a user can act on: reached (wait for the reset, or for requests
    in flight to end), or this request's reservation too large for what remains (a lower output cap
    that would fit, named in the client's own field)."""
    resets = datetime.fromtimestamp(reset_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    wait = f"It resets at the start of the next UTC {period} ({resets})."
    if reserved > 0:  # what requests in flight do not spend comes back when they end
        wait = f"Requests in flight give back what they do not spend when they end. {wait}"
    in_flight = f", {usd(reserved)} reserved by requests in flight until they end" if reserved > 0 else ""
    of = f"spend budget of {usd(budget)} per {period}"
    room = budget - used - reserved
    headers = {"retry-after": str(max(1, math.ceil(reset_at - now)))}
    cost = worst.usd if isinstance(worst, WorstCase) else worst
    if room <= 0:
        message = f"{s.label} has reached its {of}: {usd(used)} spent{in_flight}. {wait}"
        return BudgetExceeded(message, headers=headers)
    left = f"{s.label}'s {of} has {usd(room)} left ({usd(used)} spent{in_flight})"
    if not isinstance(worst, WorstCase) or worst.cap is None or worst.cap_field is None:
        message = f"{left}, and this request may cost up to {usd(cost)}. {wait}"
        return BudgetExceeded(message, headers=headers)
    fit, cap, name = worst.fitting_cap(room), worst.cap, worst.cap_field
    if fit < 1:
        message = (
            f"{left}, and the prompt of this request alone may cost up to {usd(worst.prompt_usd)}: "
            f"a shorter prompt, or a cheaper model, may fit. {wait}"
        )
        return BudgetExceeded(message, headers=headers)
    asked = (
        f"`{name}` {cap.per_answer}"
        if cap.source
        else f"`{name}` {cap.per_answer} (`default_max_tokens`, as the request set no `{name}`)"
    )
    parts = [asked]
    if cap.thinking:
        parts.append(f"a thinking budget of {cap.thinking}")
    times = f" for each of {cap.answers} answers" if cap.answers > 1 else ""
    message = (
        f"{left}, and this request may cost up to {usd(cost)}: the gateway reserves its worst case, its "
        f"prompt plus {' and '.join(parts)} output tokens{times}. Set `{name}` to {fit} or less and it "
        f"fits. {wait}"
    )
    return BudgetExceeded(message, headers=headers)


def _limited(message: str, wait: float) -> LimitExceeded:
    after = max(1, math.ceil(wait))
    return LimitExceeded(f"{message}; retry after {after}s.", headers={"retry-after": str(after)})
