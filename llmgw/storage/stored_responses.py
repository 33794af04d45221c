"""The Responses API's conversation state (m011): the responses the gateway keeps for clients of
`/v1/responses` whose upstream has no state of its own, and which upstream key made each response an
OpenAI upstream keeps.

- `stored_responses`: one row per response the gateway answered through a translated upstream with
  `store` on: its owner (`user_id`, NULL for the proxy key's requests; the user's deletion takes the
  rows with it), the key it came with, the request's own input items and the answer's output items as
  JSON arrays, and the Response object as JSON with its `output` left out (it is `output_items`: kept
  once, put back on read). `previous_response_id` links a response to the one it continued, so a
  conversation is a chain of rows, each holding only what its request added.
- `stored_response_items`: which stored response holds an item id (input or output), for an input's
  `{"type": "item_reference", "id": …}` (the Vercel AI SDK sends earlier answers that way).
- `response_upstream_keys`: a response an OpenAI upstream made and keeps: the provider and the
  fingerprint of the key that made it (an id belongs to the account behind one key), never the key.

The owner and retention rules are the service's (`services/stored_responses.py`); the SQL is here, and
`Store` is the entry point that calls it. Rows are written by the writer thread
(`storage/response_writer.py`), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from llmgw.storage.postgres import is_postgres

if TYPE_CHECKING:
    import sqlite_utils

__all__ = [
    "StoredResponse",
    "UpstreamResponseKey",
    "create_tables",
    "delete",
    "delete_before",
    "delete_upstream_key",
    "delete_upstream_keys_before",
    "find_item",
    "get",
    "insert",
    "insert_upstream_keys",
    "upstream_key",
]

Item = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One stored response: whose, when, and the conversation content it adds."""

    id: str
    user_id: int | None  # None: made with the proxy key (legacy mode), visible only to it
    api_key_id: int | None
    created_at: float  # unix seconds, the gateway's clock (retention counts from it)
    model: str
    provider: str | None
    previous_response_id: str | None
    input_items: list[Item]  # this request's own input, each item with an `id`
    output_items: list[Item]
    response: dict[str, Any]  # the Response object as the client got it, `output` included

    def item_ids(self) -> set[str]:
        return {i["id"] for i in (*self.input_items, *self.output_items) if isinstance(i.get("id"), str)}


@dataclass(frozen=True, slots=True)
class UpstreamResponseKey:
    """A response an OpenAI upstream made: where it lives, and with which key (by fingerprint)."""

    response_id: str
    provider: str
    key_fingerprint: str
    user_id: int | None
    created_at: float


