"""services/usage_report.py: who may see what, groups and their labels, series zero-filled, the
percentiles, all from the rollups."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmgw.errors import AccountNotFound, PermissionDenied
from llmgw.services import usage
from llmgw.services.audit import Actor
from llmgw.storage import BOUNDS_MS, Store, UsageRow
from llmgw.storage.rollups import percentile
from tests.support.accounts_rows import add_key, add_user, execute

NOV1 = 1_793_491_200.0  # 2026-11-01T00:00Z
H = 3600.0
CLI = Actor(name="cli:tester")


@pytest.fixture
def db(database: str) -> str:
    return database


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    with Store.open(db) as s:
        yield s


def row(request_id: str, **fields: Any) -> UsageRow:
    fields.setdefault("created_at", NOV1 + 10)
    fields.setdefault("status", 200)
    fields.setdefault("provider", "openai")
    fields.setdefault("model_requested", "gpt-4o")
    fields.setdefault("usage_source", "provider")
    return UsageRow(request_id=request_id, endpoint="/v1/chat/completions", **fields)


@pytest.fixture
def people(db: str, store: Store) -> dict[str, Any]:
    ann = add_user(db, "ann", role="admin")
    bob = add_user(db, "bob")
    gone = add_user(db, "gone")
    bob_key = add_key(db, bob, name="laptop")
    store.insert_requests(
        [
            row("a1", user_id=ann, total_tokens=10, cost_usd=1.0, latency_ms=100.0, ttft_ms=20.0),
            row("b1", user_id=bob, api_key_id=bob_key.key_id, total_tokens=20, cost_usd=0.5),
            row("b2", user_id=bob, api_key_id=bob_key.key_id, created_at=NOV1 + 86400 + 5, status=500,
                model_requested="gpt-4o-mini", usage_source="none"),
            row("b3", user_id=bob, provider="gemini", model_requested="flash", total_tokens=5),  # unpriced
            row("g1", user_id=gone, total_tokens=1, cost_usd=2.0),
            row("l1", user_id=None, total_tokens=3, cost_usd=0.25, created_at=NOV1 - 3 * 86400),
        ]
    )  # fmt: skip
    execute(db, "DELETE FROM users WHERE id = ?", (gone,))
    return {"ann": ann, "bob": bob, "gone": gone, "bob_key": bob_key}


def test_an_admin_sees_everyone_by_user_with_names(store: Store, people: dict[str, Any]) -> None:
    rep = usage.report(store, CLI, since=None, until=None, by="user")
    assert {g.label: (g.stats.requests, g.stats.cost_usd) for g in rep.groups} == {
        "ann": (1, 1.0),
        "bob": (3, 0.5),
        f"deleted user #{people['gone']}": (1, 2.0),
        "(no user)": (1, 0.25),
    }
    assert rep.groups[0].label == f"deleted user #{people['gone']}"  # biggest spender first
    assert rep.total.requests == 6 and rep.total.cost_usd == 3.75 and rep.total.unpriced_requests == 1
    assert rep.unpriced_models == ["gemini/flash"]
    bob = next(g for g in rep.groups if g.label == "bob")
    assert bob.user_id == people["bob"] and bob.stats.errors == 1
    assert bob.stats.error_rate == pytest.approx(1 / 3)


def test_a_portal_admin_may_narrow_to_one_user(store: Store, people: dict[str, Any]) -> None:
    ann = Actor.user(people["ann"], "ann")
    rep = usage.report(store, ann, since=NOV1, until=NOV1 + 7 * 86400, by="model", user="BOB")
    assert {g.label: g.stats.requests for g in rep.groups} == {
        "openai/gpt-4o": 1,
        "openai/gpt-4o-mini": 1,
        "gemini/flash": 1,
    }
    with pytest.raises(AccountNotFound):
        usage.report(store, ann, since=None, until=None, user="nobody")


def test_a_user_sees_only_their_own_usage(store: Store, db: str, people: dict[str, Any]) -> None:
    bob = Actor.user(people["bob"], "bob")
    rep = usage.report(store, bob, since=None, until=None, by="user")
    assert [(g.label, g.stats.requests) for g in rep.groups] == [("bob", 3)]
    assert usage.report(store, bob, since=None, until=None, user="bob").total.requests == 3
    with pytest.raises(PermissionDenied):
        usage.report(store, bob, since=None, until=None, user="ann")
    with pytest.raises(PermissionDenied):
        usage.series(store, bob, since=NOV1, until=NOV1 + H, grain="hour", user="ann")
    execute(db, "UPDATE users SET disabled = 1 WHERE id = ?", (people["bob"],))
    with pytest.raises(PermissionDenied):
        usage.report(store, bob, since=None, until=None)


def test_groups_by_key_provider_and_time(store: Store, people: dict[str, Any]) -> None:
    by_key = usage.report(store, CLI, since=None, until=None, by="key")
    laptop = next(g for g in by_key.groups if g.api_key_id is not None)
    assert laptop.label == f"laptop ({people['bob_key'].public_id})"
    assert (laptop.user_id, laptop.stats.requests) == (people["bob"], 2)
    assert {g.label for g in by_key.groups} == {laptop.label, "(no key)"}
    by_provider = usage.report(store, CLI, since=None, until=None, by="provider")
    assert {g.label: g.stats.requests for g in by_provider.groups} == {"openai": 5, "gemini": 1}
    by_day = usage.report(store, CLI, since=NOV1 - 3 * 86400, until=NOV1 + 2 * 86400, by="day")
    assert [(g.label, g.bucket_start, g.stats.requests) for g in by_day.groups] == [
        ("2026-10-29", NOV1 - 3 * 86400, 1),
        ("2026-11-01", NOV1, 4),
        ("2026-11-02", NOV1 + 86400, 1),
    ]
    by_month = usage.report(store, CLI, since=None, until=None, by="month")
    assert [(g.label, g.stats.requests) for g in by_month.groups] == [("2026-10", 1), ("2026-11", 5)]
    hours = usage.report(store, CLI, since=NOV1, until=NOV1 + H, by="hour")
    assert [(g.label, g.stats.requests) for g in hours.groups] == [("2026-11-01T00:00Z", 4)]


def test_a_report_without_grouping_is_its_total(store: Store, people: dict[str, Any]) -> None:
    rep = usage.report(store, CLI, since=NOV1 + 86400, until=None)
    assert rep.groups == [] and rep.by is None
    assert (rep.total.requests, rep.total.errors, rep.total.error_rate) == (1, 1, 1.0)
    empty = usage.report(store, CLI, since=NOV1 + 30 * 86400, until=None)
    assert empty.total.requests == 0 and empty.total.error_rate == 0.0
    assert empty.total.latency_p50_ms is None and empty.unpriced_models == []


def test_series_fill_every_bucket_for_every_label(store: Store, people: dict[str, Any]) -> None:
    points = usage.series(store, CLI, since=NOV1, until=NOV1 + 3 * 86400, grain="day", split="user")
    by_label: dict[str, list[tuple[float, int]]] = {}
    for p in points:
        by_label.setdefault(p.label, []).append((p.bucket_start, p.stats.requests))
    assert by_label["bob"] == [(NOV1, 2), (NOV1 + 86400, 1), (NOV1 + 2 * 86400, 0)]
    assert by_label["ann"] == [(NOV1, 1), (NOV1 + 86400, 0), (NOV1 + 2 * 86400, 0)]
    assert "(no user)" not in by_label  # none in range
    plain = usage.series(store, CLI, since=NOV1 + 12 * H, until=NOV1 + 15 * H, grain="hour")
    assert [(p.label, p.stats.requests) for p in plain] == [("all", 0)] * 3
    months = usage.series(store, CLI, since=NOV1 - 40 * 86400, until=NOV1 + 1, grain="month", split="model")
    assert [(p.label, p.bucket_start, p.stats.requests) for p in months if p.label == "openai/gpt-4o"] == [
        ("openai/gpt-4o", 1_788_220_800.0, 0),  # 2026-09-01
        ("openai/gpt-4o", 1_790_812_800.0, 1),  # 2026-10-01
        ("openai/gpt-4o", NOV1, 3),
    ]
    mine = usage.series(
        store, Actor.user(people["bob"], "bob"), since=NOV1, until=NOV1 + 86400, grain="day", split="model"
    )
    assert {p.label: p.stats.requests for p in mine} == {"openai/gpt-4o": 1, "gemini/flash": 1}


def test_percentiles_come_from_the_buckets(store: Store) -> None:
    store.insert_requests([row(f"r{i}", latency_ms=float(i), ttft_ms=50.0) for i in range(1, 1001)])
    stats = usage.report(store, CLI, since=None, until=None).total
    assert stats.latency_p50_ms == pytest.approx(500, rel=0.2)
    assert stats.latency_p95_ms == pytest.approx(950, rel=0.2)
    assert 2**5.5 < stats.ttft_p50_ms <= 2**6  # type: ignore[operator]
    assert percentile([0] * (len(BOUNDS_MS) + 1), 0.5) is None
    assert percentile([0] * len(BOUNDS_MS) + [3], 0.95) == BOUNDS_MS[-1]


SONNET = "claude-sonnet-4-5"


def test_one_group_per_model_with_its_aliases_and_refusals(store: Store) -> None:
    """An alias is inside the row of the model it routes to; a request refused after routing (a limit)
    counts in its model's row; a row written before targets were recorded on refusals (no provider)
    joins the model it names; an unknown model is its own row. The chart's series has the same rows
    and the same totals."""
    store.insert_requests(
        [
            row("a1", provider="ant", model_requested="smart", model_upstream=SONNET, cost_usd=0.5),
            row("a2", provider="ant", model_requested=f"ant/{SONNET}", model_upstream=SONNET,
                cost_usd=0.25),
            row("a3", provider="ant", model_requested="smart", model_upstream=SONNET, status=429,
                error_kind="policy", error_type="gateway_rate_limit_exceeded", usage_source="none"),
            row("a4", provider=None, model_requested=f"ant/{SONNET}", status=429, error_kind="policy",
                error_type="budget_exceeded", usage_source="none"),
            row("f1", provider="backup", model_requested="smart", model_upstream="gpt-4o-mini", cost_usd=0.1),
            row("n1", provider=None, model_requested="nope", status=404, error_kind="policy",
                error_type="model_not_found", usage_source="none"),
        ]
    )  # fmt: skip
    rep = usage.report(store, CLI, since=None, until=None, by="model")
    by = {g.label: g for g in rep.groups}
    assert sorted(by) == ["ant/claude-sonnet-4-5", "backup/gpt-4o-mini", "nope"]
    claude = by["ant/claude-sonnet-4-5"]
    assert (claude.provider, claude.model, claude.aliases) == ("ant", "claude-sonnet-4-5", ("smart",))
    assert (claude.stats.requests, claude.stats.errors_policy, claude.stats.cost_usd) == (4, 2, 0.75)
    assert {e.code for e in claude.stats.codes_of("policy")} == {
        "gateway_rate_limit_exceeded",
        "budget_exceeded",
    }
    assert by["backup/gpt-4o-mini"].aliases == ("smart",)  # a fallback: the alias reached it too
    nope = by["nope"]
    assert (nope.provider, nope.model, nope.aliases, nope.stats.errors_policy) == (None, "nope", (), 1)
    assert sum(g.stats.requests for g in rep.groups) == rep.total.requests == 6
    # the chart: the same labels, and per label the same totals as the table
    points = usage.series(store, CLI, since=NOV1, until=NOV1 + H, grain="hour", split="model")
    charted: dict[str, int] = {}
    for p in points:
        charted[p.label] = charted.get(p.label, 0) + p.stats.requests
    assert charted == {g.label: g.stats.requests for g in rep.groups}


def test_model_label_prefers_the_model_requests_went_to() -> None:
    from llmgw.services.usage_report import model_label

    assert model_label("ant", "smart", "claude-sonnet-4-5") == "ant/claude-sonnet-4-5"
    assert model_label("oai", "oai/gpt-4o") == "oai/gpt-4o"  # summed before m015: as requested
    assert model_label("oai", "smart") == "oai/smart"
    assert model_label(None, "nope") == "nope"
    assert model_label(None, None) == "(unknown model)"
