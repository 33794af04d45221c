"""The `requests` ledger table: one row per client request, written in batches; each batch updates the
hourly rollups (`rollups.py`, where usage reports read) in its transaction.

The SQL of this table lives here; `llmgw.storage.database.Store` is the one entry point that calls it.
"""

from __future__ import annotations

import dataclasses
import operator
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from llmgw.storage import rollups
from llmgw.storage.postgres import is_postgres

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["COLUMNS", "USAGE_SOURCES", "UsageRow"]

USAGE_SOURCES = ("provider", "estimated", "none")  # the values of `usage_source`


@dataclasses.dataclass(slots=True, kw_only=True)
class UsageRow:
    """One row of the `requests` table; the request handler fills it in as the request progresses."""

    request_id: str
    created_at: float = dataclasses.field(default_factory=time.time)  # request start, unix seconds
    endpoint: str
    provider: str | None = None
    model_requested: str | None = None
    model_upstream: str | None = None
    key_index: int | None = None  # 1-based index of the upstream key; never the key itself
    status: int = 0  # 0 until a response status is known; the handler must set it before recording
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    streamed: bool = False
    client_closed: bool = False
    tokens_estimated: bool = False  # counted from stream chunks because the upstream sent no usage
    latency_ms: float | None = None
    ttft_ms: float | None = None
    error_type: str | None = None
    attempts: int = 1
    user_id: int | None = None
    api_key_id: int | None = None
    cache_write_tokens: int | None = None  # written to a prompt cache (Anthropic); part of prompt_tokens
    reasoning_tokens: int | None = None  # part of completion_tokens
    # Where the token counts came from: "provider" (the upstream reported them), "estimated" (counted
    # locally, e.g. a stream cut before its usage) or "none" (nothing was generated, no counts).
    usage_source: str = "none"
    cost_usd: float | None = None  # priced when written (services.pricing); None = price unknown
    # Whose fault an error was: "client", "policy" or "upstream" (errors.GatewayError.kind); None when
    # the request succeeded. `error_type` holds its code.
    error_kind: str | None = None


COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(UsageRow))
_BOOL_COLUMNS = ("streamed", "client_closed", "tokens_estimated")
_row_values = operator.attrgetter(*COLUMNS)
_INSERT_SQL = (
    f"INSERT OR REPLACE INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)
# PostgreSQL has no OR REPLACE: the same row replaced in place (the key's other columns all set).
_PG_INSERT_SQL = (
    f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (request_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "request_id")
)


def insert(db: sqlite_utils.Database, rows: Sequence[UsageRow]) -> None:
    """Insert a batch of rows (the caller holds the transaction); a repeated request_id replaces the
    older row. The hourly rollups follow in the same transaction: a replaced row's contribution is
    taken out before the new one's is added, so replaying a spool twice counts each request once."""
    latest = {row.request_id: row for row in rows}  # within a batch, too, the last row wins
    replaced = _existing(db, list(latest))
    # executemany over attrgetter tuples measured 2-5x faster than insert_all() over dicts
    # (1-500 rows).
    db.conn.executemany(
        _PG_INSERT_SQL if is_postgres(db) else _INSERT_SQL, [_row_values(row) for row in rows]
    )
    rollups.record(db, replaced, [rollups.source_values(row) for row in latest.values()])


_LOOKUP_CHUNK = 500  # bound variables per statement (SQLite's limit is 32766 since 3.32)


def _existing(db: sqlite_utils.Database, request_ids: list[str]) -> list[tuple[Any, ...]]:
    """The stored rows (as `rollups.SOURCE_COLUMNS`) a batch is about to replace: usually none."""
    found: list[tuple[Any, ...]] = []
    columns = ", ".join(rollups.SOURCE_COLUMNS)
    for i in range(0, len(request_ids), _LOOKUP_CHUNK):
        chunk = request_ids[i : i + _LOOKUP_CHUNK]
        found += db.conn.execute(
            f"SELECT {columns} FROM requests WHERE request_id IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall()
    return found


def delete_before(db: sqlite_utils.Database, cutoff: float, limit: int) -> int:
    """Delete at most `limit` of the oldest rows created before `cutoff` (the rollups keep their
    counts: retention drops detail, not totals); returns how many. A range of the created_at index."""
    return db.execute(
        "DELETE FROM requests WHERE request_id IN "
        "(SELECT request_id FROM requests WHERE created_at < ? ORDER BY created_at LIMIT ?)",
        [cutoff, limit],
    ).rowcount


def _last(db: object) -> str:
    """What orders rows of the same instant: SQLite's rowid (the later written), or on PostgreSQL,
    which has none, the request id."""
    return "request_id" if is_postgres(db) else "rowid"


def _with_bools(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as `recent*` give them: SQLite's 0/1 flags as `bool`."""
    out = list(rows)
    for row in out:
        for column in _BOOL_COLUMNS:
            row[column] = bool(row[column])
    return out


def recent(db: sqlite_utils.Database, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` rows as dicts keyed by column name, booleans as `bool`."""
    return _with_bools(
        db.query(f"SELECT * FROM requests ORDER BY created_at DESC, {_last(db)} DESC LIMIT ?", [limit])
    )


def recent_of_user(db: sqlite_utils.Database, user_id: int, since: float, limit: int) -> list[dict[str, Any]]:
    """One user's newest `limit` rows since `since`: a range of the (user_id, created_at) index."""
    return _with_bools(
        db.query(
            "SELECT * FROM requests WHERE created_at >= ? AND user_id = ? "
            f"ORDER BY created_at DESC, {_last(db)} DESC LIMIT ?",
            [since, user_id, limit],
        )
    )


# Per time bucket: a range of the created_at index (the window bounds the scan), grouped in memory order.
_ACTIVITY_SQL = """
SELECT
    {bucket} AS bucket,
    COUNT(*) AS requests,
    SUM(CASE WHEN status >= 400 OR error_type IS NOT NULL THEN 1 ELSE 0 END) AS errors,
    SUM(CASE WHEN (status >= 400 OR error_type IS NOT NULL) AND error_kind = 'upstream' THEN 1 ELSE 0 END)
        AS errors_upstream,
    COALESCE(SUM(total_tokens), 0) AS tokens,
    COALESCE(SUM(cost_usd), 0.0) AS cost_usd
FROM requests
WHERE created_at >= :since
GROUP BY bucket
ORDER BY bucket
"""


def activity(db: sqlite_utils.Database, since: float, width: int) -> list[dict[str, Any]]:
    """Requests, errors (and of them upstream errors), tokens and cost per `width`-second bucket since
    `since`, oldest first; a bucket is `floor(created_at / width)`, and buckets without requests are
    absent."""
    bucket = (
        "FLOOR(created_at / :width)::bigint" if is_postgres(db) else "CAST(created_at / :width AS INTEGER)"
    )
    return list(db.query(_ACTIVITY_SQL.format(bucket=bucket), {"since": since, "width": width}))


def recent_with_users(db: sqlite_utils.Database, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` rows, everyone's, with the name of the user whose key made each request
    (`user_name`: None for the legacy proxy key or a deleted user) or, for a deleted user, the name they
    had (`deleted_user_name`, None when not known); the same of the key (`key_name`, `key_public_id`;
    `deleted_key_name`, `deleted_key_public_id`)."""
    return _with_bools(
        db.query(
            "SELECT r.*, u.name AS user_name, d.name AS deleted_user_name, k.name AS key_name, "
            "k.public_id AS key_public_id, dk.name AS deleted_key_name, "
            "dk.public_id AS deleted_key_public_id FROM requests AS r "
            "LEFT JOIN users AS u ON u.id = r.user_id LEFT JOIN deleted_users AS d ON d.id = r.user_id "
            "LEFT JOIN api_keys AS k ON k.id = r.api_key_id "
            "LEFT JOIN deleted_keys AS dk ON dk.id = r.api_key_id "
            f"ORDER BY r.created_at DESC, r.{_last(db)} DESC LIMIT ?",
            [limit],
        )
    )
