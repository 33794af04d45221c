"""The schema, one recorded step per change (sqlite-utils `Migrations`): never edit a step that shipped,
add the next one."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

migrations = Migrations("llmgw")


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
