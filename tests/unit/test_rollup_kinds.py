"""The rollups per upstream model and error kind (m015, storage/rollups.py and rollup_m015.py): errors
counted per kind with their codes, a replaced row's kind and code taken out (spool replay), retention
of both tables, and m015's rebuild of a database the previous schema made: re-summed where raw rows
are, kept as unclassified where retention dropped them."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from llmgw.storage import Spool, Store, UsageRow, UsageStats, rollups
from llmgw.storage.migrations import migrations
from llmgw.storage.requests import COLUMNS
from llmgw.storage.rollups import ErrorCount
from tests.support import raw_db

H = 3600.0
T0 = 1_700_000_000.0 - 1_700_000_000.0 % 86400  # a UTC midnight


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


def row(request_id: str, **fields: Any) -> UsageRow:
    fields.setdefault("created_at", T0 + 10)
    fields.setdefault("status", 200)
    fields.setdefault("provider", "ant")
    fields.setdefault("model_requested", "smart")
    fields.setdefault("model_upstream", "claude-sonnet-4-5")
    return UsageRow(request_id=request_id, endpoint="/v1/messages", **fields)


def err(request_id: str, status: int, kind: str | None, code: str | None, **fields: Any) -> UsageRow:
    return row(request_id, status=status, error_kind=kind, error_type=code, **fields)


def raw(db: Store | Path, sql: str) -> list[tuple[Any, ...]]:
    return raw_db.rows(db, sql)


def only(store: Store, **kw: Any) -> UsageStats:
    found = store.usage_rollups(since=None, until=None, **kw)
    assert len(found) == 1
    (t,) = found.values()
    return t


def kinds(t: UsageStats) -> tuple[int, int, int, int, int]:
    return (t.errors, t.errors_client, t.errors_policy, t.errors_upstream, t.errors_unclassified)


def from_raw(db: Store | Path) -> dict[tuple[str, str], int]:
    """Errors per (kind, code), counted from the raw rows: what the codes table must say."""
    return {
        (k or "", c or ""): n
        for k, c, n in raw(
            db,
            "SELECT error_kind, error_type, COUNT(*) FROM requests "
            "WHERE status >= 400 OR error_type IS NOT NULL GROUP BY 1, 2",
        )
    }


def codes(t: UsageStats) -> dict[tuple[str, str], int]:
    return {(e.kind or "", e.code or ""): e.count for e in t.error_codes}


def test_errors_are_counted_per_kind_with_their_codes(store: Store) -> None:
    store.insert_requests(
        [
            row("ok"),
            err("a", 429, "policy", "gateway_rate_limit_exceeded"),
            err("b", 429, "policy", "gateway_rate_limit_exceeded"),
            err("c", 429, "policy", "budget_exceeded"),
            err("d", 502, "upstream", "upstream_error"),
            err("e", 400, "client", "invalid_request_error"),
            row("f", status=200, error_kind="upstream", error_type="stream_cut"),  # cut after 200
            err("g", 500, None, None),  # no kind recorded: unclassified
        ]
    )
    t = only(store)
    assert t.requests == 8
    assert kinds(t) == (7, 1, 3, 2, 1)
    assert t.upstream_error_rate == 2 / 8 and t.policy_refusal_rate == 3 / 8 and t.client_error_rate == 1 / 8
    # upstream first (what an administrator can act on), then by count; unclassified last
    assert t.error_codes == (
        ErrorCount("upstream", "stream_cut", 1),
        ErrorCount("upstream", "upstream_error", 1),
        ErrorCount("policy", "gateway_rate_limit_exceeded", 2),
        ErrorCount("policy", "budget_exceeded", 1),
        ErrorCount("client", "invalid_request_error", 1),
        ErrorCount(None, None, 1),
    )
    assert [e.code for e in t.codes_of("policy")] == ["gateway_rate_limit_exceeded", "budget_exceeded"]


def test_a_success_is_no_error_whatever_kind_it_carries(store: Store) -> None:
    # error_kind without an error (a writer's mistake) must not count as one of a kind
    store.insert_requests([row("ok", error_kind="upstream")])
    t = only(store)
    assert kinds(t) == (0, 0, 0, 0, 0) and t.error_codes == ()
    assert raw(store, "SELECT COUNT(*) FROM usage_errors_hourly") == [(0,)]


def test_codes_follow_the_groups_a_report_asks_for(store: Store) -> None:
    store.insert_requests(
        [
            err("a", 429, "policy", "gateway_rate_limit_exceeded", user_id=1),
            err("b", 502, "upstream", "upstream_error", user_id=2, created_at=T0 + 2 * H),
            err("c", 404, "policy", "model_not_found", user_id=2, provider=None, model_upstream=None,
                model_requested="nope"),
        ]
    )  # fmt: skip
    by_user = store.usage_rollups(since=None, until=None, dims=("user",))
    assert {u: codes(t) for (u,), t in by_user.items()} == {
        1: {("policy", "gateway_rate_limit_exceeded"): 1},
        2: {("upstream", "upstream_error"): 1, ("policy", "model_not_found"): 1},
    }
    by_model = store.usage_rollups(since=None, until=None, dims=("provider", "upstream_model", "model"))
    assert by_model[(None, None, "nope")].error_codes == (ErrorCount("policy", "model_not_found", 1),)
    # a range: the hour of "b" only
    later = store.usage_rollups(since=T0 + 2 * H, until=None)
    assert codes(later[()]) == {("upstream", "upstream_error"): 1}


def test_a_replaced_row_takes_its_kind_and_code_out(store: Store) -> None:
    # A spool replay writes a request again, here with what the first write got wrong.
    store.insert_requests(
        [err("a", 502, "upstream", "upstream_error"), err("b", 429, "policy", "budget_exceeded")]
    )
    store.insert_requests([err("a", 400, "client", "invalid_request_error", created_at=T0 + 3 * H)])
    t = only(store)
    assert kinds(t) == (2, 1, 1, 0, 0)
    assert (
        codes(t)
        == from_raw(store)
        == {("client", "invalid_request_error"): 1, ("policy", "budget_exceeded"): 1}
    )
    # the old code's row is gone, not left at 0
    assert raw(store, "SELECT error_kind, error_type, errors FROM usage_errors_hourly ORDER BY 1") == [
        ("client", "invalid_request_error", 1),
        ("policy", "budget_exceeded", 1),
    ]
    # replaying the same rows again changes nothing
    store.insert_requests([err("a", 400, "client", "invalid_request_error", created_at=T0 + 3 * H)] * 2)
    assert kinds(only(store)) == (2, 1, 1, 0, 0)
    # and a row that became a success leaves no error behind
    store.insert_requests([row("a", created_at=T0 + 3 * H)])
    assert codes(only(store)) == from_raw(store) == {("policy", "budget_exceeded"): 1}


def test_random_replays_agree_with_the_raw_rows(store: Store) -> None:
    rng = random.Random(15)
    choices = [(200, None, None), (429, "policy", "budget_exceeded"), (429, "policy", "rate"),
               (502, "upstream", "upstream_error"), (400, "client", "bad"), (500, None, None)]  # fmt: skip
    for _ in range(25):
        batch = []
        for _ in range(rng.randrange(1, 20)):
            status, kind, code = rng.choice(choices)
            batch.append(
                row(f"r{rng.randrange(120)}", status=status, error_kind=kind, error_type=code,
                    created_at=T0 + rng.uniform(0, 5 * H), user_id=rng.choice([None, 1]),
                    model_upstream=rng.choice([None, "claude-sonnet-4-5"]))
            )  # fmt: skip
        store.insert_requests(batch)
    t = only(store)
    assert codes(t) == from_raw(store)
    (n, per_kind) = raw(
        store,
        "SELECT COUNT(*), SUM(CASE WHEN error_kind = 'policy' AND status >= 400 THEN 1 ELSE 0 END) "
        "FROM requests",
    )[0]
    assert t.requests == n and t.errors_policy == per_kind


def test_retention_drops_both_tables_hours(store: Store) -> None:
    store.insert_requests(
        [err(f"r{h}", 502, "upstream", "upstream_error", created_at=T0 + h * H + 1) for h in range(4)]
    )
    removed = 0
    while (n := store.purge_rollups_before(T0 + 2 * H + 1, limit=1)) > 0:
        removed += n
    assert removed == 4  # hours 0 and 1, in each table
    assert raw(store, "SELECT hour_start FROM usage_errors_hourly ORDER BY 1") == [
        (T0 + 2 * H,),
        (T0 + 3 * H,),
    ]
    assert only(store).errors_upstream == 2


def insert_raw(conn: sqlite3.Connection, rows: list[UsageRow]) -> None:
    columns = [c for c in COLUMNS if c in {r[1] for r in conn.execute("PRAGMA table_info(requests)")}]
    conn.executemany(
        f"INSERT INTO requests ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [tuple(getattr(r, c) for c in columns) for r in rows],
    )


def test_m015_rebuilds_the_rollups_of_a_database_the_previous_schema_made(tmp_path: Path) -> None:
    db_path = tmp_path / "llmgw.db"
    old_hour = [  # hour 0: its raw rows are purged below, so only their sums are left
        err("o1", 429, "policy", "budget_exceeded"),
        err("o2", 502, "upstream", "upstream_error"),
        row("o3", prompt_tokens=5, total_tokens=5, usage_source="provider", cost_usd=0.25),
    ]
    kept = [  # hour 2: still in the ledger
        err("k1", 429, "policy", "gateway_rate_limit_exceeded", created_at=T0 + 2 * H, provider=None,
            model_upstream=None),  # refused before m015's relay recorded a target
        err("k2", 502, "upstream", "upstream_error", created_at=T0 + 2 * H),
        row("k3", created_at=T0 + 2 * H, prompt_tokens=3, total_tokens=3, usage_source="provider",
            cost_usd=0.5, latency_ms=100.0),
    ]  # fmt: skip
    partly = [  # hour 4: one of its two rows purged
        err("p1", 400, "client", "invalid_request_error", created_at=T0 + 4 * H + 5),
        err("p2", 502, "upstream", "timeout", created_at=T0 + 4 * H + 100),
    ]
    stray = [err("s1", 502, "upstream", "upstream_error", created_at=T0 + 6 * H)]  # its hour's rollup purged
    with closing(sqlite3.connect(db_path)) as conn:
        db = sqlite_utils.Database(conn)
        migrations.apply(db, stop_before="m015_rollups_per_upstream_model_and_error_kind")
        insert_raw(conn, old_hour + kept + partly + stray)
        # the old rollups, as the code before m015 kept them
        rollups.backfill(db, rollups.M006)
        conn.execute("DELETE FROM usage_hourly WHERE hour_start = ?", [T0 + 6 * H])  # rollup retention
        conn.execute("DELETE FROM requests WHERE request_id IN ('o1', 'o2', 'o3', 'p1')")  # raw retention
        before = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT hour_start, SUM(requests), SUM(errors), SUM(prompt_tokens), SUM(cost_nusd) "
                "FROM usage_hourly GROUP BY 1"
            )
        }
        conn.commit()
    with Store.open(db_path) as store:
        hours = store.usage_rollups(since=None, until=None, dims=("hour",))
        # every total is what it was, hour by hour; the stray hour is not brought back
        assert {
            h: (t.requests, t.errors, t.prompt_tokens, round(t.cost_usd * 1e9)) for (h,), t in hours.items()
        } == before
        assert set(before) == {T0, T0 + 2 * H, T0 + 4 * H}
        # an hour whose rows are gone keeps its total errors, unclassified, without codes
        old = hours[(T0,)]
        assert kinds(old) == (2, 0, 0, 0, 2) and old.error_codes == ()
        # an hour still in the ledger: re-summed with kinds, codes and upstream models
        now = hours[(T0 + 2 * H,)]
        assert kinds(now) == (2, 0, 1, 1, 0)
        assert codes(now) == {("policy", "gateway_rate_limit_exceeded"): 1, ("upstream", "upstream_error"): 1}
        assert sum(now.latency_buckets) == 1
        # a partly purged hour: what is left is classified, the purged row unclassified
        part = hours[(T0 + 4 * H,)]
        assert kinds(part) == (2, 0, 0, 1, 1) and codes(part) == {("upstream", "timeout"): 1}
        models = store.usage_rollups(
            since=None, until=None, dims=("hour", "provider", "upstream_model", "model")
        )
        assert models[(T0, "ant", None, "smart")].requests == 3  # the model it went to: not known
        assert models[(T0 + 2 * H, "ant", "claude-sonnet-4-5", "smart")].requests == 2
        assert models[(T0 + 2 * H, None, None, "smart")].errors_policy == 1
        # from then on kept incrementally, the rebuilt groups included
        store.insert_requests([err("k3", 502, "upstream", "upstream_error", created_at=T0 + 2 * H)])
        assert kinds(store.usage_rollups(since=T0 + 2 * H, until=T0 + 3 * H)[()]) == (3, 0, 1, 2, 0)


def test_a_spool_replay_counts_each_error_once_under_its_last_kind_and_code(
    store: Store, tmp_path: Path
) -> None:
    # Written, then spooled again (the writer could not tell whether its batch went in), with the
    # second write of one request saying what happened in the end: the replay replaces the rows.
    spool = Spool(tmp_path / "llmgw.db.spool")
    first = [
        err("a", 502, "upstream", "upstream_error"),
        err("b", 429, "policy", "budget_exceeded"),
        row("c"),
    ]
    store.insert_requests(first)
    later = err("a", 499, "client", "client_closed")
    spool.append([*first[1:], later])
    assert spool.replay(store) == 3
    spool.append([*first[1:], later])
    assert spool.replay(store) == 3  # twice: still once each
    t = only(store)
    assert (t.requests, *kinds(t)) == (3, 2, 1, 1, 0, 0)
    assert codes(t) == from_raw(store) == {("client", "client_closed"): 1, ("policy", "budget_exceeded"): 1}
