"""Migration m015: `usage_hourly` rebuilt in the current layout (`model_upstream` in its key, errors
per kind) with `usage_errors_hourly` beside it (see rollups.py).

The hours whose raw ledger rows are still there are summed again from them, kinds and codes included.
What the old rollups hold beyond those rows (hours, or parts of hours, whose rows retention dropped)
is kept as it was: its total `errors` with no kind (reports show them as unclassified rather than
guess) and no upstream model. Raw rows of an hour the old rollups no longer have (their retention
dropped it) stay out, as they were."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmgw.storage import rollups

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["rebuild"]

_OLD = "usage_hourly_m006"
_CHUNK = 5000


def rebuild(db: sqlite_utils.Database) -> None:
    """Replace the m006 rollups with the current ones, in the migration's transaction."""
    db.execute(f"ALTER TABLE usage_hourly RENAME TO {_OLD}")
    db.execute("DROP INDEX idx_usage_hourly_user")  # the new table's index takes its name
    rollups.create_table(db)
    hours = {h for (h,) in db.execute(f"SELECT DISTINCT hour_start FROM {_OLD}")}
    deltas = rollups.Deltas()
    cursor = db.conn.execute(f"SELECT {', '.join(rollups.SOURCE_COLUMNS)} FROM requests")
    while rows := cursor.fetchmany(_CHUNK):
        deltas.add([r for r in rows if int(r[0] // rollups.HOUR) * rollups.HOUR in hours], +1)
    old = rollups.M006
    covered: dict[tuple[Any, ...], list[int]] = {}  # the raw rows' sums in m006's layout
    for key, values in deltas.sums.items():
        into = covered.setdefault(tuple(key[i] for i in old.key_at), [0] * len(old.values))
        for j, i in enumerate(old.value_at):
            into[j] += values[i]
    width = len(rollups.CURRENT.values)
    upstream_at = rollups.CURRENT.keys.index("model_upstream")
    for row in db.execute(f"SELECT {', '.join(old.keys + old.values)} FROM {_OLD}").fetchall():
        key, values = tuple(row[: len(old.keys)]), row[len(old.keys) :]
        seen = covered.get(key, [0] * len(old.values))
        rest = [v - s for v, s in zip(values, seen, strict=True)]
        if rest[0] <= 0:  # every request of the group is among the raw rows
            continue
        new_key = (*key[:upstream_at], "", *key[upstream_at:])  # the model it went to: unknown
        into = deltas.sums.setdefault(new_key, [0] * width)
        for j, i in enumerate(old.value_at):
            into[i] += rest[j]
    deltas.apply(db)
    db.execute(f"DROP TABLE {_OLD}")
