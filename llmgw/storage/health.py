"""The database's own health, read without changing anything (`llmgw db check`), and its online backup
(`llmgw backup`). `llmgw.storage.database.Store` is the entry point that calls these."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from llmgw.storage.file_modes import create_private, loose_modes, warning
from llmgw.storage.serve_lock import lock_path

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["DbHealth", "backup", "database_files", "health"]

_SPOOL_SUFFIXES = (".spool", ".spool.replaying", ".spool.rejected")

_MAX_MESSAGES = 20  # integrity_check stops after this many problems; enough to act on


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DbHealth:
    """What `llmgw db check` reports about one SQLite file, or a PostgreSQL database (`server` set)."""

    path: str
    integrity: tuple[str, ...]  # ("ok",) when sound, else SQLite's messages
    quick: bool  # quick_check (no index contents) rather than integrity_check
    foreign_key_problems: tuple[str, ...]  # "table row N: references parent"
    applied: tuple[str, ...]  # migrations recorded in the file, in order
    pending: tuple[str, ...]  # this version's migrations the file has not had
    unknown: tuple[str, ...]  # recorded in the file, unknown to this version (a newer llmgw wrote it)
    journal_mode: str
    spool_files: tuple[tuple[str, int], ...]  # (path, bytes) of the ledger spool's files present
    loose_files: tuple[tuple[str, int], ...] = ()  # (path, mode) of its files others may access
    server: str | None = None  # PostgreSQL's version (its path a redacted URL); None: a SQLite file

    @property
    def problems(self) -> list[str]:
        """One sentence per problem; empty when the file is fit to serve (pending steps are applied by
        the next `llmgw serve`, so they are reported but are not a problem)."""
        out: list[str] = []
        if self.integrity != ("ok",):
            out.append(f"integrity check failed: {'; '.join(self.integrity)}")
        if self.foreign_key_problems:
            out.append(f"{len(self.foreign_key_problems)} rows reference missing parents")
        if self.unknown:
            out.append(f"migrations newer than this llmgw: {', '.join(self.unknown)} (upgrade llmgw)")
        for path, _ in self.spool_files:
            if path.endswith(".rejected"):
                out.append(f"ledger rows the database refused are kept in {path}")
        return out

    @property
    def warnings(self) -> list[str]:
        """What is worth fixing but does not keep the file from serving (`--strict` fails on it)."""
        return [warning(Path(path), mode) for path, mode in self.loose_files]


def database_files(path: Path) -> list[Path]:
    """Every file llmgw keeps for the database at `path`: the file, SQLite's own beside it, the
    ledger's spool files and the serve lock."""
    return [
        *(Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal", *_SPOOL_SUFFIXES)),
        lock_path(path),
    ]


def health(db: sqlite_utils.Database, path: Path, *, quick: bool) -> DbHealth:
    """Check `db` (opened read-only): integrity, foreign keys, migrations, journal mode, spool files."""
    import sqlite_utils  # here: `Store` imports this module on every command's path

    from llmgw.storage.migrations import migrations

    check = "quick_check" if quick else "integrity_check"
    integrity = tuple(r[0] for r in db.execute(f"PRAGMA {check}({_MAX_MESSAGES})").fetchall())
    foreign = tuple(
        f"{table} row {rowid}: references {parent}"
        for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check").fetchall()
    )
    applied = tuple(m.name for m in migrations.applied(db))
    known = {m.name for m in migrations.pending(sqlite_utils.Database(memory=True))}
    journal_mode = str(db.execute("PRAGMA journal_mode").fetchone()[0])
    spool = [Path(f"{path}{suffix}") for suffix in _SPOOL_SUFFIXES]
    return DbHealth(
        path=str(path),
        integrity=integrity,
        quick=quick,
        foreign_key_problems=foreign,
        applied=applied,
        pending=tuple(m.name for m in migrations.pending(db)),
        unknown=tuple(n for n in applied if n not in known),
        journal_mode=journal_mode,
        spool_files=tuple((str(p), p.stat().st_size) for p in spool if p.exists()),
        loose_files=tuple((str(p), mode) for p, mode in loose_modes(database_files(path))),
    )


def backup(source: sqlite3.Connection, target: Path, *, overwrite: bool) -> None:
    """Copy the database behind `source` to `target` with SQLite's online backup API, in one step: one
    consistent snapshot, whatever another process commits meanwhile (WAL: it is not blocked). Written
    to a temporary file beside `target`, checked, made a self-contained rollback-journal file, then
    renamed into place; raises FileExistsError if `target` exists and not `overwrite`."""
    if target.exists() and not overwrite:
        raise FileExistsError(str(target))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)  # left by a crash: a fresh file, so that it is created private
        create_private(tmp)
        dest = sqlite3.connect(tmp)
        try:
            source.backup(dest)  # pages=-1: every page in one step, under one read transaction
            dest.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            result = dest.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(f"the backup failed its check: {result}")
        finally:
            dest.close()
        if target.exists() and not overwrite:  # created meanwhile
            raise FileExistsError(str(target))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
