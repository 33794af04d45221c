"""Database upkeep for the administrator at the command line: an online backup, and a health check.
Both open the file read-only (never migrating it, never creating it), so either is safe while
`llmgw serve` writes to it."""

from __future__ import annotations

from pathlib import Path

from llmgw.settings import Config
from llmgw.storage import DbHealth, Store

__all__ = ["DbHealth", "backup_database", "check_database"]


def check_database(config: Config, *, quick: bool = False) -> DbHealth:
    """The configured database's health; raises FileNotFoundError without one, DatabaseUnreadable
    when the file is not a readable SQLite database."""
    with Store.open_read_only(config.server.database, busy_timeout=config.server.database_busy_timeout) as s:
        return s.health(quick=quick)


def backup_database(config: Config, target: str | Path, *, force: bool = False) -> Path:
    """Copy the configured database to `target` (consistent while the gateway serves); returns where.
    Raises FileExistsError if `target` exists and not `force`, FileNotFoundError without a database."""
    with Store.open_read_only(config.server.database, busy_timeout=config.server.database_busy_timeout) as s:
        s.backup(target, overwrite=force)
    return Path(target)
