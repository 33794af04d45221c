"""The request log's use cases over a real Store and a ledger of known rows: filters against a plain
filter of the rows, keyset paging across its boundaries (ties included), who may see what, bad filter
values refused with a message, the CSV export and its cap, and the query plans (index ranges, no
scan of the table)."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmgw.errors import AccountNotFound, PermissionDenied
from llmgw.services import request_log, users
from llmgw.services.audit import Actor
from llmgw.services.request_log import InvalidFilter, LogFilter
from llmgw.storage import LogQuery, Store, UsageRow
from llmgw.storage.request_log import page_sql
from tests.support.request_log_seed import ADMIN, NOW, START, TIED, Seeded, seed

pytestmark = pytest.mark.usefixtures("fast_hashes")


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    with Store.open(database) as s:
        yield s


@pytest.fixture
def seeded(store: Store) -> Seeded:
    return seed(store)


def walk(store: Store, actor: Actor, f: LogFilter, size: int) -> list[str]:
    """Every page in turn, following `next`, as one list of request ids."""
    ids: list[str] = []
    after = None
    for _ in range(100):
        page = request_log.search(store, actor, f, after=after, limit=size)
        assert len(page.rows) <= size
        ids += [r.request_id for r in page.rows]
        if page.next is None:
            return ids
        assert len(page.rows) == size  # only a full page points on
        after = page.next
    raise AssertionError("paging did not end")


def is_error(r: UsageRow) -> bool:
    return r.status >= 400 or r.error_type is not None


@pytest.mark.parametrize("size", [1, 2, 7, 59, 60, 61, 500])
def test_pages_walk_every_row_once_newest_first(store: Store, seeded: Seeded, size: int) -> None:
    got = walk(store, ADMIN, LogFilter(), size)
    assert got == seeded.newest_first()
    assert len(set(got)) == 60
    i, j = got.index(TIED[1]), got.index(TIED[0])
    assert j == i + 1  # the same instant: by request id, and never lost at a page's edge


def test_a_row_written_meanwhile_never_shifts_the_next_page(store: Store, seeded: Seeded) -> None:
    first = request_log.search(store, ADMIN, LogFilter(), limit=10)
    store.insert_requests([UsageRow(request_id="req_new", created_at=NOW, endpoint="/v1/embeddings")])
    second = request_log.search(store, ADMIN, LogFilter(), after=first.next, limit=10)
    assert [r.request_id for r in first.rows + second.rows] == seeded.newest_first()[:20]


def test_filters_match_a_plain_filter_of_the_rows(store: Store, seeded: Seeded) -> None:
    cases: list[tuple[LogFilter, Callable[[UsageRow], bool]]] = [
        (LogFilter(user="ann"), lambda r: r.user_id == seeded.ann.id),
        (LogFilter(user="ANN"), lambda r: r.user_id == seeded.ann.id),  # names ignore case, as logins do
        (LogFilter(key=seeded.ben_key.public_id), lambda r: r.api_key_id == seeded.ben_key.id),
        (LogFilter(key=f"ci ({seeded.ben_key.public_id})"), lambda r: r.api_key_id == seeded.ben_key.id),
        (LogFilter(model="fast"), lambda r: r.model_requested == "fast"),
        (LogFilter(status="error"), is_error),
        (LogFilter(status="ok"), lambda r: not is_error(r)),
        (LogFilter(since="2026-12-01 10:00"), lambda r: r.created_at >= NOW - 2 * 3600 - 2430),
        (LogFilter(until="2026-12-01T09:00:00"), lambda r: r.created_at < NOW - 3 * 3600 - 2430),
        (
            LogFilter(user="ben", model="up/gpt-4o-mini", status="error"),
            lambda r: r.user_id == seeded.ben.id and r.model_requested == "up/gpt-4o-mini" and is_error(r),
        ),
        (LogFilter(model="nothing-like-it"), lambda r: False),
        (LogFilter(error_kind="policy"), lambda r: r.error_kind == "policy"),
        (LogFilter(error_kind="client", status="error"), lambda r: r.error_kind == "client"),
        (
            LogFilter(error_kind="upstream", user="ben"),
            lambda r: r.error_kind == "upstream" and r.user_id == seeded.ben.id,
        ),
    ]
    for f, keep in cases:
        expected = seeded.newest_first([r for r in seeded.rows if keep(r)])
        assert walk(store, ADMIN, f, 4) == expected, f
    assert walk(store, ADMIN, LogFilter(status="error"), 100)  # not a vacuous filter
    assert "req_013" in walk(store, ADMIN, LogFilter(status="error"), 100)  # the stream cut after a 200
    kinds = {k: walk(store, ADMIN, LogFilter(error_kind=k), 100) for k in request_log.ERROR_KINDS}
    assert all(kinds.values()) and sum(map(len, kinds.values())) == len(
        walk(store, ADMIN, LogFilter(status="error"), 100)
    )


def test_a_date_alone_as_until_takes_in_that_whole_day(store: Store, seeded: Seeded) -> None:
    whole_day = walk(store, ADMIN, LogFilter(since="2026-12-01", until="2026-12-01"), 100)
    assert whole_day == seeded.newest_first()
    assert walk(store, ADMIN, LogFilter(until="2026-11-30"), 100) == []


def test_rows_name_the_user_and_key_never_the_token(store: Store, seeded: Seeded) -> None:
    page = request_log.search(store, ADMIN, LogFilter(), limit=60)
    by_id = {r.request_id: r for r in page.rows}
    assert page.everyone
    first = by_id["req_000"]
    assert (first.user, first.key) == ("ann", f"laptop ({seeded.ann_key.public_id})")
    assert (by_id["req_002"].user, by_id["req_002"].key) == ("(no user)", "(no key)")
    assert (first.status, first.error_type, first.error_kind, first.ok) == (
        502,
        "upstream_error",
        "upstream",
        False,
    )
    assert (by_id["req_007"].error_kind, by_id["req_011"].error_kind) == ("policy", "client")
    assert by_id["req_001"].error_kind is None
    assert by_id["req_013"].ok is False and by_id["req_001"].ok is True
    assert (first.model_requested, first.model_upstream, first.streamed) == ("fast", "gpt-4o-mini", True)
    assert (by_id["req_003"].cost_usd, by_id["req_004"].cost_usd) == (None, pytest.approx(0.004))


def test_a_user_sees_only_their_own_whatever_the_filter_asks(store: Store, seeded: Seeded) -> None:
    ann = Actor.user(seeded.ann.id, "ann")
    mine = seeded.newest_first([r for r in seeded.rows if r.user_id == seeded.ann.id])
    assert walk(store, ann, LogFilter(), 5) == mine
    assert walk(store, ann, LogFilter(user="ben"), 5) == mine  # the user filter is not theirs to set
    assert not request_log.search(store, ann, LogFilter()).everyone
    with pytest.raises(InvalidFilter, match=r"no key .* of yours"):
        request_log.search(store, ann, LogFilter(key=seeded.ben_key.public_id))
    assert walk(store, ann, LogFilter(key=seeded.ann_key.public_id), 50) == mine
    for theirs in ("req_001", "req_002"):  # ben's, and the proxy key's (no user)
        with pytest.raises(AccountNotFound):
            request_log.find(store, ann, theirs)
    assert request_log.find(store, ann, "req_000").row.user == "ann"
    export = request_log.export_csv(store, ann, LogFilter(user="ben"))
    assert export.rows == len(mine) and "req_001" not in export.text


def test_a_disabled_user_sees_nothing(store: Store, seeded: Seeded) -> None:
    users.disable_user(store, ADMIN, "ann")
    with pytest.raises(PermissionDenied):
        request_log.search(store, Actor.user(seeded.ann.id, "ann"), LogFilter())


def test_find_gives_every_ledger_column(store: Store, seeded: Seeded) -> None:
    detail = request_log.find(store, ADMIN, " req_013 ")
    columns = dict(detail.columns)
    assert columns["request_id"] == "req_013" and columns["error_type"] == "stream_cut"
    assert columns["streamed"] is False and columns["attempts"] == 1 and columns["usage_source"] == "none"
    assert [name for name, _ in detail.columns][:3] == ["request_id", "created_at", "endpoint"]
    shown = dict(detail.shown())
    assert shown["cost_usd"] == "0.013" and shown["streamed"] == "no" and shown["ttft_ms"] == "—"
    assert shown["created_at"] == f"2026-12-01T08:45:30.000Z ({columns['created_at']!r})"
    with pytest.raises(AccountNotFound):
        request_log.find(store, ADMIN, "req_999")
    with pytest.raises(InvalidFilter, match="req_"):
        request_log.find(store, ADMIN, "not-an-id")


@pytest.mark.parametrize(
    ("f", "message"),
    [
        (LogFilter(status="maybe"), "status is ok or error"),
        (LogFilter(error_kind="cosmic"), "error kind is client or policy or upstream"),
        (LogFilter(status="ok", error_kind="client"), "is an error"),
        (LogFilter(since="yesterday"), "From (UTC) must be a date or time"),
        (LogFilter(until="2026-13-01"), "To (UTC) must be a date or time"),
        (LogFilter(until="9999-12-31"), "To (UTC) must be a date or time"),
        (LogFilter(user="x" * 201), "at most 200"),
        (LogFilter(since="2026-12-02", until="2026-12-01"), "From must be before To"),
        (LogFilter(key="laptop"), "16 hex digits"),
        (LogFilter(key="0123456789abcdef"), "no key 0123456789abcdef"),
        (LogFilter(user="nobody"), "no user named 'nobody'"),
        (LogFilter(model="fast\x00"), "printable"),
        (LogFilter(model="m" * 201), "at most 200"),
    ],
)
def test_bad_filter_values_are_refused_with_a_message(
    store: Store, seeded: Seeded, f: LogFilter, message: str
) -> None:
    with pytest.raises(InvalidFilter, match=re.escape(message)):
        request_log.search(store, ADMIN, f)
    with pytest.raises(InvalidFilter, match=re.escape(message)):
        request_log.export_csv(store, ADMIN, f)


@pytest.mark.parametrize("cursor", ["garbage", "nan,req_001", "1.5,", "1.5,req_1;drop", "inf,req_001"])
def test_a_forged_page_cursor_is_refused(store: Store, seeded: Seeded, cursor: str) -> None:
    with pytest.raises(InvalidFilter, match="start again from the newest"):
        request_log.search(store, ADMIN, LogFilter(), after=cursor)


def test_deleted_users_and_keys_keep_their_names_and_can_be_filtered(store: Store, seeded: Seeded) -> None:
    users.delete_user(store, ADMIN, "ben")
    bens = seeded.newest_first([r for r in seeded.rows if r.user_id == seeded.ben.id])
    label = f"deleted user ben (#{seeded.ben.id})"
    for name in ("ben", label, f"#{seeded.ben.id}"):
        assert walk(store, ADMIN, LogFilter(user=name), 50) == bens
    assert walk(store, ADMIN, LogFilter(key=seeded.ben_key.public_id), 50) == bens
    row = request_log.find(store, ADMIN, "req_001").row
    assert row.user == label and row.key == f"deleted key ci ({seeded.ben_key.public_id})"


def test_csv_export_has_every_column_defused_cells_and_a_cap(store: Store, seeded: Seeded) -> None:
    export = request_log.export_csv(store, ADMIN, LogFilter(user="ann"))
    table = list(csv.reader(io.StringIO(export.text)))
    assert tuple(table[0]) == request_log.CSV_COLUMNS
    assert not export.capped and export.rows == 20 == len(table) - 1
    rows = [dict(zip(table[0], line, strict=True)) for line in table[1:]]
    assert [r["request_id"] for r in rows] == seeded.newest_first(
        [r for r in seeded.rows if r.user_id == seeded.ann.id]
    )
    first = next(r for r in rows if r["request_id"] == "req_000")
    assert first["created_at"] == "2026-12-01T07:40:30.000Z" and first["outcome"] == "error"
    assert first["key"] == f"laptop ({seeded.ann_key.public_id})" and first["user"] == "ann"
    assert next(r for r in rows if r["request_id"] == "req_003")["model_requested"] == "'=HYPERLINK(1)"
    assert next(r for r in rows if r["request_id"] == "req_003")["cost_usd"] == ""  # unknown, never 0

    capped = request_log.export_csv(store, ADMIN, LogFilter(), cap=7)
    assert capped.capped and capped.rows == 7
    assert [line.split(",")[0] for line in capped.text.splitlines()[1:]] == seeded.newest_first()[:7]
    exact = request_log.export_csv(store, ADMIN, LogFilter(), cap=60)
    assert not exact.capped and exact.rows == 60


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (LogQuery(), "idx_requests_created_at"),
        (LogQuery(user_id=2), "idx_requests_user_created"),
        (LogQuery(api_key_id=1), "idx_requests_key_created"),
        (LogQuery(model="fast"), "idx_requests_model_created"),
        (LogQuery(outcome="error", since=START), "idx_requests_created_at"),
        (LogQuery(error_kind="policy"), "idx_requests_created_at"),
    ],
)
def test_each_filter_reads_an_index_range_never_the_whole_table(
    tmp_path: Path, store: Store, seeded: Seeded, query: LogQuery, index: str
) -> None:
    if store.postgres:  # SQLite's planner, asked of the file; PostgreSQL plans by its statistics
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    sql, params = page_sql(query, (NOW, "req_050"), 51)
    with sqlite3.connect(tmp_path / "llmgw.db") as db:
        plan = " | ".join(str(r[3]) for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert f"USING INDEX {index}" in plan, plan
    assert "created_at<" in plan.replace(" ", ""), plan  # the keyset bounds the range, not a filter
