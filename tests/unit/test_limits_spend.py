"""Spend against budget (services/limits.py): each limit with what its subject spent this UTC day and
month, what remains and when it resets; a user's own spend, refused for someone else's."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from llmgw.errors import AccountNotFound, InvalidAccountInput, PermissionDenied
from llmgw.services import limits
from llmgw.services.audit import Actor
from llmgw.storage import LimitRow, LimitValues, Store, UsageRow
from tests.support.accounts_rows import add_key, add_user, create_schema

CLI = Actor.cli()
# 2026-03-15 12:30 UTC: the day began at 00:00, the month on the 1st.
NOW = datetime(2026, 3, 15, 12, 30, tzinfo=UTC).timestamp()
DAY_START = datetime(2026, 3, 15, tzinfo=UTC).timestamp()
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
MONTH_END = datetime(2026, 4, 1, tzinfo=UTC).timestamp()


def _row(n: int, at: float, cost: float, user_id: int, key_id: int | None) -> UsageRow:
    return UsageRow(
        request_id=f"req_{n}",
        created_at=at,
        endpoint="/v1/chat/completions",
        provider="openai",
        model_requested="openai/gpt-4o-mini",
        model_upstream="gpt-4o-mini",
        status=200,
        user_id=user_id,
        api_key_id=key_id,
        cost_usd=cost,
    )


@pytest.fixture
def db(database: str) -> str:
    create_schema(database)
    return database


def test_period_bounds_are_utc_day_and_month() -> None:
    b = limits.period_bounds(NOW)
    assert (b.day_start, b.day_end) == (DAY_START, DAY_START + 86400)
    assert (b.month_start, b.month_end) == (MONTH_START, MONTH_END)
    december = limits.period_bounds(datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp())
    assert december.month_end == datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    assert december.end("day") == datetime(2027, 1, 1, tzinfo=UTC).timestamp()


def test_each_limit_with_its_spend_and_what_remains(db: str) -> None:
    ada = add_user(db, "ada")
    laptop = add_key(db, ada, name="laptop")
    phone = add_key(db, ada, name="phone")
    with Store.open(db) as store:
        limits.set_limits(store, CLI, "ada", budget_usd=5.0, period="month", rpm=10)
        limits.set_limits(store, CLI, laptop.public_id, budget_usd=0.01, period="day")
        store.insert_requests(
            [
                _row(1, DAY_START + 60, 0.004, ada, laptop.key_id),  # today, laptop
                _row(2, DAY_START - 3600, 1.5, ada, laptop.key_id),  # yesterday: the month only
                _row(3, DAY_START + 120, 0.25, ada, phone.key_id),  # today, phone
                _row(4, MONTH_START - 3600, 100.0, ada, laptop.key_id),  # last month: not counted
            ]
        )
        found = limits.limits_with_spend(store, CLI, now=NOW)
    user, key = found
    assert (user.scope, user.subject, user.key_name, user.binds) == (
        "user",
        "ada",
        None,
        "this user, all keys",
    )
    assert user.spent_day == pytest.approx(0.254)
    assert user.spent_month == pytest.approx(1.754)
    assert user.spent == user.spent_month  # a monthly budget
    assert user.remaining == pytest.approx(5.0 - 1.754)
    assert user.used_percent == "35%"
    assert user.resets_at == MONTH_END
    assert user.values.rpm == 10
    assert (key.scope, key.subject, key.key_name, key.owner) == ("key", laptop.public_id, "laptop", "ada")
    assert key.spent == pytest.approx(0.004)  # the day's
    assert key.remaining == pytest.approx(0.006)
    assert key.used == pytest.approx(0.4)
    assert key.resets_at == DAY_START + 86400


def test_no_budget_no_remaining_and_over_budget_never_negative() -> None:
    rate_only = LimitRow("user", 1, "ada", "ada", LimitValues(rpm=5), 0.0)
    use = limits.LimitUse(rate_only, None, 0.2, 0.3, MONTH_END)
    assert (use.budget, use.remaining, use.used, use.used_percent) == (None, None, None, "")
    over = LimitRow("user", 1, "ada", "ada", LimitValues(budget_usd=1.0, period="day"), 0.0)
    use = limits.LimitUse(over, None, 1.5, 1.5, DAY_START)
    assert use.remaining == 0.0
    assert use.used_percent == "150%"
    little = limits.LimitUse(over, None, 0.001, 0.001, DAY_START)
    assert little.used_percent == "<1%"  # some spend never reads as 0%
    zero = LimitRow("user", 1, "ada", "ada", LimitValues(budget_usd=0.0), 0.0)
    assert limits.LimitUse(zero, None, 0.0, 0.0, MONTH_END).used == 1.0
    assert math.isinf(limits.LimitUse(zero, None, 0.1, 0.1, MONTH_END).used or 0)


def test_a_share_reads_as_people_compute_it_not_as_floats_do() -> None:
    three_quarters = LimitRow("user", 1, "ada", "ada", LimitValues(budget_usd=0.75, period="day"), 0.0)
    use = limits.LimitUse(three_quarters, None, 0.6, 0.6, DAY_START)  # 0.6 / 0.75 is 0.7999… in floats
    assert (use.used, use.used_percent) == (0.8, "80%")  # so it counts as near its budget (>= 80%)


def test_a_users_own_spend_with_their_keys_limits(db: str) -> None:
    ada = add_user(db, "ada")
    bob = add_user(db, "bob")
    admin = add_user(db, "root", role="admin")
    laptop = add_key(db, ada, name="laptop")
    gone = add_key(db, ada, name="old", revoked_at=NOW - 10)
    bobs = add_key(db, bob)
    with Store.open(db) as store:
        limits.set_limits(store, CLI, laptop.public_id, budget_usd=2.0, period="day")
        limits.set_limits(store, CLI, gone.public_id, rpm=3)  # revoked: not shown
        limits.set_limits(store, CLI, bobs.public_id, rpm=3)  # bob's: not ada's
        store.insert_requests(
            [_row(1, DAY_START + 5, 0.5, ada, laptop.key_id), _row(2, DAY_START, 9.0, bob, None)]
        )
        mine = limits.user_spend(store, Actor.user(ada, "ada"), now=NOW)
        assert (mine.user, mine.spent_day, mine.spent_month) == ("ada", 0.5, 0.5)
        assert [(u.scope, u.subject, u.remaining) for u in mine.limits] == [("key", laptop.public_id, 1.5)]
        # Named: themself, or anyone for an administrator or the CLI.
        assert limits.user_spend(store, Actor.user(ada, "ada"), "ada", now=NOW).user == "ada"
        assert limits.user_spend(store, Actor.user(admin, "root"), "bob", now=NOW).spent_day == 9.0
        assert [u.subject for u in limits.user_spend(store, CLI, "bob", now=NOW).limits] == [bobs.public_id]
        with pytest.raises(PermissionDenied):
            limits.user_spend(store, Actor.user(ada, "ada"), "bob", now=NOW)
        with pytest.raises(AccountNotFound):
            limits.user_spend(store, CLI, "nobody", now=NOW)
        with pytest.raises(InvalidAccountInput):
            limits.user_spend(store, CLI, now=NOW)  # the CLI is nobody's own


def test_listing_with_spend_is_for_administrators(db: str) -> None:
    ada = add_user(db, "ada")
    with Store.open(db) as store:
        limits.set_limits(store, CLI, "ada", budget_usd=1.0)
        with pytest.raises(PermissionDenied):
            limits.limits_with_spend(store, Actor.user(ada, "ada"), now=NOW)
        assert [u.subject for u in limits.limits_with_spend(store, CLI, "ada", now=NOW)] == ["ada"]


def test_describe_keeps_a_small_budgets_digits() -> None:
    assert (
        limits.describe(LimitValues(budget_usd=0.005, period="day"))
        == "rpm off, tpm off, budget 0.005 USD/day"
    )
    assert limits.describe(LimitValues(rpm=60, budget_usd=5.0)) == "rpm 60, tpm off, budget 5.00 USD/month"
