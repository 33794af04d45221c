"""The hourly rollups (storage/rollups.py): kept in step with the ledger in the insert's own
transaction (replaced rows taken out, NULL keys grouped), backfilled by m006, untouched by retention."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from llmgw.storage import LedgerWriter, Store, UsageRow, UsageStats
from llmgw.storage.migrations import migrations
from llmgw.storage.requests import COLUMNS
from llmgw.storage.rollups import BOUNDS_MS
from tests.support import raw_db

H = 3600.0
T0 = 1_700_000_000.0 - 1_700_000_000.0 % 86400  # a UTC midnight


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "llmgw.db"


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


def row(request_id: str, **fields: Any) -> UsageRow:
    fields.setdefault("created_at", T0 + 10)
    fields.setdefault("status", 200)
    fields.setdefault("provider", "openai")
    fields.setdefault("model_requested", "gpt-4o")
    return UsageRow(request_id=request_id, endpoint="/v1/chat/completions", **fields)


def raw(db: Store | Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return raw_db.rows(db, sql, params)


def total(store: Store, **kw: Any) -> UsageStats:
    kw.setdefault("since", None)
    kw.setdefault("until", None)
    rows = store.usage_rollups(**kw)
    assert len(rows) == 1
    (t,) = rows.values()
    return t


def counters(t: UsageStats) -> tuple[Any, ...]:
    return (
        t.requests,
        t.errors,
        t.prompt_tokens,
        t.completion_tokens,
        t.total_tokens,
        t.cached_tokens,
        t.cache_write_tokens,
        t.reasoning_tokens,
        round(t.cost_usd, 9),
        t.unpriced_requests,
        t.latency_buckets,
        t.ttft_buckets,
    )


def from_raw(db: Store | Path) -> tuple[int, int, int, int, float, int]:
    """What the rollups must say, summed from the raw rows."""
    (r,) = raw(
        db,
        "SELECT COUNT(*), "
        "COALESCE(SUM(CASE WHEN status >= 400 OR error_type IS NOT NULL THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(total_tokens), 0), "
        "COALESCE(SUM(cost_usd), 0), "
        "COALESCE(SUM(CASE WHEN cost_usd IS NULL AND usage_source != 'none' THEN 1 ELSE 0 END), 0) "
        "FROM requests",
    )
    r = (*r[:4], round(r[4], 9), r[5])
    return r  # type: ignore[return-value]


def summed(store: Store) -> tuple[int, int, int, int, float, int]:
    t = store.usage_rollups(since=None, until=None).get((), UsageStats())
    return (t.requests, t.errors, t.prompt_tokens, t.total_tokens, round(t.cost_usd, 9), t.unpriced_requests)


def test_an_insert_adds_its_rows_to_their_hour(store: Store) -> None:
    store.insert_requests(
        [
            row("a", prompt_tokens=10, completion_tokens=5, total_tokens=15, cached_tokens=2,
                cache_write_tokens=1, reasoning_tokens=3, usage_source="provider", cost_usd=0.25,
                latency_ms=100.0, ttft_ms=40.0),
            row("b", status=502, error_type="upstream_error", latency_ms=3000.0),
            row("c", prompt_tokens=7, total_tokens=7, usage_source="estimated", cost_usd=None),
            row("d", status=200, error_type="stream_cut", prompt_tokens=1, total_tokens=1,
                usage_source="provider", cost_usd=0.5),
        ]
    )  # fmt: skip
    t = total(store)
    assert (t.requests, t.errors) == (4, 2)
    assert (t.prompt_tokens, t.completion_tokens, t.total_tokens) == (18, 5, 23)
    assert (t.cached_tokens, t.cache_write_tokens, t.reasoning_tokens) == (2, 1, 3)
    assert t.cost_usd == 0.75
    assert t.unpriced_requests == 1  # "c": tokens but no price; "b" (source none) is not unpriced
    # 100 ms falls in (2^6.5, 2^7] = (90.5, 128]; 3000 ms in (2^11.5, 2^12] = (2896, 4096].
    assert sum(t.latency_buckets) == 2
    assert t.latency_buckets[BOUNDS_MS.index(2**7)] == 1
    assert t.latency_buckets[BOUNDS_MS.index(2**12)] == 1
    assert sum(t.ttft_buckets) == 1
    assert raw(store, "SELECT DISTINCT hour_start FROM usage_hourly") == [(int(T0),)]


def test_rows_land_in_their_own_hour_and_group(store: Store) -> None:
    store.insert_requests(
        [
            row("a", created_at=T0 + 1),
            row("b", created_at=T0 + H - 0.001),
            row("c", created_at=T0 + H),
            row("d", created_at=T0 + 1, model_requested="claude", provider="anthropic"),
            row("e", created_at=T0 + 1, user_id=3, api_key_id=9),
        ]
    )
    hours = raw(
        store,
        "SELECT hour_start, user_id, api_key_id, provider, model_requested, requests FROM usage_hourly "
        "ORDER BY hour_start, provider, user_id",
    )
    assert hours == [
        (T0, 0, 0, "anthropic", "claude", 1),
        (T0, 0, 0, "openai", "gpt-4o", 2),
        (T0, 3, 9, "openai", "gpt-4o", 1),
        (T0 + H, 0, 0, "openai", "gpt-4o", 1),
    ]


def test_null_keys_share_one_rollup_row(store: Store) -> None:
    """NULL user, key, provider and model are one group (sentinels: a UNIQUE key would let NULLs
    repeat), across batches and across replacements."""
    store.insert_requests([row("a", provider=None, model_requested=None, user_id=None, api_key_id=None)])
    store.insert_requests([row("b", provider=None, model_requested=None)])
    store.insert_requests([row("b", provider=None, model_requested=None, prompt_tokens=4)])
    assert raw(store, "SELECT COUNT(*), SUM(requests), SUM(prompt_tokens) FROM usage_hourly") == [(1, 2, 4)]
    (group,) = store.usage_rollups(since=None, until=None, dims=("user", "key", "provider", "model"))
    assert group == (None, None, None, None)


def test_a_replaced_row_is_taken_out_before_the_new_one_is_added(store: Store) -> None:
    first = row("a", prompt_tokens=100, total_tokens=100, usage_source="estimated", cost_usd=None,
                latency_ms=50.0)  # fmt: skip
    store.insert_requests([first, row("other", prompt_tokens=1, total_tokens=1, cost_usd=0.1)])
    # The same request written again: another hour, user, model and source, and a price.
    second = row("a", created_at=T0 + 5 * H, user_id=2, model_requested="gpt-4o-mini", prompt_tokens=7,
                 total_tokens=7, usage_source="provider", cost_usd=0.3, latency_ms=900.0)  # fmt: skip
    store.insert_requests([second])
    groups = raw(store, "SELECT hour_start, user_id, model_requested, requests FROM usage_hourly")
    assert sorted(groups) == [(T0, 0, "gpt-4o", 1), (T0 + 5 * H, 2, "gpt-4o-mini", 1)]  # old group gone
    assert summed(store) == from_raw(store) == (2, 0, 8, 8, 0.4, 0)
    t = total(store)
    assert sum(t.latency_buckets) == 1 and t.latency_buckets[BOUNDS_MS.index(2**10)] == 1


def test_replaying_a_spool_twice_counts_each_request_once(store: Store) -> None:
    rows = [
        row(f"r{i}", prompt_tokens=i, total_tokens=i, usage_source="provider", cost_usd=0.1 * i,
            latency_ms=10.0 * i, ttft_ms=float(i))
        for i in range(1, 40)
    ]  # fmt: skip
    store.insert_requests(rows)
    before = counters(total(store))
    store.insert_requests(rows)
    store.insert_requests(rows[:10])
    assert counters(total(store)) == before
    assert summed(store) == from_raw(store)


def test_a_batch_with_one_request_twice_keeps_the_last(store: Store) -> None:
    store.insert_requests([row("a", prompt_tokens=1), row("a", prompt_tokens=5), row("b", prompt_tokens=2)])
    t = total(store)
    assert (t.requests, t.prompt_tokens) == (2, 7)
    assert raw(store, "SELECT prompt_tokens FROM requests WHERE request_id = 'a'") == [(5,)]


def test_random_batches_agree_with_the_raw_rows(store: Store) -> None:
    rng = random.Random(11)
    for _ in range(30):
        batch = [
            row(
                f"r{rng.randrange(300)}",
                created_at=T0 + rng.uniform(0, 72 * H),
                user_id=rng.choice([None, 1, 2]),
                api_key_id=rng.choice([None, 5]),
                provider=rng.choice([None, "openai", "gemini"]),
                status=rng.choice([200, 200, 429, 500]),
                prompt_tokens=rng.choice([None, rng.randrange(1000)]),
                total_tokens=rng.randrange(2000),
                usage_source=rng.choice(["provider", "estimated", "none"]),
                cost_usd=rng.choice([None, rng.randrange(10**6) / 10**6]),
            )
            for _ in range(rng.randrange(1, 25))
        ]
        store.insert_requests(batch)
    assert summed(store) == from_raw(store)
    by_day = store.usage_rollups(since=None, until=None, dims=("day", "user"))
    raw_by_day = raw(
        store,
        "SELECT FLOOR(created_at / 86400) * 86400, user_id, COUNT(*), "
        "COALESCE(SUM(total_tokens), 0) FROM requests GROUP BY 1, 2 ORDER BY 1, COALESCE(user_id, 0)",
    )
    assert [(day, user, t.requests, t.total_tokens) for (day, user), t in by_day.items()] == raw_by_day


def test_ranges_read_whole_hours_and_group_by_day_and_month(store: Store) -> None:
    nov1 = 1_793_491_200.0  # 2026-11-01T00:00Z
    store.insert_requests(
        [
            row("oct", created_at=nov1 - 10),
            row("nov1", created_at=nov1 + 30 * 60),
            row("nov2", created_at=nov1 + 86400 + 5),
        ]
    )
    assert total(store, until=nov1 + 86400).requests == 2  # [-inf, Nov 2)
    assert total(store, since=nov1 + 45 * 60).requests == 2  # an edge inside an hour takes the hour
    assert store.usage_rollups(since=nov1 + H, until=nov1 + 2 * H) == {}
    days = store.usage_rollups(since=None, until=None, dims=("day",))
    assert [(day, t.requests) for (day,), t in days.items()] == [
        (nov1 - 86400, 1),
        (nov1, 1),
        (nov1 + 86400, 1),
    ]
    months = store.usage_rollups(since=None, until=None, dims=("month",))
    assert [(month, t.requests) for (month,), t in months.items()] == [
        (1_790_812_800, 1),
        (nov1, 2),
    ]  # Oct 1, Nov 1


def test_m006_backfills_the_rows_already_there(db_path: Path) -> None:
    with closing(sqlite3.connect(db_path)) as conn:
        db = sqlite_utils.Database(conn)
        migrations.apply(db, stop_before="m006_rollups")
        rows = [
            row("a", prompt_tokens=3, total_tokens=3, usage_source="provider", cost_usd=0.5, latency_ms=20.0),
            row("b", user_id=None, provider=None, status=500, usage_source="none"),
            row("c", created_at=T0 + 3 * H, prompt_tokens=2, total_tokens=2, usage_source="estimated"),
        ]
        then = [c for c in COLUMNS if c != "error_kind"]  # the ledger's columns before m012
        conn.executemany(
            f"INSERT INTO requests ({', '.join(then)}) VALUES ({', '.join('?' * len(then))})",
            [tuple(getattr(r, c) for c in then) for r in rows],
        )
        conn.commit()
    with Store.open(db_path) as store:
        assert summed(store) == from_raw(db_path) == (3, 1, 5, 5, 0.5, 1)
        assert len(store.usage_rollups(since=None, until=None, dims=("hour", "provider"))) == 3
        # and from then on maintained incrementally, the backfilled groups included
        store.insert_requests(
            [row("a", prompt_tokens=1, total_tokens=1, usage_source="provider", cost_usd=0.5)]
        )
        assert summed(store) == from_raw(db_path) == (3, 1, 3, 3, 0.5, 1)


def test_purging_raw_rows_leaves_the_rollups_equal(store: Store) -> None:
    store.insert_requests(
        [row(f"r{i}", created_at=T0 + i * 60, prompt_tokens=i, total_tokens=i, cost_usd=0.01,
             latency_ms=float(i)) for i in range(1200)]
    )  # fmt: skip
    before = [
        counters(t) for t in store.usage_rollups(since=None, until=None, dims=("hour", "model")).values()
    ]
    cutoff = T0 + 1000 * 60
    removed = []
    while (n := store.purge_requests_before(cutoff, limit=300)) > 0:
        removed.append(n)
    assert removed == [300, 300, 300, 100]
    assert raw(store, "SELECT COUNT(*), MIN(created_at) FROM requests") == [(200, cutoff)]
    after = [
        counters(t) for t in store.usage_rollups(since=None, until=None, dims=("hour", "model")).values()
    ]
    assert after == before


def test_purging_rollups_drops_only_hours_that_ended(store: Store) -> None:
    store.insert_requests([row(f"r{h}", created_at=T0 + h * H + 1) for h in range(5)])
    assert store.purge_rollups_before(T0 + 2 * H + 1, limit=500) == 2  # hours 0 and 1 ended; 2 has not
    assert [hour for (hour,) in store.usage_rollups(since=None, until=None, dims=("hour",))] == [
        T0 + h * H for h in (2, 3, 4)
    ]


def test_the_writer_keeps_writing_while_a_purge_runs(store: Store) -> None:
    store.insert_requests([row(f"old{i}", created_at=T0 + i) for i in range(20_000)])
    writer = LedgerWriter(store)
    writer.start()
    purged: list[int] = []

    def purge() -> None:
        while (n := store.purge_requests_before(T0 + 86400, limit=500)) > 0:
            purged.append(n)

    purger = threading.Thread(target=purge)
    purger.start()
    for i in range(500):
        writer.record(row(f"new{i}", created_at=T0 + 2 * 86400))
    writer.close(timeout=30)
    purger.join(timeout=60)
    assert sum(purged) == 20_000 and len(purged) == 40
    assert raw(store, "SELECT COUNT(*) FROM requests") == [(500,)]
    assert total(store, since=T0 + 2 * 86400).requests == 500
    assert summed(store)[0] == 20_500
