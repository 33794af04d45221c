"""The hourly rollups: `usage_hourly` (m006, rebuilt by m015) and `usage_errors_hourly` (m015), the
ledger summed per UTC hour, kept up to date in the same transaction as each batch of `requests` rows,
so reports never scan raw rows and survive the raw rows' retention.

One `usage_hourly` row per (hour_start, user_id, api_key_id, provider, model_upstream, model_requested,
usage_source): the model a request named and the one it was sent to, so a report can show one row per
model with the aliases that reached it. SQLite treats NULLs as distinct in a UNIQUE key, so the key
columns hold sentinels instead: 0 for no user or no key (ids start at 1), '' for no provider or model.
`totals` turns them back into None.

Errors are counted in total (`errors`) and per kind (`errors_client`, `errors_policy`,
`errors_upstream`: `requests.error_kind`, see errors.py); hours summed before m015 whose raw rows were
gone by then have only the total, and a report shows the difference as unclassified rather than
guessing. Which codes (`error_type`) make up each kind: `usage_errors_hourly`, one row per group of
`usage_hourly`'s key, kind and code, with its count (a rollup, not a query on raw rows: the codes of a
month must still read after retention dropped its rows, as every other number of a report does).

Costs are summed as integer nano-dollars, so subtracting a replaced row (spool replay) restores the sum
exactly, which floating point would not. Latency and time to first token are counted into fixed
log-spaced buckets (`BOUNDS_MS`), enough for a p50/p95 estimate within one bucket's width (~41%).
Day and month totals are sums of hours (UTC).

`UsageStats` is the one declaration of the usage counters: every report (`llmgw usage`, plain or
`--by`, the portal's dashboards, the TUI, the CSV export) reads what `totals` sums into it.

m006's layout (no `model_upstream`, no kinds, no codes) stays readable here as `M006`: migrations m006
and m009 still run on databases made before m015, and write through it.
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from llmgw.storage.postgres import is_postgres

if TYPE_CHECKING:
    import sqlite_utils

    from llmgw.storage.schema import Sql


__all__ = [
    "BOUNDS_MS",
    "CURRENT",
    "DIMENSIONS",
    "ERROR_KINDS",
    "M006",
    "ErrorCount",
    "UsageStats",
    "backfill",
    "create_table",
    "percentile",
    "record",
    "totals",
]

HOUR = 3600
NANO = 1_000_000_000  # cost_nusd units per USD
ERROR_KINDS = ("client", "policy", "upstream")  # `requests.error_kind`'s values (errors.py)

# Upper bounds (inclusive, ms) of the histogram buckets: 2^(k/2) ms, 1 ms to ~17.5 min; one more
# bucket holds everything above. Never change these without a migration: stored counts depend on them.
BOUNDS_MS: tuple[float, ...] = tuple(2 ** (k / 2) for k in range(41))
BUCKETS = len(BOUNDS_MS) + 1

_KEYS = (
    "hour_start",
    "user_id",
    "api_key_id",
    "provider",
    "model_upstream",
    "model_requested",
    "usage_source",
)
# The table's summed columns, in `UsageStats`' order: cost as `cost_nusd`, `unpriced_requests` as
# `unpriced`. The first ten are m006's.
_SUMS = (
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_nusd",
    "unpriced",
    *(f"errors_{kind}" for kind in ERROR_KINDS),
)
_LATENCY = tuple(f"latency_{i}" for i in range(BUCKETS))
_TTFT = tuple(f"ttft_{i}" for i in range(BUCKETS))
_VALUES = _SUMS + _LATENCY + _TTFT
_LAT0 = len(_SUMS)
_TTFT0 = _LAT0 + BUCKETS
_KIND0 = _SUMS.index("errors_client")
_ERROR_KEYS = (*_KEYS, "error_kind", "error_type")  # usage_errors_hourly's key; its count: `errors`

# The ledger columns a row's contribution is computed from, in this order (m006's are the first 17).
SOURCE_COLUMNS = (
    "created_at",
    "user_id",
    "api_key_id",
    "provider",
    "model_requested",
    "usage_source",
    "status",
    "error_type",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "model_upstream",
    "error_kind",
)
source_values = operator.attrgetter(*SOURCE_COLUMNS)  # a UsageRow → the tuple `contribution` reads

Key = tuple[Any, ...]  # the values of a layout's key columns
ErrorKey = tuple[Any, ...]  # `_ERROR_KEYS`' values


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    """A shape of `usage_hourly`: its key and summed columns, the ledger columns its rows are computed
    from, and whether `usage_errors_hourly` goes with it."""

    keys: tuple[str, ...]
    values: tuple[str, ...]
    source_columns: tuple[str, ...]
    codes: bool
    key_at: tuple[int, ...]  # where its key's columns are in the current key
    value_at: tuple[int, ...]  # where its values are in the current values

    @classmethod
    def of(cls, keys: tuple[str, ...], values: tuple[str, ...], sources: int, codes: bool) -> Layout:
        return cls(
            keys,
            values,
            SOURCE_COLUMNS[:sources],
            codes,
            tuple(_KEYS.index(k) for k in keys),
            tuple(_VALUES.index(v) for v in values),
        )

    def upsert_sql(self, table: str = "usage_hourly") -> str:
        return (
            f"INSERT INTO {table} ({', '.join(self.keys + self.values)}) "
            f"VALUES ({', '.join('?' * (len(self.keys) + len(self.values)))}) "
            f"ON CONFLICT ({', '.join(self.keys)}) DO UPDATE SET "
            + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in self.values)
        )

    def drop_empty_sql(self) -> str:
        where = " AND ".join(f"{k} = ?" for k in self.keys)
        return f"DELETE FROM usage_hourly WHERE requests <= 0 AND {where}"


CURRENT = Layout.of(_KEYS, _VALUES, len(SOURCE_COLUMNS), codes=True)
_M006_KEYS = tuple(k for k in _KEYS if k != "model_upstream")
M006 = Layout.of(_M006_KEYS, _VALUES[:10] + _LATENCY + _TTFT, 17, codes=False)

_ERRORS_UPSERT_SQL = (
    f"INSERT INTO usage_errors_hourly ({', '.join(_ERROR_KEYS)}, errors) "
    f"VALUES ({', '.join('?' * (len(_ERROR_KEYS) + 1))}) "
    f"ON CONFLICT ({', '.join(_ERROR_KEYS)}) DO UPDATE SET "
    "errors = usage_errors_hourly.errors + excluded.errors"
)
_ERRORS_DROP_EMPTY_SQL = (
    f"DELETE FROM usage_errors_hourly WHERE errors <= 0 AND {' AND '.join(f'{k} = ?' for k in _ERROR_KEYS)}"
)


def table_statements(
    layout: Layout = CURRENT, name: str = "usage_hourly", integer: str = "INTEGER"
) -> list[str]:
    """The statements that create `usage_hourly` in `layout` (and, with its error codes,
    `usage_errors_hourly`); `integer`, the engine's 64-bit integer type (PostgreSQL's BIGINT)."""

    def key_columns(keys: Iterable[str]) -> list[str]:
        return [
            f"{k} {integer if k in ('hour_start', 'user_id', 'api_key_id') else 'TEXT'} NOT NULL"
            for k in keys
        ]

    columns = ",\n".join(
        [
            *key_columns(layout.keys),
            *(f"{c} {integer} NOT NULL DEFAULT 0" for c in layout.values),
            f"PRIMARY KEY ({', '.join(layout.keys)})",
        ]
    )
    statements = [
        f"CREATE TABLE {name} (\n{columns}\n)",
        # Per-user reports (a user seeing their own usage) read a range of hours of one user.
        f"CREATE INDEX idx_{name}_user ON {name} (user_id, hour_start)",
    ]
    if layout.codes:
        error_columns = ",\n".join(
            [
                *key_columns(_ERROR_KEYS),
                f"errors {integer} NOT NULL DEFAULT 0",
                f"PRIMARY KEY ({', '.join(_ERROR_KEYS)})",
            ]
        )
        statements.append(f"CREATE TABLE usage_errors_hourly (\n{error_columns}\n)")
    return statements


def create_table(db: sqlite_utils.Database, layout: Layout = CURRENT, name: str = "usage_hourly") -> None:
    """Create `usage_hourly` in `layout` (m006: `M006`; m015: the current one, with
    `usage_errors_hourly`)."""
    for statement in table_statements(layout, name):
        db.execute(statement)


def _bucket(ms: float) -> int:
    return bisect.bisect_left(BOUNDS_MS, ms)


def contribution(src: Sequence[Any]) -> tuple[Key, list[int], ErrorKey | None]:
    """One ledger row's key, counts and, for an error, its key in `usage_errors_hourly` (`src` holds
    `SOURCE_COLUMNS`' values)."""
    (
        created_at,
        user_id,
        api_key_id,
        provider,
        model,
        source,
        status,
        error_type,
        prompt,
        completion,
        total,
        cached,
        cache_write,
        reasoning,
        cost,
        latency,
        ttft,
        upstream_model,
        kind,
    ) = src
    key: Key = (
        int(created_at // HOUR) * HOUR,
        user_id or 0,
        api_key_id or 0,
        provider or "",
        upstream_model or "",
        model or "",
        source or "none",
    )
    values = [0] * len(_VALUES)
    values[0] = 1
    error = status >= 400 or error_type is not None
    values[1] = int(error)
    values[2] = prompt or 0
    values[3] = completion or 0
    values[4] = total or 0
    values[5] = cached or 0
    values[6] = cache_write or 0
    values[7] = reasoning or 0
    values[8] = round(cost * NANO) if cost is not None else 0
    # Unpriced: answered with tokens (counted or estimated) but no price known for the model.
    values[9] = int(cost is None and (source or "none") != "none")
    if error and kind in ERROR_KINDS:
        values[_KIND0 + ERROR_KINDS.index(kind)] = 1
    if latency is not None:
        values[_LAT0 + _bucket(latency)] = 1
    if ttft is not None:
        values[_TTFT0 + _bucket(ttft)] = 1
    # An error's kind and code ('': none recorded, e.g. a row from before kinds existed).
    error_key = (*key, kind if kind in ERROR_KINDS else "", error_type or "") if error else None
    return key, values, error_key


@dataclasses.dataclass(slots=True)
class Deltas:
    """What a set of rows adds to (or takes from) the rollups, per group."""

    sums: dict[Key, list[int]] = dataclasses.field(default_factory=dict)
    codes: dict[ErrorKey, int] = dataclasses.field(default_factory=dict)

    def add(self, rows: Iterable[Sequence[Any]], sign: int, layout: Layout = CURRENT) -> None:
        widen = len(SOURCE_COLUMNS) - len(layout.source_columns)
        for src in rows:
            key, values, error_key = contribution((*src, *(None,) * widen) if widen else src)
            if layout is not CURRENT:
                key = tuple(key[i] for i in layout.key_at)
                values = [values[i] for i in layout.value_at]
            into = self.sums.get(key)
            if into is None:
                self.sums[key] = [sign * v for v in values]
            else:
                for i, v in enumerate(values):
                    if v:
                        into[i] += sign * v
            if error_key is not None and layout.codes:
                self.codes[error_key] = self.codes.get(error_key, 0) + sign

    def apply(self, db: sqlite_utils.Database, layout: Layout = CURRENT) -> None:
        db.conn.executemany(layout.upsert_sql(), [(*key, *values) for key, values in self.sums.items()])
        # A row replaced by one in another hour (or another key) leaves its old group empty.
        emptied = [key for key, values in self.sums.items() if values[0] < 0]
        if emptied:
            db.conn.executemany(layout.drop_empty_sql(), emptied)
        if self.codes:
            db.conn.executemany(_ERRORS_UPSERT_SQL, [(*k, n) for k, n in self.codes.items() if n])
            gone = [k for k, n in self.codes.items() if n < 0]
            if gone:
                db.conn.executemany(_ERRORS_DROP_EMPTY_SQL, gone)


def record(
    db: sqlite_utils.Database,
    replaced: Iterable[Sequence[Any]],
    added: Iterable[Sequence[Any]],
    layout: Layout = CURRENT,
) -> None:
    """Subtract the rows `replaced` and add the rows `added` (tuples of `layout.source_columns`), in
    the caller's transaction."""
    deltas = Deltas()
    deltas.add(replaced, -1, layout)
    deltas.add(added, +1, layout)
    deltas.apply(db, layout)


def backfill(db: sqlite_utils.Database, layout: Layout = CURRENT, chunk: int = 5000) -> None:
    """Sum every existing ledger row into the (empty) rollup tables (migration m006)."""
    cursor = db.conn.execute(f"SELECT {', '.join(layout.source_columns)} FROM requests")
    deltas = Deltas()
    while rows := cursor.fetchmany(chunk):
        deltas.add(rows, +1, layout)
    deltas.apply(db, layout)


# --- reading ------------------------------------------------------------------------------------------

# What a report may group by, as SQL over usage_hourly (and usage_errors_hourly, which has the same key
# columns). Day and month start at UTC midnight.
DIMENSIONS: dict[str, str] = {
    "user": "user_id",
    "key": "api_key_id",
    "provider": "provider",
    "model": "model_requested",  # as the request named it (an alias, `provider/model`, a bare name)
    "upstream_model": "model_upstream",  # what it was sent to ('' → None: never routed, or before m015)
    "hour": "hour_start",
    "day": "hour_start - hour_start % 86400",
    "month": "CAST(strftime('%s', hour_start, 'unixepoch', 'start of month') AS INTEGER)",
    "source": "usage_source",  # provider, estimated or none (the plain `llmgw usage` summary)
}
# PostgreSQL has no strftime: the same month start from its own calendar functions (sessions run in UTC).
_PG_DIMENSIONS = {
    **DIMENSIONS,
    "month": "EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(hour_start) AT TIME ZONE 'UTC'))::bigint",
}
_NONE_SENTINELS = {"user": 0, "key": 0, "provider": "", "model": "", "upstream_model": ""}


def percentile(buckets: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram over `BOUNDS_MS` buckets, interpolated linearly inside
    its bucket; None for an empty histogram. Above the last bound: that bound."""
    n = sum(buckets)
    if n == 0:
        return None
    rank = q * n
    seen = 0
    for i, count in enumerate(buckets):
        if count and seen + count >= rank:
            if i >= len(BOUNDS_MS):
                return BOUNDS_MS[-1]
            low = BOUNDS_MS[i - 1] if i else 0.0
            return low + (BOUNDS_MS[i] - low) * max(rank - seen, 0.0) / count
        seen += count
    return BOUNDS_MS[-1]


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorCount:
    """How many errors of one kind had one code. `kind` None: unclassified (recorded before error
    kinds existed); `code` None: no code was recorded."""

    kind: str | None
    code: str | None
    count: int


def _kind_order(e: ErrorCount) -> tuple[int, int, str]:
    rank = ERROR_KINDS[::-1].index(e.kind) if e.kind in ERROR_KINDS else len(ERROR_KINDS)
    return (rank, -e.count, e.code or "")  # upstream first: what an administrator can act on


def _merge_codes(a: Sequence[ErrorCount], b: Sequence[ErrorCount]) -> tuple[ErrorCount, ...]:
    counts: dict[tuple[str | None, str | None], int] = {}
    for e in (*a, *b):
        counts[(e.kind, e.code)] = counts.get((e.kind, e.code), 0) + e.count
    return tuple(sorted((ErrorCount(k, c, n) for (k, c), n in counts.items() if n), key=_kind_order))


def _add(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    if not a or not b:
        return tuple(a or b)
    return tuple(x + y for x, y in zip(a, b, strict=True))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UsageStats:
    """The usage counters summed over a set of requests (zero: none). Token counts unknown for a row
    count as 0. `cost_usd` sums the known costs only; `unpriced_requests` answered with tokens but had
    no price, so the true cost is higher when it is not 0. Latency and time to first token are counts
    per `BOUNDS_MS` bucket; their percentiles are estimates (None: no timings).

    Errors: `errors` in all; of them `errors_client` (the request was bad), `errors_policy` (the
    gateway refused it by a rule: a limit, a budget, an unknown model) and `errors_upstream` (the
    provider, or the way to it, failed); `errors_unclassified` the rest, counted before kinds were
    recorded. `error_codes`: how many of each kind had each code, upstream first, then by count."""

    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0  # part of prompt_tokens
    reasoning_tokens: int = 0  # part of completion_tokens
    cost_usd: float = 0.0
    unpriced_requests: int = 0
    errors_client: int = 0
    errors_policy: int = 0
    errors_upstream: int = 0
    latency_buckets: tuple[int, ...] = ()
    ttft_buckets: tuple[int, ...] = ()
    error_codes: tuple[ErrorCount, ...] = ()

    @property
    def errors_unclassified(self) -> int:
        """Errors of no known kind: counted before kinds were recorded."""
        return self.errors - self.errors_client - self.errors_policy - self.errors_upstream

    def _rate(self, n: int) -> float:
        return n / self.requests if self.requests else 0.0

    @property
    def error_rate(self) -> float:
        """Errors of every kind per request, 0.0 when there were none."""
        return self._rate(self.errors)

    @property
    def upstream_error_rate(self) -> float:
        """Upstream errors per request: how often the providers (or the way to them) failed."""
        return self._rate(self.errors_upstream)

    @property
    def policy_refusal_rate(self) -> float:
        """Requests the gateway refused by a rule, per request."""
        return self._rate(self.errors_policy)

    @property
    def client_error_rate(self) -> float:
        """Bad requests per request."""
        return self._rate(self.errors_client)

    @property
    def latency_p50_ms(self) -> float | None:
        return percentile(self.latency_buckets, 0.50)

    @property
    def latency_p95_ms(self) -> float | None:
        return percentile(self.latency_buckets, 0.95)

    @property
    def ttft_p50_ms(self) -> float | None:
        return percentile(self.ttft_buckets, 0.50)

    @property
    def ttft_p95_ms(self) -> float | None:
        return percentile(self.ttft_buckets, 0.95)

    def codes_of(self, kind: str | None) -> list[ErrorCount]:
        """The codes of one kind (None: unclassified), most frequent first."""
        return [e for e in self.error_codes if e.kind == kind]

    def __add__(self, other: UsageStats) -> UsageStats:
        """The counters of both sets of requests (one report row made of several rollup groups)."""
        return UsageStats(
            requests=self.requests + other.requests,
            errors=self.errors + other.errors,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=(round(self.cost_usd * NANO) + round(other.cost_usd * NANO)) / NANO,
            unpriced_requests=self.unpriced_requests + other.unpriced_requests,
            errors_client=self.errors_client + other.errors_client,
            errors_policy=self.errors_policy + other.errors_policy,
            errors_upstream=self.errors_upstream + other.errors_upstream,
            latency_buckets=_add(self.latency_buckets, other.latency_buckets),
            ttft_buckets=_add(self.ttft_buckets, other.ttft_buckets),
            error_codes=_merge_codes(self.error_codes, other.error_codes),
        )


def _stats(v: Sequence[int], codes: tuple[ErrorCount, ...]) -> UsageStats:
    """A row of `SUM(_VALUES)` as `UsageStats`."""
    return UsageStats(
        requests=v[0],
        errors=v[1],
        prompt_tokens=v[2],
        completion_tokens=v[3],
        total_tokens=v[4],
        cached_tokens=v[5],
        cache_write_tokens=v[6],
        reasoning_tokens=v[7],
        cost_usd=v[8] / NANO,
        unpriced_requests=v[9],
        errors_client=v[_KIND0],
        errors_policy=v[_KIND0 + 1],
        errors_upstream=v[_KIND0 + 2],
        latency_buckets=tuple(v[_LAT0 : _LAT0 + BUCKETS]),
        ttft_buckets=tuple(v[_TTFT0 : _TTFT0 + BUCKETS]),
        error_codes=codes,
    )


def _group_values(dims: Sequence[str], row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        None if d in _NONE_SENTINELS and v == _NONE_SENTINELS[d] else v
        for d, v in zip(dims, row, strict=False)
    )


def _query(
    table: str,
    dims: Sequence[str],
    columns: Sequence[str],
    where: Sequence[str],
    by: Sequence[str] = (),
    sql_of: dict[str, str] = DIMENSIONS,
) -> str:
    """SELECT the `dims` (as d0, d1, …), the columns `by` and the aggregates `columns`, grouped by the
    first two."""
    group = [*(f"d{i}" for i in range(len(dims))), *by]
    select = [*(f"{sql_of[d]} AS d{i}" for i, d in enumerate(dims)), *by, *columns]
    sql = f"SELECT {', '.join(select)} FROM {table} WHERE {' AND '.join(where)}"
    return f"{sql} GROUP BY {', '.join(group)} ORDER BY {', '.join(group)}" if group else sql


def totals(
    db: Sql,
    *,
    since: float | None,
    until: float | None,
    user_id: int | None,
    dims: Sequence[str],
) -> dict[tuple[Any, ...], UsageStats]:
    """Sum the hours in [since, until) (whole hours: an edge inside an hour takes that whole hour; None:
    unbounded), of one user or everyone (`user_id` None), grouped by `dims` (keys of `DIMENSIONS`):
    each group (the values of `dims`, in order; no user, no key, no provider or model as None) and its
    counters, error codes included, ordered by the dimensions. No rows: empty (without `dims`, too)."""
    where = ["hour_start >= ?", "hour_start < ?"]
    params: list[Any] = [
        -(2**62) if since is None else int(since // HOUR) * HOUR,
        2**62 if until is None else until,
    ]
    if user_id is not None:
        where.append("user_id = ?")
        params.append(user_id)
    codes: dict[tuple[Any, ...], list[ErrorCount]] = {}
    sql_of = _PG_DIMENSIONS if is_postgres(db) else DIMENSIONS
    error_sql = _query(
        "usage_errors_hourly", dims, ["SUM(errors)"], where, by=("error_kind", "error_type"), sql_of=sql_of
    )
    for r in db.execute(error_sql, params):
        kind, code, n = r[len(dims) :]
        if n:
            codes.setdefault(_group_values(dims, r), []).append(ErrorCount(kind or None, code or None, n))
    out = {}
    for r in db.execute(
        _query("usage_hourly", dims, [f"SUM({c})" for c in _VALUES], where, sql_of=sql_of), params
    ):
        if r[len(dims)] is None:  # no rows at all: SUM() over nothing
            continue
        group = _group_values(dims, r)
        out[group] = _stats(r[len(dims) :], tuple(sorted(codes.get(group, ()), key=_kind_order)))
    return out


def delete_before(db: sqlite_utils.Database, cutoff: float, limit: int) -> int:
    """Delete at most `limit` rollup rows (of either table) of hours that ended by `cutoff`; returns how
    many."""
    deleted = 0
    row = "ctid" if is_postgres(db) else "rowid"  # each engine's physical row address
    for table in ("usage_hourly", "usage_errors_hourly"):
        deleted += db.execute(
            f"DELETE FROM {table} WHERE {row} IN "
            f"(SELECT {row} FROM {table} WHERE hour_start + 3600 <= ? LIMIT ?)",
            [cutoff, limit - deleted],
        ).rowcount
        if deleted >= limit:
            break
    return deleted
