"""Database upkeep for the administrator at the command line: an online backup, a health check, and the
move of an installation from its SQLite file to PostgreSQL. The first two open the database read-only
(never migrating it, never creating it), so either is safe while `llmgw serve` writes to it; the copy
never changes its source either."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llmgw.errors import DatabaseUnreadable
from llmgw.settings import Config
from llmgw.storage import CopyReport, DbHealth, Store, TableCopy, is_database_url, pg_dump_hint

__all__ = ["CopyReport", "DbHealth", "TableCopy", "backup_database", "check_database", "copy_to_postgres"]


def check_database(config: Config, *, quick: bool = False) -> DbHealth:
    """The configured database's health; raises FileNotFoundError without one, DatabaseUnreadable
    when the file is not a readable SQLite database (or the server cannot be reached)."""
    with Store.open_read_only(config.server.database, busy_timeout=config.server.database_busy_timeout) as s:
        return s.health(quick=quick)


def backup_database(config: Config, target: str | Path, *, force: bool = False) -> Path:
    """Copy the configured database to `target` (consistent while the gateway serves); returns where.
    Raises FileExistsError if `target` exists and not `force`, FileNotFoundError without a database,
    DatabaseUnreadable for a PostgreSQL database, without connecting (its message says how: pg_dump)."""
    if is_database_url(config.server.database):
        raise DatabaseUnreadable(pg_dump_hint(config.server.database, target))
    with Store.open_read_only(config.server.database, busy_timeout=config.server.database_busy_timeout) as s:
        s.backup(target, overwrite=force)
    return Path(target)


def copy_to_postgres(
    source: str,
    target: str,
    *,
    busy_timeout: float = 5.0,
    staged: Callable[[list[str]], None] = lambda steps: None,
    progress: Callable[[str, int, int], None] | None = None,
) -> CopyReport:
    """Copy the SQLite file `source` into the empty PostgreSQL database at the URL `target` (its schema
    applied first), verified, in one transaction; what was copied. The source is
    never changed: one an older llmgw wrote is migrated in a temporary copy (`staged` is told the steps).
    ValueError when `source` is a URL or `target` is not one; FileNotFoundError without a source file;
    DatabaseNotEmpty, CopyFailed, DatabaseTooNew, DatabaseUnreadable as storage/copy.py says."""
    from llmgw.storage import copy_database, open_copy_source

    if is_database_url(source):
        raise ValueError("the source must be a SQLite file, not a database URL")
    if not is_database_url(target):
        raise ValueError("the target must be a PostgreSQL URL (postgresql://USER@HOST/DATABASE)")
    with (
        open_copy_source(Path(source), busy_timeout=busy_timeout, staged=staged) as src,
        Store.open(target, busy_timeout=busy_timeout) as dst,
    ):
        return copy_database(src, dst, progress=progress)