def create_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE stored_responses (
            id TEXT PRIMARY KEY,
            user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
            api_key_id INTEGER,
            created_at REAL NOT NULL,
            model TEXT NOT NULL,
            provider TEXT,
            previous_response_id TEXT,
            input_items TEXT NOT NULL,
            output_items TEXT NOT NULL,
            response TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_stored_responses_created_at ON stored_responses (created_at)")
    db.execute("CREATE INDEX idx_stored_responses_user_id ON stored_responses (user_id, created_at)")
    db.execute(
        """
        CREATE TABLE stored_response_items (
            item_id TEXT NOT NULL,
            response_id TEXT NOT NULL REFERENCES stored_responses (id) ON DELETE CASCADE,
            PRIMARY KEY (item_id, response_id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_stored_response_items_response_id ON stored_response_items (response_id)")
    db.execute(
        """
        CREATE TABLE response_upstream_keys (
            response_id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            key_fingerprint TEXT NOT NULL,
            user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
            created_at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_response_upstream_keys_created_at ON response_upstream_keys (created_at)")
    db.execute("CREATE INDEX idx_response_upstream_keys_user_id ON response_upstream_keys (user_id)")


_COLUMNS = (
    "id, user_id, api_key_id, created_at, model, provider, previous_response_id, input_items, "
    "output_items, response"
)
_INSERT = f"INSERT INTO stored_responses ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_ITEM = "INSERT INTO stored_response_items (item_id, response_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
_KEY_COLUMNS = "response_id, provider, key_fingerprint, user_id, created_at"


def _values(r: StoredResponse) -> tuple[Any, ...]:
    # The Response's `output` is `output_items`: stored once, its place in the object kept by a null.
    shell = {**r.response, "output": None} if "output" in r.response else r.response
    return (
        r.id,
        r.user_id,
        r.api_key_id,
        r.created_at,
        r.model,
        r.provider,
        r.previous_response_id,
        orjson.dumps(r.input_items).decode(),
        orjson.dumps(r.output_items).decode(),
        orjson.dumps(shell).decode(),
    )


def _row(values: Sequence[Any]) -> StoredResponse:
    output: list[Item] = orjson.loads(values[8])
    response: dict[str, Any] = orjson.loads(values[9])
    if "output" in response:
        response["output"] = output
    return StoredResponse(
        id=values[0],
        user_id=values[1],
        api_key_id=values[2],
        created_at=values[3],
        model=values[4],
        provider=values[5],
        previous_response_id=values[6],
        input_items=orjson.loads(values[7]),
        output_items=output,
        response=response,
    )


def insert(db: sqlite_utils.Database, rows: Sequence[StoredResponse]) -> None:
    """Insert stored responses and index their items (the caller holds the transaction)."""
    db.conn.executemany(_INSERT, [_values(r) for r in rows])
    db.conn.executemany(_INSERT_ITEM, [(item_id, r.id) for r in rows for item_id in r.item_ids()])


def insert_upstream_keys(db: sqlite_utils.Database, rows: Sequence[UpstreamResponseKey]) -> None:
    """Record which upstream key made each response (the caller holds the transaction); an id seen
    again keeps its first record."""
    db.conn.executemany(
        f"INSERT INTO response_upstream_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(r.response_id, r.provider, r.key_fingerprint, r.user_id, r.created_at) for r in rows],
    )


def get(db: sqlite_utils.Database, response_id: str) -> StoredResponse | None:
    """The stored response of that id, whoever owns it (the service checks)."""
    found = db.execute(f"SELECT {_COLUMNS} FROM stored_responses WHERE id = ?", [response_id]).fetchone()
    return _row(found) if found is not None else None


def find_item(
    db: sqlite_utils.Database, item_id: str, user_id: int | None, since: float
) -> StoredResponse | None:
    """The newest response of `user_id` (None: the proxy key's) created since `since` that holds an
    item of that id."""
    columns = ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))
    same = "IS NOT DISTINCT FROM" if is_postgres(db) else "IS"  # equal, NULL (the proxy key's) included
    found = db.execute(
        f"""
        SELECT {columns} FROM stored_response_items i JOIN stored_responses r ON r.id = i.response_id
        WHERE i.item_id = ? AND r.user_id {same} ? AND r.created_at >= ?
        ORDER BY r.created_at DESC LIMIT 1
        """,
        [item_id, user_id, since],
    ).fetchone()
    return _row(found) if found is not None else None


def upstream_key(db: sqlite_utils.Database, response_id: str) -> UpstreamResponseKey | None:
    found = db.execute(
        f"SELECT {_KEY_COLUMNS} FROM response_upstream_keys WHERE response_id = ?", [response_id]
    ).fetchone()
    return UpstreamResponseKey(*found) if found is not None else None


def delete(db: sqlite_utils.Database, response_id: str) -> bool:
    """Delete one stored response (its item index goes with it); whether there was one."""
    return db.execute("DELETE FROM stored_responses WHERE id = ?", [response_id]).rowcount > 0


def delete_upstream_key(db: sqlite_utils.Database, response_id: str) -> bool:
    return db.execute("DELETE FROM response_upstream_keys WHERE response_id = ?", [response_id]).rowcount > 0


def delete_before(db: sqlite_utils.Database, cutoff: float, limit: int) -> int:
    """Delete at most `limit` of the oldest stored responses created before `cutoff`."""
    return db.execute(
        """
        DELETE FROM stored_responses WHERE id IN (
            SELECT id FROM stored_responses WHERE created_at < ? ORDER BY created_at LIMIT ?
        )
        """,
        [cutoff, limit],
    ).rowcount


def delete_upstream_keys_before(db: sqlite_utils.Database, cutoff: float, limit: int) -> int:
    """Delete at most `limit` of the oldest upstream-key records created before `cutoff`."""
    return db.execute(
        """
        DELETE FROM response_upstream_keys WHERE response_id IN (
            SELECT response_id FROM response_upstream_keys WHERE created_at < ?
            ORDER BY created_at LIMIT ?
        )
        """,
        [cutoff, limit],
    ).rowcount
