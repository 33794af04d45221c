"""The schema, one recorded step per change (sqlite-utils `Migrations`): never edit a step that shipped,
add the next one, and its name to `MIGRATION_NAMES` in storage/schema.py."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from llmgw.errors import kind_of
from llmgw.storage import (
    budget_alerts,
    id_sequences,
    key_states,
    rollup_m015,
    rollups,
    stored_responses,
)
from llmgw.storage.schema import MIGRATION_NAMES, MIGRATION_SET

migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_requests(db: sqlite_utils.Database) -> None:
    """Create the `requests` usage ledger."""
    db.execute(
        """
        CREATE TABLE requests (
            request_id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            endpoint TEXT NOT NULL,
            provider TEXT,
            model_requested TEXT,
            model_upstream TEXT,
            key_index INTEGER,
            status INTEGER NOT NULL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            total_tokens INTEGER,
            cached_tokens INTEGER,
            streamed INTEGER NOT NULL,
            client_closed INTEGER NOT NULL,
            tokens_estimated INTEGER NOT NULL DEFAULT 0,
            latency_ms REAL,
            ttft_ms REAL,
            error_type TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            user_id INTEGER,
            api_key_id INTEGER
        )
        """
    )
    db.execute("CREATE INDEX idx_requests_created_at ON requests (created_at)")
    db.execute("CREATE INDEX idx_requests_model_requested ON requests (model_requested)")


@migrations()
def m002_token_details(db: sqlite_utils.Database) -> None:
    """Cache-write and reasoning token counts, for Anthropic and Gemini usage."""
    db.execute("ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER")
    db.execute("ALTER TABLE requests ADD COLUMN reasoning_tokens INTEGER")


@migrations()
def m003_auth_failures(db: sqlite_utils.Database) -> None:
    """Requests refused for a missing or wrong key, counted per minute rather than one row each."""
    db.execute(
        """
        CREATE TABLE auth_failures (
            minute INTEGER NOT NULL,
            run TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (minute, run)
        )
        """
    )


@migrations()
def m004_accounts(db: sqlite_utils.Database) -> None:
    """Users, their personal API keys, portal sessions and the audit log.

    Names (`user_name`, `target_name`) are copied into the audit log, so it still reads after a user
    is deleted; ledger rows keep `user_id` / `api_key_id` as plain numbers for the same reason."""
    db.execute(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
            password_hash TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            public_id TEXT NOT NULL UNIQUE,
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL,
            revoked_at REAL,
            last_used_at REAL
        )
        """
    )
    db.execute("CREATE INDEX idx_api_keys_user_id ON api_keys (user_id)")
    db.execute(
        """
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            csrf_token TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen_at REAL NOT NULL,
            client_address TEXT
        )
        """
    )
    db.execute("CREATE INDEX idx_sessions_user_id ON sessions (user_id)")
    db.execute(
        """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor_user_id INTEGER,
            actor_name TEXT NOT NULL,
            action TEXT NOT NULL,
            target_type TEXT,
            target_id TEXT,
            target_name TEXT,
            client_address TEXT,
            detail TEXT
        )
        """
    )
    db.execute("CREATE INDEX idx_audit_log_at ON audit_log (at)")


@migrations()
def m005_usage_source_and_cost(db: sqlite_utils.Database) -> None:
    """Where each row's token counts came from, its cost as priced when written, and an index for
    per-user reports. Older rows get their source from what they hold; their cost stays unknown."""
    db.execute("ALTER TABLE requests ADD COLUMN usage_source TEXT NOT NULL DEFAULT 'none'")
    db.execute("ALTER TABLE requests ADD COLUMN cost_usd REAL")
    db.execute(
        """
        UPDATE requests SET usage_source = CASE
            WHEN tokens_estimated THEN 'estimated'
            WHEN prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL THEN 'provider'
            ELSE 'none' END
        """
    )
    db.execute("CREATE INDEX idx_requests_user_created ON requests (user_id, created_at)")


@migrations()
def m006_rollups(db: sqlite_utils.Database) -> None:
    """Hourly rollups of the ledger (`usage_hourly`, see storage/rollups.py), summed from the rows
    already there; from now on each batch of rows updates them in its own transaction."""
    rollups.create_table(db, rollups.M006)  # the layout m015 rebuilt: later steps expect it here
    rollups.backfill(db, rollups.M006)


