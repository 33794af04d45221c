"""The database a front end's use cases run on: opened from the configuration, closed by the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgw.settings.locations import database_path
from llmgw.storage import Store, is_database_url, redacted_location

if TYPE_CHECKING:
    from llmgw.settings import Config

__all__ = ["Store", "check_known", "is_server", "open_configured_store", "open_store", "shown"]


def is_server(location: str) -> bool:
    """Whether a `database` setting names a PostgreSQL server (a URL) rather than a SQLite file."""
    return is_database_url(location)


def shown(location: str) -> str:
    """A `database` setting as messages show it: a URL's password replaced by `***`, a path as it is."""
    return redacted_location(location)


def open_store(config: Config) -> Store:
    """The configured database, migrated; a context manager. A SQLite file works while `llmgw serve`
    runs on it (WAL: readers never wait; a change waits up to the busy timeout for the server's write);
    a PostgreSQL database is shared by any number of them."""
    return Store.open(config.server.database)


def check_known(config: Config) -> None:
    """Raise DatabaseTooNew, changing nothing, when a newer llmgw upgraded the configured database (a
    front end that opens it later asks first, so it can refuse before it starts)."""
    Store.check_known(config.server.database)


def open_configured_store(config_file: str | None) -> Store:
    """`open_store` for a command that needs nothing of the configuration but the database's location
    (the account listings): that read without building the configuration's models (~190 ms of pydantic,
    settings/locations.py), the whole configuration loaded only when that reading is not sure, so a
    problem with the file or the location is reported as `load` reports it. Other settings are not
    validated on this path."""
    path = database_path(config_file)
    if path is None:
        from llmgw.settings import load

        path = load(config_file).config.server.database
    return Store.open(path)
