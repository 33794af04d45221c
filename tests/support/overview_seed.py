"""A day of known ledger rows, budgets and published key states for the administrators' overview's
tests: what the overview must show is worked out by hand in `EXPECTED`."""

from __future__ import annotations

from dataclasses import dataclass

from llmgw.services import keys, limits, users
from llmgw.storage import KeyState, KeyStateRow, Store, UsageRow
from tests.support.request_log_seed import ADMIN, NOW, PASSWORD

DAY_START = 1_796_083_200.0  # 2026-12-01 00:00 UTC, the day NOW falls in


@dataclass(frozen=True)
class Day:
    ci_public_id: str


def _row(n: int, at: float, **kw: object) -> UsageRow:
    values: dict[str, object] = {"status": 200, "total_tokens": 100, **kw}
    return UsageRow(request_id=f"req_d{n:03d}", created_at=at, endpoint="/v1/chat/completions", **values)  # type: ignore[arg-type]


def seed_day(store: Store, now: float = NOW) -> Day:
    """root (admin), ann (a day budget of 1 USD, 0.90 spent today: 90%), ben (10 USD a month, 0.60
    spent: 6%; yesterday was November) and ben's key ci (0.50 USD a day, 0.60 spent: 120%); yesterday's
    rows do not count. Today's rows are within the day's first seconds, so that a test at the real time
    (the portal's) sees them all as today's."""
    day_start = now // 86400 * 86400
    users.create_user(store, ADMIN, "root", PASSWORD, role="admin")
    ann = users.create_user(store, ADMIN, "ann", PASSWORD)
    ben = users.create_user(store, ADMIN, "ben", PASSWORD)
    ci = keys.create_key(store, ADMIN, "ben", "ci").key
    limits.set_limits(store, ADMIN, "ann", budget_usd=1.0, period="day")
    limits.set_limits(store, ADMIN, "ben", budget_usd=10.0, period="month")
    limits.set_limits(store, ADMIN, ci.public_id, budget_usd=0.5, period="day")
    policy = {"status": 429, "error_kind": "policy", "total_tokens": None}
    rows = [
        # yesterday: not today's
        _row(
            1,
            day_start - 60,
            user_id=ann.id,
            cost_usd=5.0,
            status=502,
            error_type="upstream_error",
            error_kind="upstream",
        ),
        _row(2, day_start - 3600, user_id=ben.id, cost_usd=1.4),
        # today
        _row(3, day_start + 1, user_id=ann.id, cost_usd=0.5),
        _row(4, day_start + 2, user_id=ann.id, cost_usd=0.4),
        _row(5, day_start + 3, user_id=ben.id, api_key_id=ci.id, cost_usd=0.6),
        _row(6, day_start + 4, error_type="budget_exceeded", **policy),
        _row(7, day_start + 5, error_type="rate_limit_exceeded", **policy),
        _row(
            8,
            day_start + 6,
            status=400,
            error_type="invalid_request_error",
            error_kind="client",
            total_tokens=None,
        ),
        _row(9, day_start + 7, error_type="stream_cut", error_kind="upstream"),  # tokens, no price
    ]
    store.insert_requests(rows)

    def state(provider: str, slot: int, mask: str, state: KeyState, reason: str | None = None) -> KeyStateRow:
        until = now + 30 if state == "cooling" else None
        return KeyStateRow(
            provider, slot, mask, state, until, (), False, reason, None, None, 1, 0, "run", now - 2
        )

    store.publish_key_states(
        [
            state("up", 1, "sk-…abcd", "ok"),
            state("up", 2, "sk-…wxyz", "rejected", "401 invalid_api_key"),
            state("other", 1, "ot-…1234", "cooling", "429 rate_limit_exceeded"),
        ]
    )
    return Day(ci.public_id)


# What the overview shows at NOW, worked out from the rows above.
EXPECTED = {
    "requests": 7,
    "errors": 4,  # two policy, one client, one stream cut after a 200 (upstream)
    "errors_by_kind": {"client": 1, "policy": 2, "upstream": 1},
    "tokens": 400,  # rows 3, 4, 5 and 9
    "cost_usd": 1.5,  # 0.5 + 0.4 + 0.6; row 9 used tokens with no price
    "unpriced": 1,
}
