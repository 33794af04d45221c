"""The `usage_hourly` rollup table (migration m006): the ledger summed per UTC hour, kept up to date in
the same transaction as each batch of `requests` rows, so reports never scan raw rows and survive the
raw rows' retention.

One rollup row per (hour_start, user_id, api_key_id, provider, model_requested, usage_source). SQLite
treats NULLs as distinct in a UNIQUE key, so the key columns hold sentinels instead: 0 for no user or
no key (ids start at 1), '' for no provider or model. `totals` turns them back into None.

Costs are summed as integer nano-dollars, so subtracting a replaced row (spool replay) restores the sum
exactly, which floating point would not. Latency and time to first token are counted into fixed
log-spaced buckets (`BOUNDS_MS`), enough for a p50/p95 estimate within one bucket's width (~41%).
Day and month totals are sums of hours (UTC).

`UsageStats` is the one declaration of the usage counters: every report (`llmgw usage`, plain or
`--by`, the portal's dashboards, the TUI, the CSV export) reads what `totals` sums into it.
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

__all__ = [
    "BOUNDS_MS",
    "DIMENSIONS",
    "UsageStats",
    "backfill",
    "create_table",
    "percentile",
    "record",
    "totals",
]

HOUR = 3600
NANO = 1_000_000_000  # cost_nusd units per USD

# Upper bounds (inclusive, ms) of the histogram buckets: 2^(k/2) ms, 1 ms to ~17.5 min; one more
# bucket holds everything above. Never change these without a migration: stored counts depend on them.
BOUNDS_MS: tuple[float, ...] = tuple(2 ** (k / 2) for k in range(41))
BUCKETS = len(BOUNDS_MS) + 1

_KEYS = ("hour_start", "user_id", "api_key_id", "provider", "model_requested", "usage_source")
# The table's summed columns (m006), in `UsageStats`' order: cost as `cost_nusd`, `unpriced_requests`
# as `unpriced`.
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
)
_LATENCY = tuple(f"latency_{i}" for i in range(BUCKETS))
_TTFT = tuple(f"ttft_{i}" for i in range(BUCKETS))
_VALUES = _SUMS + _LATENCY + _TTFT
_LAT0 = len(_SUMS)
_TTFT0 = _LAT0 + BUCKETS

# The ledger columns a row's contribution is computed from, in this order.
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
)
source_values = operator.attrgetter(*SOURCE_COLUMNS)  # a UsageRow → the tuple `contribution` reads

_UPSERT_SQL = (
    f"INSERT INTO usage_hourly ({', '.join(_KEYS + _VALUES)}) "
    f"VALUES ({', '.join('?' * (len(_KEYS) + len(_VALUES)))}) "
    f"ON CONFLICT ({', '.join(_KEYS)}) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in _VALUES)
)
_DROP_EMPTY_SQL = (
    f"DELETE FROM usage_hourly WHERE requests <= 0 AND {' AND '.join(f'{k} = ?' for k in _KEYS)}"
)

Key = tuple[int, int, int, str, str, str]


def create_table(db: sqlite_utils.Database) -> None:
    """Create `usage_hourly` (called by migration m006 only)."""
    columns = ",\n".join(
        [
            "hour_start INTEGER NOT NULL",
            "user_id INTEGER NOT NULL",
            "api_key_id INTEGER NOT NULL",
            "provider TEXT NOT NULL",
            "model_requested TEXT NOT NULL",
            "usage_source TEXT NOT NULL",
            *(f"{c} INTEGER NOT NULL DEFAULT 0" for c in _VALUES),
            f"PRIMARY KEY ({', '.join(_KEYS)})",
        ]
    )
    db.execute(f"CREATE TABLE usage_hourly (\n{columns}\n)")
    # Per-user reports (a user seeing their own usage) read a range of hours of one user.
    db.execute("CREATE INDEX idx_usage_hourly_user ON usage_hourly (user_id, hour_start)")


def _bucket(ms: float) -> int:
    return bisect.bisect_left(BOUNDS_MS, ms)


def contribution(src: Sequence[Any]) -> tuple[Key, list[int]]:
    """One ledger row's key and counts (`src` holds `SOURCE_COLUMNS`' values)."""
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
    ) = src
    key: Key = (
        int(created_at // HOUR) * HOUR,
        user_id or 0,
        api_key_id or 0,
        provider or "",
        model or "",
        source or "none",
    )
    values = [0] * len(_VALUES)
    values[0] = 1
    values[1] = int(status >= 400 or error_type is not None)
    values[2] = prompt or 0
    values[3] = completion or 0
    values[4] = total or 0
    values[5] = cached or 0
    values[6] = cache_write or 0
    values[7] = reasoning or 0
    values[8] = round(cost * NANO) if cost is not None else 0
    # Unpriced: answered with tokens (counted or estimated) but no price known for the model.
    values[9] = int(cost is None and (source or "none") != "none")
    if latency is not None:
        values[_LAT0 + _bucket(latency)] = 1
    if ttft is not None:
        values[_TTFT0 + _bucket(ttft)] = 1
    return key, values


def _accumulate(deltas: dict[Key, list[int]], rows: Iterable[Sequence[Any]], sign: int) -> None:
    for src in rows:
        key, values = contribution(src)
        into = deltas.get(key)
        if into is None:
            deltas[key] = [sign * v for v in values]
        else:
            for i, v in enumerate(values):
                if v:
                    into[i] += sign * v


def _apply(db: sqlite_utils.Database, deltas: dict[Key, list[int]]) -> None:
    db.conn.executemany(_UPSERT_SQL, [(*key, *values) for key, values in deltas.items()])
    # A row replaced by one in another hour (or another key) leaves its old group empty.
    emptied = [key for key, values in deltas.items() if values[0] < 0]
    if emptied:
        db.conn.executemany(_DROP_EMPTY_SQL, emptied)


def record(
    db: sqlite_utils.Database, replaced: Iterable[Sequence[Any]], added: Iterable[Sequence[Any]]
) -> None:
    """Subtract the rows `replaced` and add the rows `added` (tuples of `SOURCE_COLUMNS`), in the
    caller's transaction."""
    deltas: dict[Key, list[int]] = {}
    _accumulate(deltas, replaced, -1)
    _accumulate(deltas, added, +1)
    _apply(db, deltas)


