"""Tests for llmgw.ledger: the batched writer thread and the `llmgw usage` helpers."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llmgw.cli.usage import format_usage_table, parse_since, summary_json
from llmgw.services import usage
from llmgw.services.audit import Actor
from llmgw.services.usage import UsageGroup, UsageReport, UsageStats, UsageSummary
from llmgw.services.usage_report import model_label
from llmgw.storage import LedgerWriter, Spool, Store, UsageRow


def row(request_id: str, **fields: Any) -> UsageRow:
    return UsageRow(request_id=request_id, endpoint="/v1/chat/completions", status=200, **fields)


def spooled_ids(spool: Spool) -> list[str]:
    """The request ids in a spool file, in order."""
    if not spool.path.exists():
        return []
    lines = spool.path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["request_id"] for line in lines if "request_id" in line]


def wait_until_written(writer: LedgerWriter) -> None:
    deadline = time.monotonic() + 10.0
    while writer.pending() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert writer.pending() == 0


def hold_write_lock(db: Path) -> sqlite3.Connection:
    """Another process's connection holding the database's write lock."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def requests_in(store: Store) -> int:
    """The requests the rollups count, all time."""
    return sum(t.requests for t in store.usage_rollups(since=None, until=None).values())


def ids_in(store: Store) -> list[str]:
    return sorted(r["request_id"] for r in store.recent_requests(100_000))


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
    assert requests_in(store) == 1000
    assert writer.pending() == 0


def test_close_right_after_record_loses_nothing(store: Store) -> None:
    writer = LedgerWriter(store, max_delay=60.0)  # a batch would otherwise wait a minute
    writer.start()
    for i in range(10):
        writer.record(row(f"r{i}"))
    started = time.monotonic()
    writer.close()
    assert time.monotonic() - started < 5.0
    assert requests_in(store) == 10


def test_rows_are_written_without_close(store: Store) -> None:
    writer = LedgerWriter(store, max_delay=0.01)
    writer.start()
    writer.record(row("a"))
    deadline = time.monotonic() + 5.0
    while writer.pending() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert requests_in(store) == 1
    writer.close()


def test_close_without_start_flushes(store: Store) -> None:
    writer = LedgerWriter(store)
    writer.record(row("a"))
    assert writer.pending() == 1
    writer.close()
    assert writer.pending() == 0
    assert requests_in(store) == 1


def test_record_after_close_goes_to_the_spool(store: Store) -> None:
    writer = LedgerWriter(store)
    writer.start()
    writer.close()
    writer.close()  # idempotent
    writer.record(row("late"))  # never a database write in the caller's thread (the event loop)
    assert spooled_ids(writer.spool) == ["late"]
    with pytest.raises(RuntimeError):
        writer.start()
    assert LedgerWriter(store).replay_spool() == 1
    assert requests_in(store) == 1


