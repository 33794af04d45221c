"""The database a front end's use cases run on: opened from the configuration, closed by the caller."""

from __future__ import annotations

from llmgw.settings import Config
from llmgw.storage import Store

__all__ = ["Store", "open_store"]


def open_store(config: Config) -> Store:
    """The configured SQLite file, migrated; a context manager. Works while `llmgw serve` runs on it
    (WAL: readers never wait; a change waits up to the busy timeout for the server's write)."""
    return Store.open(config.server.database)