def backfill(db: sqlite_utils.Database, chunk: int = 5000) -> None:
    """Sum every existing ledger row into the (empty) rollup table (migration m006)."""
    cursor = db.conn.execute(f"SELECT {', '.join(SOURCE_COLUMNS)} FROM requests")
    deltas: dict[Key, list[int]] = {}
    while rows := cursor.fetchmany(chunk):
        _accumulate(deltas, rows, +1)
    _apply(db, deltas)


# --- reading ------------------------------------------------------------------------------------------

# What a report may group by, as SQL over usage_hourly. Day and month start at UTC midnight.
DIMENSIONS: dict[str, str] = {
    "user": "user_id",
    "key": "api_key_id",
    "provider": "provider",
    "model": "model_requested",
    "hour": "hour_start",
    "day": "hour_start - hour_start % 86400",
    "month": "CAST(strftime('%s', hour_start, 'unixepoch', 'start of month') AS INTEGER)",
    "source": "usage_source",  # provider, estimated or none (the plain `llmgw usage` summary)
}
_NONE_SENTINELS = {"user": 0, "key": 0, "provider": "", "model": ""}


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


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UsageStats:
    """The usage counters summed over a set of requests (zero: none). Token counts unknown for a row
    count as 0. `cost_usd` sums the known costs only; `unpriced_requests` answered with tokens but had
    no price, so the true cost is higher when it is not 0. Latency and time to first token are counts
    per `BOUNDS_MS` bucket; their percentiles are estimates (None: no timings)."""

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
    latency_buckets: tuple[int, ...] = ()
    ttft_buckets: tuple[int, ...] = ()

    @property
    def error_rate(self) -> float:
        """Errors per request, 0.0 when there were none."""
        return self.errors / self.requests if self.requests else 0.0

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


def _stats(v: Sequence[int]) -> UsageStats:
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
        latency_buckets=tuple(v[_LAT0 : _LAT0 + BUCKETS]),
        ttft_buckets=tuple(v[_TTFT0 : _TTFT0 + BUCKETS]),
    )


def totals(
    db: sqlite_utils.Database,
    *,
    since: float | None,
    until: float | None,
    user_id: int | None,
    dims: Sequence[str],
) -> dict[tuple[Any, ...], UsageStats]:
    """Sum the hours in [since, until) (whole hours: an edge inside an hour takes that whole hour; None:
    unbounded), of one user or everyone (`user_id` None), grouped by `dims` (keys of `DIMENSIONS`):
    each group (the values of `dims`, in order; no user, no key, no provider or model as None) and its
    counters, ordered by the dimensions. No rows: empty (without `dims`, too)."""
    exprs = [DIMENSIONS[d] for d in dims]
    where = ["hour_start >= ?", "hour_start < ?"]
    params: list[Any] = [
        -(2**62) if since is None else int(since // HOUR) * HOUR,
        2**62 if until is None else until,
    ]
    if user_id is not None:
        where.append("user_id = ?")
        params.append(user_id)
    select = [*(f"{e} AS d{i}" for i, e in enumerate(exprs)), *(f"SUM({c})" for c in _VALUES)]
    sql = f"SELECT {', '.join(select)} FROM usage_hourly WHERE {' AND '.join(where)}"
    if exprs:
        group = ", ".join(f"d{i}" for i in range(len(exprs)))
        sql += f" GROUP BY {group} ORDER BY {group}"
    out = {}
    for r in db.execute(sql, params).fetchall():
        if r[len(dims)] is None:  # no rows at all: SUM() over nothing
            continue
        group_values = tuple(
            None if d in _NONE_SENTINELS and v == _NONE_SENTINELS[d] else v
            for d, v in zip(dims, r, strict=False)
        )
        out[group_values] = _stats(r[len(dims) :])
    return out


def delete_before(db: sqlite_utils.Database, cutoff: float, limit: int) -> int:
    """Delete at most `limit` rollup rows of hours that ended by `cutoff`; returns how many."""
    return db.execute(
        "DELETE FROM usage_hourly WHERE rowid IN "
        "(SELECT rowid FROM usage_hourly WHERE hour_start + 3600 <= ? LIMIT ?)",
        [cutoff, limit],
    ).rowcount
