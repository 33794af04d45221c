"""The administrators' overview over a real Store and a day of known rows (tests/support/overview_seed.py):
today's numbers, errors by kind, who is near or over a budget, the upstream keys' states; refused
to anyone but an administrator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmgw.errors import PermissionDenied
from llmgw.services import limits, overview, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.support.overview_seed import DAY_START, EXPECTED, Day, seed_day
from tests.support.request_log_seed import ADMIN, NOW

pytestmark = pytest.mark.usefixtures("fast_hashes")


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


@pytest.fixture
def day(store: Store) -> Day:
    return seed_day(store)


def test_todays_numbers_and_errors_by_kind(store: Store, day: Day) -> None:
    t = overview.admin_overview(store, ADMIN, now=NOW).today
    assert (t.start, t.date) == (DAY_START, "2026-12-01")
    assert (t.requests, t.errors, t.errors_by_kind, t.tokens, t.unpriced) == (
        EXPECTED["requests"],
        EXPECTED["errors"],
        EXPECTED["errors_by_kind"],
        EXPECTED["tokens"],
        EXPECTED["unpriced"],
    )
    assert t.cost_usd == pytest.approx(EXPECTED["cost_usd"])


def test_a_day_without_requests_is_all_zeros(store: Store, day: Day) -> None:
    t = overview.admin_overview(store, ADMIN, now=NOW + 86400).today
    assert (t.requests, t.errors, t.tokens, t.cost_usd, t.unpriced) == (0, 0, 0, 0.0, 0)
    assert t.errors_by_kind == {"client": 0, "policy": 0, "upstream": 0}


def test_users_and_keys_near_or_over_a_budget_most_used_first(store: Store, day: Day) -> None:
    near = overview.admin_overview(store, ADMIN, now=NOW).near_budget
    assert [(u.scope, u.subject, u.values.period) for u in near] == [
        ("key", day.ci_public_id, "day"),
        ("user", "ann", "day"),
    ]
    assert [u.used_percent for u in near] == ["120%", "90%"]
    assert near[0].key_name == "ci" and near[0].owner == "ben"
    # ben's month: 0.60 spent is not near 10 USD, nor 0.76 USD (78%); it is near 0.70 USD (85%)
    limits.set_limits(store, ADMIN, "ben", budget_usd=0.76)
    assert [u.subject for u in overview.admin_overview(store, ADMIN, now=NOW).near_budget] == [
        day.ci_public_id,
        "ann",
    ]
    limits.set_limits(store, ADMIN, "ben", budget_usd=0.7)
    near = overview.admin_overview(store, ADMIN, now=NOW).near_budget
    assert [(u.subject, u.used_percent) for u in near] == [
        (day.ci_public_id, "120%"),
        ("ann", "90%"),
        ("ben", "85%"),
    ]


def test_upstream_key_states_per_provider(store: Store, day: Day) -> None:
    o = overview.admin_overview(store, ADMIN, now=NOW)
    assert o.keys_live and o.keys_age == pytest.approx(2.0)
    assert [(p.provider, p.ok, p.cooling, p.rejected) for p in o.providers] == [
        ("other", 0, 1, 0),
        ("up", 1, 0, 1),
    ]
    assert o.providers[1].reasons == ["sk-…wxyz: 401 invalid_api_key"]
    later = overview.admin_overview(store, ADMIN, now=NOW + 60)
    assert not later.keys_live and later.keys_age == pytest.approx(62.0)


def test_nothing_published_and_nothing_near(store: Store) -> None:
    users.create_user(store, ADMIN, "root", "a long enough password", role="admin")
    o = overview.admin_overview(store, ADMIN, now=NOW)
    assert o.providers == [] and o.keys_age is None and not o.keys_live and o.near_budget == []


def test_only_administrators(store: Store, day: Day) -> None:
    ann = users.list_users(store, ADMIN)
    ann_id = next(u.id for u in ann if u.name == "ann")
    with pytest.raises(PermissionDenied):
        overview.admin_overview(store, Actor.user(ann_id, "ann"), now=NOW)
