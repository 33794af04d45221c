"""Which schema steps a database file has had, read with plain `sqlite3`: `Store.open` imports the
migrations (and sqlite-utils, ~100 ms of a command's start) only when one is pending, so opening an
up-to-date file for a listing costs one query."""

from __future__ import annotations

import sqlite3
from typing import Any, Protocol

# sqlite-utils `Migrations`' own table and this project's set name in it (storage/migrations.py).
MIGRATIONS_TABLE = "_sqlite_migrations"
MIGRATION_SET = "llmgw"
# Every step of storage/migrations.py, in order: importing that module checks that this list is its
# own, so a new step cannot be left out of it.
MIGRATION_NAMES = (
    "m001_requests",
    "m002_token_details",
    "m003_auth_failures",
    "m004_accounts",
    "m005_usage_source_and_cost",
    "m006_rollups",
    "m007_limits",
    "m008_upstream_key_state",
    "m009_ids_never_reused",
    "m010_key_creation_switch",
    "m011_stored_responses",
    "m012_error_kind",
    "m013_model_access",
    "m014_budget_alerts",
    "m015_rollups_per_upstream_model_and_error_kind",
    "m016_request_log_indexes",
)


def pending(conn: sqlite3.Connection) -> list[str]:
    """This version's steps the database at `conn` has not recorded, in order (all of them for a new
    file). Reads only."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATIONS_TABLE]
    ).fetchone()
    if exists is None:
        return list(MIGRATION_NAMES)
    applied = {
        r[0]
        for r in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ?", [MIGRATION_SET])
    }
    return [name for name in MIGRATION_NAMES if name not in applied]


class Sql(Protocol):
    """What a table function that only runs statements needs of its connection. Both a plain
    `sqlite3.Connection` (an account use case's, inside the transaction `Store.accounts` holds: no
    sqlite-utils on a listing's path) and a `sqlite_utils.Database` are one; the two run a statement
    alike inside a transaction."""

    def execute(self, sql: str, parameters: Any = ..., /) -> sqlite3.Cursor: ...
