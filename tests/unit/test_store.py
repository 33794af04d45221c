"""Tests for llmgw.store against real SQLite files."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from llmgw.cli.usage import summary_json
from llmgw.services import usage
from llmgw.services.audit import Actor
from llmgw.storage import Store, UsageRow, UsageStats


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "llmgw.db"


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    """On each engine (tests/conftest.py's `database`)."""
    with Store.open(database) as s:
        yield s


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[Store]:
    """For what only a file has (PostgreSQL's are in test_pg_store.py)."""
    with Store.open(db_path) as s:
        yield s


def raw(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Query the file through a separate plain sqlite3 connection."""
    with closing(sqlite3.connect(db_path)) as conn:
        return conn.execute(sql, params).fetchall()


def summary(store: Store, since: float | None) -> usage.UsageSummary:
    """`llmgw usage`'s summary (services/usage_report.py), over what this store's rollups hold."""
    return usage.summary(store, Actor.cli(), since)


def summary_data(store: Store, since: float | None) -> dict[str, Any]:
    """`llmgw usage --json`."""
    data: dict[str, Any] = json.loads(summary_json(summary(store, since)))
    return data


def total(store: Store, since: float | None = None) -> UsageStats:
    return summary(store, since).report.total


def row(request_id: str, **fields: Any) -> UsageRow:
    fields.setdefault("created_at", 1_000.0)
    fields.setdefault("status", 200)
    return UsageRow(request_id=request_id, endpoint="/v1/chat/completions", **fields)


def test_open_creates_parent_dirs_and_records_migration(sqlite_store: Store, db_path: Path) -> None:
    assert db_path.exists()
    applied = raw(db_path, "SELECT migration_set, name FROM _sqlite_migrations")
    assert applied[:5] == [
        ("llmgw", "m001_requests"),
        ("llmgw", "m002_token_details"),
        ("llmgw", "m003_auth_failures"),
        ("llmgw", "m004_accounts"),
        ("llmgw", "m005_usage_source_and_cost"),
    ]
    names = [name for _, name in applied]
    assert names == sorted(names) and len(set(names)) == len(names)  # later steps: m006, m007 …


def test_reopen_is_idempotent(db_path: Path) -> None:
    with Store.open(db_path) as s:
        s.insert_requests([row("a")])
    applied = raw(db_path, "SELECT COUNT(*) FROM _sqlite_migrations")
    with Store.open(db_path) as s:
        assert [r["request_id"] for r in s.recent_requests(10)] == ["a"]
    assert raw(db_path, "SELECT COUNT(*) FROM _sqlite_migrations") == applied


def test_pragmas_are_set(sqlite_store: Store) -> None:
    assert sqlite_store.pragmas() == {
        "journal_mode": "wal",
        "busy_timeout": 5000,
        "foreign_keys": 1,
        "synchronous": 1,  # NORMAL
    }


def test_schema_matches_usage_row(sqlite_store: Store, db_path: Path) -> None:
    # PRAGMA table_info: (cid, name, type, notnull, dflt_value, pk)
    info = {r[1]: r for r in raw(db_path, "PRAGMA table_info(requests)")}
    assert list(info) == [f.name for f in dataclasses.fields(UsageRow)]
    assert info["request_id"][5] == 1
    not_null = {name for name, r in info.items() if r[3]}
    assert not_null == {
        "created_at",
        "endpoint",
        "status",
        "streamed",
        "client_closed",
        "tokens_estimated",
        "attempts",
        "usage_source",
    }
    assert info["attempts"][4] == "1"
    indexed = {r[0] for r in raw(db_path, "SELECT sql FROM sqlite_master WHERE type = 'index'") if r[0]}
    assert any("(created_at)" in sql for sql in indexed)
    assert any("(model_requested, created_at)" in sql for sql in indexed)  # m016: by model, newest first


def test_insert_round_trip(store: Store) -> None:
    full = row(
        "r1",
        provider="openai",
        model_requested="gpt-4o",
        model_upstream="gpt-4o-2024-08-06",
        key_index=2,
        prompt_tokens=10,
        completion_tokens=5,
        total_tokens=15,
        cached_tokens=3,
        streamed=True,
        client_closed=True,
        latency_ms=12.5,
        ttft_ms=3.25,
        attempts=2,
        user_id=7,
        api_key_id=9,
    )
    store.insert_requests([full])
    assert store.recent_requests(1) == [dataclasses.asdict(full)]


def test_duplicate_request_id_replaces_without_failing_batch(store: Store) -> None:
    store.insert_requests([row("a", status=500), row("b"), row("a", status=200)])
    got = {r["request_id"]: r["status"] for r in store.recent_requests(10)}
    assert got == {"a": 200, "b": 200}


def test_empty_batch_is_noop(store: Store) -> None:
    store.insert_requests([])
    assert store.recent_requests(10) == []


def test_recent_requests_newest_first_and_limited(store: Store) -> None:
    store.insert_requests([row(f"r{i}", created_at=float(i)) for i in range(5)])
    assert [r["request_id"] for r in store.recent_requests(3)] == ["r4", "r3", "r2"]


def test_usage_summary_math(store: Store) -> None:
    store.insert_requests(
        [
            row("1", provider="openai", model_requested="gpt", prompt_tokens=10, completion_tokens=5,
                total_tokens=15, cached_tokens=2),
            row("2", provider="openai", model_requested="gpt", prompt_tokens=None, completion_tokens=None),
            row("3", provider="openai", model_requested="gpt", status=502, error_type="upstream_error"),
            row("4", provider="anthropic", model_requested="claude", prompt_tokens=7, completion_tokens=1,
                total_tokens=8),
            row("5", provider="anthropic", model_requested="claude", status=200, error_type="stream_aborted"),
            row("6", provider=None, model_requested="nope", status=404),
        ]
    )  # fmt: skip
    t = total(store)
    assert (t.requests, t.errors) == (6, 3)
    assert (t.prompt_tokens, t.completion_tokens) == (17, 6)
    assert (t.total_tokens, t.cached_tokens) == (23, 2)
    by = {(g.provider, g.model): g.stats for g in summary(store, None).report.groups}
    assert set(by) == {("openai", "gpt"), ("anthropic", "claude"), (None, "nope")}
    gpt = by["openai", "gpt"]
    assert (gpt.requests, gpt.errors, gpt.prompt_tokens, gpt.cached_tokens) == (3, 1, 10, 2)
    claude = by["anthropic", "claude"]
    assert (claude.requests, claude.errors, claude.total_tokens, claude.cached_tokens) == (2, 1, 8, 0)
    assert (by[None, "nope"].requests, by[None, "nope"].errors) == (1, 1)


def test_usage_summary_empty(store: Store) -> None:
    assert summary_data(store, None) == {
        "requests": 0,
        "errors": 0,
        "errors_upstream": 0,
        "errors_policy": 0,
        "errors_client": 0,
        "errors_unclassified": 0,
        "error_codes": [],
        "upstream_error_rate": 0.0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cached_tokens": 0,
        "auth_failures": 0,
        "since": None,
        "by_model": [],
        "cost_usd": 0.0,
        "unpriced_requests": 0,
        "by_source": {
            source: {
                "requests": 0,
                "errors": 0,
                "errors_upstream": 0,
                "errors_policy": 0,
                "errors_client": 0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "total_tokens": 0,
                "cached_tokens": 0,
            }
            for source in ("provider", "estimated", "none")
        },
    }


def test_usage_summary_since_counts_whole_utc_hours(store: Store) -> None:
    """The summary reads the hourly rollups: `since` takes the whole hour it falls in."""
    store.insert_requests(
        [
            row("old", created_at=3_599.0, prompt_tokens=1),
            row("edge", created_at=3_600.0, prompt_tokens=10),
            row("later", created_at=5_000.0, prompt_tokens=100),
            row("new", created_at=7_200.0, prompt_tokens=1_000),
        ]
    )
    assert total(store).prompt_tokens == 1_111
    assert total(store, 3_600.0).prompt_tokens == 1_110  # inclusive bound
    assert total(store, 5_000.0).prompt_tokens == 1_110  # inside an hour: that whole hour
    assert total(store, 7_199.0).prompt_tokens == 1_110
    assert total(store, 7_200.0).prompt_tokens == 1_000
    assert total(store, 10_800.0).requests == 0


def test_by_model_sorted_by_requests_desc_and_json_shape(store: Store) -> None:
    rows = [row(f"a{i}", provider="p", model_requested="a") for i in range(1)]
    rows += [row(f"b{i}", provider="p", model_requested="b") for i in range(3)]
    rows += [row(f"c{i}", provider="q", model_requested="c") for i in range(2)]
    store.insert_requests(rows)
    data = summary_data(store, 0.0)
    assert data["since"] == "1970-01-01T00:00:00+00:00"
    assert [(m["model"], m["requests"]) for m in data["by_model"]] == [("b", 3), ("c", 2), ("a", 1)]
    assert set(data["by_model"][0]) == {
        "provider",
        "model",
        "aliases",
        "requests",
        "errors",
        "errors_upstream",
        "errors_policy",
        "errors_client",
        "errors_unclassified",
        "error_codes",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cached_tokens",
        "cost_usd",
        "priced",
        "unpriced_requests",
    }


def test_connection_usable_from_other_thread(store: Store) -> None:
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.insert_requests([row("t")])
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert errors == []
    assert total(store).requests == 1


def test_close_is_idempotent(db_path: Path) -> None:
    s = Store.open(db_path)
    s.close()
    s.close()
    with pytest.raises(sqlite3.ProgrammingError):
        s.recent_requests(1)


def test_m005_gives_older_rows_their_usage_source(tmp_path: Path) -> None:
    """Rows written before m005 get `provider`, `estimated` or `none` from what they hold."""
    import sqlite_utils

    from llmgw.storage.migrations import migrations

    db = sqlite_utils.Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="m005_usage_source_and_cost")
    base = {
        "endpoint": "/v1/chat/completions",
        "created_at": 1.0,
        "streamed": 0,
        "client_closed": 0,
        "tokens_estimated": 0,
    }
    db["requests"].insert_all(
        [
            {**base, "request_id": "a", "status": 200, "prompt_tokens": 3, "completion_tokens": 4},
            {**base, "request_id": "b", "status": 200, "prompt_tokens": 3, "tokens_estimated": 1},
            {**base, "request_id": "c", "status": 502},
        ]
    )
    migrations.apply(db)
    sources = {r["request_id"]: r["usage_source"] for r in db["requests"].rows}
    assert sources == {"a": "provider", "b": "estimated", "c": "none"}
    assert {r["cost_usd"] for r in db["requests"].rows} == {None}
