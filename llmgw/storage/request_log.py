"""The request log's reads of the `requests` ledger: a filtered page, newest first, paged by a keyset
on (created_at, request_id), never OFFSET; one row by its request id; and a day's counts for the
administrators' overview.

The user, key and model filters are ranges of an index on (that column, created_at) (m016 adds the
key's and the model's), the time range and the keyset a range of the created_at index, so a page
reads about as many rows as it shows whatever the table's size. Status and error kind are checked
along that range: errors are a share of the traffic, not a needle, and an index each would cost every
insert. The rules (who may see which rows, what a filter may say) live in
`llmgw.services.request_log`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import sqlite_utils


__all__ = ["Cursor", "LogQuery", "Outcome", "day_counts", "one", "page"]

Outcome = Literal["ok", "error"]
Cursor = tuple[float, str]  # (created_at, request_id) of the last row shown: the next page is older
_BOOL_COLUMNS = ("streamed", "client_closed", "tokens_estimated")
# What counts as an error, as the dashboards count it: an error status, or an error after a 200
# (a stream cut or failed after its headers).
_IS_ERROR = "(status >= 400 OR error_type IS NOT NULL)"


@dataclasses.dataclass(frozen=True, slots=True)
class LogQuery:
    """What the rows must match; None: anything."""

    user_id: int | None = None
    api_key_id: int | None = None
    model: str | None = None  # as the request named it (`model_requested`)
    outcome: Outcome | None = None
    error_kind: str | None = None  # client | policy | upstream (m012's column)
    since: float | None = None  # created_at >= since
    until: float | None = None  # created_at < until


def _where(q: LogQuery, before: Cursor | None) -> tuple[str, list[Any]]:
    terms: list[str] = []
    params: list[Any] = []
    equal = (
        ("user_id", q.user_id),
        ("api_key_id", q.api_key_id),
        ("model_requested", q.model),
        ("error_kind", q.error_kind),
    )
    for column, value in equal:
        if value is not None:
            terms.append(f"{column} = ?")
            params.append(value)
    if q.outcome == "error":
        terms.append(_IS_ERROR)
    elif q.outcome == "ok":
        terms.append(f"NOT {_IS_ERROR}")
    if q.since is not None:
        terms.append("created_at >= ?")
        params.append(q.since)
    if q.until is not None:
        terms.append("created_at < ?")
        params.append(q.until)
    if before is not None:
        # the first term bounds the index range; the second breaks ties of created_at by request_id
        terms.append("created_at <= ? AND (created_at < ? OR request_id < ?)")
        params += [before[0], before[0], before[1]]
    return (" WHERE " + " AND ".join(terms) if terms else ""), params


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    out = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        for column in _BOOL_COLUMNS:
            row[column] = bool(row[column])
        out.append(row)
    return out


def page_sql(q: LogQuery, before: Cursor | None, limit: int) -> tuple[str, list[Any]]:
    """The statement `page` runs (tests read its query plan)."""
    where, params = _where(q, before)
    sql = f"SELECT * FROM requests{where} ORDER BY created_at DESC, request_id DESC LIMIT ?"
    return sql, [*params, limit]


def page(
    db: sqlite_utils.Database, q: LogQuery, *, before: Cursor | None, limit: int
) -> list[dict[str, Any]]:
    """At most `limit` rows matching `q`, newest first, all older than `before` (None: from the
    newest); every ledger column, keyed by name, flags as `bool`."""
    sql, params = page_sql(q, before, limit)
    return _rows(db.execute(sql, params))


def one(db: sqlite_utils.Database, request_id: str) -> dict[str, Any] | None:
    """The row of that request id (the primary key), as `page` gives rows; None when there is none."""
    found = _rows(db.execute("SELECT * FROM requests WHERE request_id = ?", [request_id]))
    return found[0] if found else None


def day_counts(db: sqlite_utils.Database, since: float, until: float) -> dict[str, Any]:
    """Requests, errors (and errors per `error_kind`; an error row without one under ""), tokens,
    priced cost and requests with tokens but no price over [since, until): one range of the
    created_at index."""
    rows = db.execute(
        f"""
        SELECT CASE WHEN {_IS_ERROR} THEN COALESCE(error_kind, '') END AS kind, COUNT(*),
               COALESCE(SUM(total_tokens), 0), COALESCE(SUM(cost_usd), 0.0),
               COALESCE(SUM(CASE WHEN cost_usd IS NULL AND total_tokens > 0 THEN 1 ELSE 0 END), 0)
        FROM requests WHERE created_at >= ? AND created_at < ?
        GROUP BY kind
        """,
        [since, until],
    ).fetchall()
    by_kind = {r[0]: r[1] for r in rows if r[0] is not None}
    return {
        "requests": sum(r[1] for r in rows),
        "errors": sum(by_kind.values()),
        "errors_by_kind": by_kind,
        "tokens": sum(r[2] for r in rows),
        "cost_usd": sum(r[3] for r in rows),
        "unpriced": sum(r[4] for r in rows),
    }