def test_write_failures_are_retried(flaky: FlakyStore, caplog: pytest.LogCaptureFixture) -> None:
    flaky.failures = 2
    writer = LedgerWriter(flaky, backoff=0.001, retry_window=5.0)
    writer.start()
    for i in range(5):
        writer.record(row(f"r{i}"))
    with caplog.at_level(logging.WARNING, logger="llmgw.ledger"):
        writer.close()
    assert requests_in(flaky) == 5
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "r0" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_persistent_failure_spools_the_batch_and_the_thread_survives(
    flaky: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    flaky.failures = 3
    writer = LedgerWriter(flaky, retry_window=0.0, max_delay=0.01)
    for i in range(3):
        writer.record(row(f"lost{i}"))  # queued before start(), so they form one batch
    with caplog.at_level(logging.WARNING, logger="llmgw.ledger"):
        writer.start()
        wait_until_written(writer)
        assert spooled_ids(writer.spool) == ["lost0", "lost1", "lost2"]
        flaky.failures = 0
        writer.record(row("kept"))
        wait_until_written(writer)
        deadline = time.monotonic() + 10.0
        while writer.spool.waiting() and time.monotonic() < deadline:
            time.sleep(0.005)
        writer.close()
    # The database took a write again, so the writer drained the spool into it: nothing was lost.
    assert sorted(r["request_id"] for r in flaky.recent_requests(10)) == ["kept", "lost0", "lost1", "lost2"]
    assert not writer.spool.waiting()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("spooled 3 usage rows" in r.getMessage() for r in caplog.records)


def test_record_only_queues(store: Store) -> None:
    """The request path's part is a queue put: with the writer thread not started, rows wait in
    memory and nothing reaches the database (its cost is measured by scripts/bench, not here)."""
    writer = LedgerWriter(store)
    for i in range(1_000):
        writer.record(row(f"r{i}"))
    assert ids_in(store) == []
    writer.close()  # closing writes what waited
    assert len(ids_in(store)) == 1_000


# -- the spool: rows the database cannot take in time ---------------------------------------------


@pytest.fixture
def impatient(tmp_path: Path) -> Iterator[Store]:
    """A store that gives up on a lock after 50 ms."""
    with Store.open(tmp_path / "llmgw.db", busy_timeout=0.05) as s:
        yield s


def test_rows_go_to_the_spool_while_another_process_holds_the_lock(impatient: Store) -> None:
    holder = hold_write_lock(impatient.path)
    writer = LedgerWriter(impatient, max_delay=0.01, retry_window=0.1)
    writer.start()
    for i in range(20):
        writer.record(row(f"r{i:02}"))
    writer.close()
    holder.rollback()
    holder.close()
    assert writer.pending() == 0
    assert ids_in(impatient) == []
    assert sorted(spooled_ids(writer.spool)) == [f"r{i:02}" for i in range(20)]
    # The next start replays the spool into the database, then removes it.
    assert LedgerWriter(impatient).replay_spool() == 20
    assert ids_in(impatient) == [f"r{i:02}" for i in range(20)]
    assert not writer.spool.waiting()


def test_a_full_queue_spills_to_the_spool(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    writer = LedgerWriter(store, max_queue=5)  # not started: the queue only fills
    with caplog.at_level(logging.WARNING, logger="llmgw.ledger"):
        for i in range(12):
            writer.record(row(f"r{i:02}"))
    assert writer.pending() == 5
    assert spooled_ids(writer.spool) == [f"r{i:02}" for i in range(5, 12)]
    assert len(caplog.records) == 1  # at a bounded rate, not one line per row
    assert "queue is full" in caplog.records[0].getMessage()
    writer.close()
    assert LedgerWriter(store).replay_spool() == 7
    assert ids_in(store) == [f"r{i:02}" for i in range(12)]


def test_replay_is_idempotent(store: Store) -> None:
    spool = Spool(Path(f"{store.path}.spool"))
    store.insert_requests([row("a", prompt_tokens=1), row("b")])
    spool.append([row("a", prompt_tokens=1), row("b"), row("c", streamed=True)])  # written and spooled
    assert spool.replay(store) == 3
    got = store.recent_requests(10)
    assert sorted(r["request_id"] for r in got) == ["a", "b", "c"]
    assert {r["request_id"]: r["streamed"] for r in got}["c"] is True
    assert not spool.waiting()
    assert spool.replay(store) == 0


def test_a_torn_last_line_is_skipped_and_the_rest_replayed(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(Path(f"{store.path}.spool"))
    spool.append([row("a"), row("b")])
    with spool.path.open("ab") as f:
        f.write(b'{"request_id": "torn", "endpo')  # a crash in the middle of a write
    spool.append([row("d")])  # starts on a line of its own
    with caplog.at_level(logging.WARNING, logger="llmgw.ledger"):
        assert spool.replay(store) == 3
    assert ids_in(store) == ["a", "b", "d"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "line 3" in warnings[0]
    assert not spool.waiting()


def test_a_replay_that_cannot_get_the_lock_keeps_the_spool(impatient: Store) -> None:
    spool = Spool(Path(f"{impatient.path}.spool"))
    spool.append([row("a")])
    holder = hold_write_lock(impatient.path)
    try:
        assert spool.replay(impatient) == 0
        assert spool.waiting()
        spool.append([row("b")])  # rows spooled meanwhile join it
    finally:
        holder.rollback()
        holder.close()
    assert spool.replay(impatient) == 2
    assert ids_in(impatient) == ["a", "b"]
    assert not spool.waiting()


class StuckStore(Store):
    """A real store whose inserts hang until released, as a stalled disk would."""

    release: threading.Event

    def insert_requests(self, rows: Sequence[UsageRow]) -> None:
        self.release.wait(10.0)
        super().insert_requests(rows)


def test_a_writer_stuck_past_the_close_timeout_spools_what_it_holds(tmp_path: Path) -> None:
    store = StuckStore.open(tmp_path / "llmgw.db")
    store.release = threading.Event()
    writer = LedgerWriter(store, max_batch=2, max_delay=0.0)
    writer.start()
    for i in range(5):
        writer.record(row(f"r{i}"))
    writer.close(timeout=0.2)
    assert writer.pending() == 0
    assert sorted(spooled_ids(writer.spool)) == [f"r{i}" for i in range(5)]
    store.release.set()  # the stuck write lands after all: the replay must not double it
    deadline = time.monotonic() + 10.0
    while not ids_in(store) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert LedgerWriter(store).replay_spool() == 5
    assert ids_in(store) == [f"r{i}" for i in range(5)]
    store.close()


def test_a_stuck_writer_shows_as_stalled_until_its_batch_is_done(tmp_path: Path) -> None:
    store = StuckStore.open(tmp_path / "llmgw.db")
    store.release = threading.Event()
    writer = LedgerWriter(store, max_batch=1, max_delay=0.0)
    assert writer.stalled() == 0.0  # nothing waits
    writer.start()
    writer.record(row("r0"))
    since = time.monotonic()
    writer.record(row("r1"))  # waits behind the stuck batch: the wait counts from the first row
    assert writer.stalled(now=since + 60) >= 60
    store.release.set()
    wait_until_written(writer)
    assert writer.stalled(now=time.monotonic() + 60) == 0.0  # none waits: nothing is stalled
    writer.close()
    assert ids_in(store) == ["r0", "r1"]
    store.close()


class PickyStore(Store):
    """A real store that refuses one row for a reason of its own (not a lock)."""

    def insert_requests(self, rows: Sequence[UsageRow]) -> None:
        if any(r.request_id == "bad" for r in rows):
            raise sqlite3.IntegrityError("CHECK constraint failed")
        super().insert_requests(rows)


def test_a_row_the_database_refuses_is_kept_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with PickyStore.open(tmp_path / "llmgw.db") as store:
        writer = LedgerWriter(store, retry_window=0.0)
        for request_id in ("good1", "bad", "good2"):
            writer.record(row(request_id))
        with caplog.at_level(logging.WARNING, logger="llmgw.ledger"):
            writer.close()
        assert ids_in(store) == ["good1", "good2"]
        assert not writer.spool.waiting()  # a poison row is not replayed at every start
        kept = writer.spool.rejected.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["request_id"] for line in kept] == ["bad"]
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "bad" in errors[0] and str(writer.spool.rejected) in errors[0]


# -- failed authentications: counted per minute, not one row each ---------------------------------


def test_auth_failures_are_counted_per_minute(store: Store) -> None:
    minute = 1_800_000_000.0 - 1_800_000_000.0 % 60
    writer = LedgerWriter(store, max_delay=0.01)
    writer.start()
    for at in (minute + 1, minute + 2, minute + 59, minute + 60, minute + 119):
        writer.record_auth_failure(at)
    writer.close()
    assert store.auth_failure_count(None) == 5
    assert store.auth_failure_count(minute + 60) == 2
    assert ids_in(store) == []


def test_auth_failure_counts_survive_a_lock_and_replay_once(impatient: Store) -> None:
    holder = hold_write_lock(impatient.path)
    writer = LedgerWriter(impatient, max_delay=0.01, retry_window=0.0)
    writer.start()
    for _ in range(7):
        writer.record_auth_failure(1_800_000_000.0)
    writer.close()
    holder.rollback()
    holder.close()
    text = writer.spool.path.read_text(encoding="utf-8")
    writer.spool.path.write_text(text + text, encoding="utf-8")  # spooled twice: still counted once
    assert LedgerWriter(impatient).replay_spool() == 0  # no request rows, only counts
    assert impatient.auth_failure_count(None) == 7
    assert not writer.spool.waiting()


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


def summary_of(total: UsageStats, *models: tuple[str | None, str, UsageStats]) -> UsageSummary:
    """A plain summary (`llmgw usage`) by model, as `services.usage.summary` makes it."""
    groups = [UsageGroup(model_label(p, m), stats, provider=p, model=m) for p, m, stats in models]
    report = UsageReport(since=None, until=None, by="model", groups=groups, total=total, unpriced_models=[])
    return UsageSummary(report, by_source={}, auth_failures=0)


def test_format_usage_table() -> None:
    summary = summary_of(
        UsageStats(requests=1236, errors=3, prompt_tokens=1_500_000, completion_tokens=20,
                   total_tokens=1_500_020, cost_usd=3.7502),
        ("openai", "gpt-4o", UsageStats(requests=1234, errors=2, errors_upstream=1, errors_policy=1,
                                        prompt_tokens=1_500_000, completion_tokens=20,
                                        total_tokens=1_500_020, cost_usd=3.7502)),
        (None, "nope", UsageStats(requests=2, errors=1, errors_policy=1)),
    )  # fmt: skip
    lines = format_usage_table(summary).splitlines()
    assert lines[0].split() == [
        "provider",
        "model",
        "requests",
        "errors",
        "upstream",
        "policy",
        "client",
        "prompt",
        "completion",
        "total",
        "cached",
        "cost",
    ]
    assert lines[2].split() == [
        "openai",
        "gpt-4o",
        "1,234",
        "2",
        "1",
        "1",
        "0",
        "1,500,000",
        "20",
        "1,500,020",
        "0",
        "$3.7502",
    ]
    assert lines[3].split() == ["-", "nope", "2", "1", "0", "1", "0", "0", "0", "0", "0", "$0.0000"]
    total = next(line for line in lines if line.startswith("total"))
    assert total.split() == [
        "total",
        "1,236",
        "3",
        "0",
        "0",
        "0",
        "1,500,000",
        "20",
        "1,500,020",
        "0",
        "$3.7502",
    ]
    # Columns line up: every numeric cell ends at the same offset as its header.
    header_ends = [lines[0].index(h) + len(h) for h in ("requests", "cost")]
    for line in (lines[2], lines[3], total):
        assert line.rstrip().endswith(("0", "2"))
        assert len(line) == header_ends[1]
    assert lines[2].index("1,234") + len("1,234") == header_ends[0]


def test_unpriced_models_are_flagged_never_shown_as_zero() -> None:
    summary = summary_of(
        UsageStats(requests=5, cost_usd=0.75, unpriced_requests=3),
        ("openai", "gpt-4o", UsageStats(requests=2, cost_usd=0.5)),
        ("local", "local/llama", UsageStats(requests=2, unpriced_requests=2)),
        ("work", "work/gpt-x", UsageStats(requests=1, cost_usd=0.25, unpriced_requests=1)),
    )
    lines = format_usage_table(summary).splitlines()
    assert lines[2].split()[-1] == "$0.5000"
    assert lines[3].split()[-1] == "?"
    assert lines[4].split()[-1] == "$0.2500+?"
    assert lines[6].split()[-1] == "$0.7500+?"
    assert "no price for local/llama (2), work/gpt-x (1) requests" in lines[-1]
    by_model = json.loads(summary_json(summary))["by_model"]
    assert by_model[1] | {"cost_usd": 0.0} == by_model[1]
    assert [m["priced"] for m in by_model] == [True, False, False]


def test_summary_by_usage_source_and_cost(store: Store) -> None:
    failed = UsageRow(
        request_id="n1",
        endpoint="/v1/chat/completions",
        status=502,
        error_type="upstream_error",
        error_kind="upstream",
    )
    rows = [
        row("p1", usage_source="provider", prompt_tokens=10, completion_tokens=5, total_tokens=15),
        row("p2", usage_source="provider", prompt_tokens=3, completion_tokens=2, total_tokens=5),
        row("e1", usage_source="estimated", tokens_estimated=True, completion_tokens=7, total_tokens=7),
        failed,
    ]
    rows[0].cost_usd, rows[1].cached_tokens, rows[2].cost_usd = 0.5, 1, 0.25
    store.insert_requests(rows)
    summary = usage.summary(store, Actor.cli(), None)
    assert summary.report.total.cost_usd == pytest.approx(0.75)
    assert summary.report.total.unpriced_requests == 1  # p2: used tokens, no price; n1 used none
    data = json.loads(summary_json(summary))
    assert data["by_source"]["provider"] == {
        "requests": 2,
        "errors": 0,
        "errors_upstream": 0,
        "errors_policy": 0,
        "errors_client": 0,
        "prompt_tokens": 13,
        "completion_tokens": 7,
        "total_tokens": 20,
        "cached_tokens": 1,
    }
    assert data["by_source"]["estimated"]["completion_tokens"] == 7
    assert data["by_source"]["none"]["requests"] == 1 and data["by_source"]["none"]["errors"] == 1
    assert data["by_source"]["none"]["errors_upstream"] == 1
    assert data["errors_upstream"] == 1 and data["upstream_error_rate"] == 0.25
    assert data["error_codes"] == [{"kind": "upstream", "code": "upstream_error", "count": 1}]
    assert data["requests"] == 4 and data["total_tokens"] == 27
