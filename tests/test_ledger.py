"""Tests for llmgw.ledger: the batched writer thread and the `llmgw usage` helpers."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llmgw.cli.usage import format_usage_table, parse_since
from llmgw.storage import LedgerWriter, ModelUsage, Store, UsageRow, UsageSummary


def row(request_id: str, **fields: Any) -> UsageRow:
    return UsageRow(request_id=request_id, endpoint="/v1/chat/completions", status=200, **fields)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "llmgw.db") as s:
        yield s


class FlakyStore(Store):
    """A real store whose first `failures` inserts raise, as a locked or full disk would."""

    failures = 0
    calls = 0

    def insert_requests(self, rows: Sequence[UsageRow]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError("database is locked")
        super().insert_requests(rows)


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[FlakyStore]:
    with FlakyStore.open(tmp_path / "flaky.db") as s:
        yield s


def test_thousand_rows_from_several_threads_all_land(store: Store) -> None:
    writer = LedgerWriter(store, max_batch=64, max_delay=0.01)
    writer.start()

    def produce(prefix: str) -> None:
        for i in range(250):
            writer.record(row(f"{prefix}-{i}"))

    threads = [threading.Thread(target=produce, args=(f"t{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert store.usage_summary(None).requests == 1000
    assert writer.pending() == 0


def test_close_right_after_record_loses_nothing(store: Store) -> None:
    writer = LedgerWriter(store, max_delay=60.0)  # a batch would otherwise wait a minute
    writer.start()
    for i in range(10):
        writer.record(row(f"r{i}"))
    started = time.monotonic()
    writer.close()
    assert time.monotonic() - started < 5.0
    assert store.usage_summary(None).requests == 10


def test_rows_are_written_without_close(store: Store) -> None:
    writer = LedgerWriter(store, max_delay=0.01)
    writer.start()
    writer.record(row("a"))
    deadline = time.monotonic() + 5.0
    while writer.pending() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert store.usage_summary(None).requests == 1
    writer.close()


def test_close_without_start_flushes(store: Store) -> None:
    writer = LedgerWriter(store)
    writer.record(row("a"))
    assert writer.pending() == 1
    writer.close()
    assert writer.pending() == 0
    assert store.usage_summary(None).requests == 1


def test_record_after_close_writes_synchronously(store: Store) -> None:
    writer = LedgerWriter(store)
    writer.start()
    writer.close()
    writer.close()  # idempotent
    writer.record(row("late"))
    assert store.usage_summary(None).requests == 1
    with pytest.raises(RuntimeError):
        writer.start()


def test_write_failures_are_retried(flaky: FlakyStore, caplog: pytest.LogCaptureFixture) -> None:
    flaky.failures = 2
    writer = LedgerWriter(flaky, backoff=0.001)
    writer.start()
    for i in range(5):
        writer.record(row(f"r{i}"))
    with caplog.at_level(logging.WARNING, logger="llmgw.ledger"):
        writer.close()
    assert flaky.usage_summary(None).requests == 5
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "r0" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_persistent_failure_logs_dropped_count_and_thread_survives(
    flaky: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    # 3 attempts of the batch + 3 single-row salvage attempts fail; the later row succeeds.
    flaky.failures = 6
    writer = LedgerWriter(flaky, retries=2, backoff=0.0, max_delay=0.01)
    for i in range(3):
        writer.record(row(f"lost{i}"))  # queued before start(), so they form one batch
    with caplog.at_level(logging.WARNING, logger="llmgw.ledger"):
        writer.start()
        deadline = time.monotonic() + 5.0
        while writer.pending() and time.monotonic() < deadline:
            time.sleep(0.005)
        writer.record(row("kept"))
        writer.close()
    assert [r["request_id"] for r in flaky.recent_requests(10)] == ["kept"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "dropped 3 usage rows" in errors[0]


def test_record_is_cheap(store: Store) -> None:
    writer = LedgerWriter(store)  # not started: measure the queue put alone
    rows = [row(f"r{i}") for i in range(10_000)]
    started = time.perf_counter()
    for r in rows:
        writer.record(r)
    per_call = (time.perf_counter() - started) / len(rows)
    assert per_call < 20e-6  # generous bound for slow CI; typically well under 1 µs
    writer.close()


def test_invalid_max_batch(store: Store) -> None:
    with pytest.raises(ValueError):
        LedgerWriter(store, max_batch=0)


NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - 90),
        ("30m", NOW - 1800),
        ("24h", NOW - 86400),
        ("7d", NOW - 7 * 86400),
        (" 1.5h ", NOW - 5400),
        ("0s", NOW),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC).timestamp()),
        ("2026-11-01T12:00:00", datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp()),
        ("2026-11-01T12:00:00Z", datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp()),
        ("2026-11-01T14:00:00+02:00", datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp()),
    ],
)
def test_parse_since(text: str, expected: float) -> None:
    assert parse_since(text, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "7", "-5m", "5 days", "5w", "yesterday", "2026-13-01", "h"])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_since(text, NOW)


def test_format_usage_table() -> None:
    summary = UsageSummary(
        since=None,
        requests=1236,
        errors=3,
        prompt_tokens=1_500_000,
        completion_tokens=20,
        total_tokens=1_500_020,
        cached_tokens=0,
        by_model=[
            ModelUsage(provider="openai", model="gpt-4o", requests=1234, errors=2, prompt_tokens=1_500_000,
                       completion_tokens=20, total_tokens=1_500_020),
            ModelUsage(provider=None, model="nope", requests=2, errors=1),
        ],
    )  # fmt: skip
    lines = format_usage_table(summary).splitlines()
    assert lines[0].split() == [
        "provider",
        "model",
        "requests",
        "errors",
        "prompt",
        "completion",
        "total",
        "cached",
    ]
    assert lines[2].split() == ["openai", "gpt-4o", "1,234", "2", "1,500,000", "20", "1,500,020", "0"]
    assert lines[3].split() == ["-", "nope", "2", "1", "0", "0", "0", "0"]
    assert lines[-1].split() == ["total", "1,236", "3", "1,500,000", "20", "1,500,020", "0"]
    # Columns line up: every numeric cell ends at the same offset as its header.
    header_ends = [lines[0].index(h) + len(h) for h in ("requests", "cached")]
    for line in (lines[2], lines[3], lines[-1]):
        assert line.rstrip().endswith(("0", "4"))
        assert len(line) == header_ends[1]
    assert lines[2].index("1,234") + len("1,234") == header_ends[0]