@migrations()
def m007_limits(db: sqlite_utils.Database) -> None:
    """Rate limits and spend budgets of a user or of one personal key (exactly one of the two ids).

    Foreign keys, not a (scope, id) pair: a deleted user's or key's limits go with it, so an id SQLite
    gives to the next user never inherits them."""
    db.execute(
        """
        CREATE TABLE limits (
            id INTEGER PRIMARY KEY,
            user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
            api_key_id INTEGER REFERENCES api_keys (id) ON DELETE CASCADE,
            rpm INTEGER CHECK (rpm IS NULL OR rpm > 0),
            tpm INTEGER CHECK (tpm IS NULL OR tpm > 0),
            budget_usd REAL CHECK (budget_usd IS NULL OR budget_usd >= 0),
            period TEXT NOT NULL DEFAULT 'month' CHECK (period IN ('day', 'month')),
            updated_at REAL NOT NULL,
            CHECK ((user_id IS NULL) <> (api_key_id IS NULL))
        )
        """
    )
    db.execute("CREATE UNIQUE INDEX idx_limits_user_id ON limits (user_id) WHERE user_id IS NOT NULL")
    db.execute(
        "CREATE UNIQUE INDEX idx_limits_api_key_id ON limits (api_key_id) WHERE api_key_id IS NOT NULL"
    )


@migrations()
def m008_upstream_key_state(db: sqlite_utils.Database) -> None:
    """Each upstream key's state as the running gateway last saw it (see storage/key_states.py)."""
    key_states.create_table(db)


@migrations(transactional=False)
def m009_ids_never_reused(db: sqlite_utils.Database) -> None:
    """Users and keys get ids never handed out again (AUTOINCREMENT), deleted users' and keys' names
    are kept for reports, and history an earlier reuse mixed is detached (see storage/id_sequences.py).
    Not wrapped by the migration runner: it needs foreign keys off, which only holds outside a
    transaction, so it runs its own."""
    id_sequences.never_reuse_ids(db)


@migrations()
def m010_key_creation_switch(db: sqlite_utils.Database) -> None:
    """Whether a user may create their own keys: an administrator's switch, on for everyone so far."""
    db.execute("ALTER TABLE users ADD COLUMN may_create_keys INTEGER NOT NULL DEFAULT 1")


@migrations()
def m011_stored_responses(db: sqlite_utils.Database) -> None:
    """The Responses API's conversation state: stored responses with their items' index, and which
    upstream key made each response an OpenAI upstream keeps (see storage/stored_responses.py)."""
    stored_responses.create_tables(db)


@migrations()
def m012_error_kind(db: sqlite_utils.Database) -> None:
    """Each error row's kind: client, policy or upstream (errors.kind_of, applied to the rows so far
    from their status and code; the gateway sets it from the error itself from now on)."""
    db.execute("ALTER TABLE requests ADD COLUMN error_kind TEXT")
    db.conn.create_function("llmgw_kind_of", 2, kind_of, deterministic=True)
    db.execute("UPDATE requests SET error_kind = llmgw_kind_of(status, error_type)")


@migrations()
def m013_model_access(db: sqlite_utils.Database) -> None:
    """Which models a user, and a personal key, may call: a JSON array of patterns (NULL: any model).
    Columns rather than a table: each user and key has at most one list, which lives and dies with its
    row (deleting a user or key takes it along, with nothing to cascade), and the key index's one join
    of `api_keys` and `users` reads both lists with no further query."""
    db.execute("ALTER TABLE users ADD COLUMN model_access TEXT")
    db.execute("ALTER TABLE api_keys ADD COLUMN model_access TEXT")


@migrations()
def m014_budget_alerts(db: sqlite_utils.Database) -> None:
    """The budget alerts delivered, one per user or key, period and threshold (storage/budget_alerts.py)."""
    budget_alerts.create_table(db)


@migrations()
def m015_rollups_per_upstream_model_and_error_kind(db: sqlite_utils.Database) -> None:
    """The hourly rollups keyed by the model a request was sent to as well as the one it named (one
    report row per model, its aliases inside it), counting errors per kind, with the codes of each
    kind beside them (`usage_errors_hourly`); re-summed from the raw rows still there (see
    storage/rollup_m015.py)."""
    rollup_m015.rebuild(db)


@migrations()
def m016_request_log_indexes(db: sqlite_utils.Database) -> None:
    """The request log's filters by key and by model, newest first, as index ranges (see
    storage/request_log.py). The model's index replaces m001's, which is its prefix."""
    db.execute("CREATE INDEX idx_requests_key_created ON requests (api_key_id, created_at)")
    db.execute("CREATE INDEX idx_requests_model_created ON requests (model_requested, created_at)")
    db.execute("DROP INDEX idx_requests_model_requested")


@migrations()
def m017_shared_state(db: sqlite_utils.Database) -> None:
    """Nothing on SQLite: the state instances sharing a PostgreSQL database agree on (budget holds and
    spend, heartbeats, upstream keys' cool-downs, login failures; storage/shared_schema.py) is held in
    memory by a SQLite file's one `llmgw serve`, so these tables would never be read here."""


# storage/schema.py lists these steps for `Store.open`'s cheap check of what is pending: the two agree.
if [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))] != list(MIGRATION_NAMES):
    raise RuntimeError("storage/schema.py's MIGRATION_NAMES must list every step of storage/migrations.py")
