"""`llmgw backup FILE`, `llmgw db check` and `llmgw db copy`: the database's online backup, its health,
and an installation moved from its SQLite file to PostgreSQL, for the administrator. The first two open
the database read-only and work while `llmgw serve` writes to it.

Exit codes: 0 done / healthy; 1 the backup failed, the check found a problem (or no SQLite database at
all, or no server to reach; with --strict, a warning too: files its owner's group or others may access),
or the copy failed and was rolled back; 2 no database file, an existing FILE without --force, `backup`
of a PostgreSQL database (pg_dump's job), a copy's target that is not empty or not a PostgreSQL URL, or
a configuration error. A URL's password is never shown."""

from __future__ import annotations

import argparse
import json
import sys
import time

from llmgw.errors import DatabaseUnreadable
from llmgw.services.database import is_server, shown
from llmgw.services.maintenance import (
    CopyReport,
    DbHealth,
    backup_database,
    check_database,
    copy_to_postgres,
)
from llmgw.settings import load


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup", help="copy the database to FILE, consistent while the gateway serves (SQLite backup API)"
    )
    backup.add_argument("file", metavar="FILE")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.add_argument("--config", metavar="FILE")
    db = sub.add_parser("db", help="database upkeep")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="integrity, foreign keys, migrations, journal mode, ledger spool (read-only)"
    )
    check.add_argument("--quick", action="store_true", help="PRAGMA quick_check: skip index contents")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--strict", action="store_true", help="fail on warnings too (files others may read: chmod 600)"
    )
    check.add_argument("--config", metavar="FILE")
    copy = actions.add_parser(
        "copy",
        help="copy an installation's SQLite file into an empty PostgreSQL database, verified",
    )
    copy.add_argument("source", metavar="SQLITE_FILE", help="the database file (never changed)")
    copy.add_argument("target", metavar="POSTGRES_URL", help="postgresql://USER@HOST/DATABASE, empty")
    copy.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run_backup(args: argparse.Namespace) -> int:
    config = load(args.config).config
    try:
        target = backup_database(config, args.file, force=args.force)
    except FileExistsError:
        print(f"llmgw: {args.file} exists; pass --force to replace it", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"llmgw: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnreadable as exc:
        if is_server(config.server.database):  # not a failure: the wrong tool (the message says which)
            print(f"llmgw: {exc}", file=sys.stderr)
            return 2
        print(f"llmgw: backup failed: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"llmgw: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {config.server.database} to {target}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.db_command == "copy":
        return run_copy(args)
    config = load(args.config).config
    database = shown(config.server.database)
    try:
        found = check_database(config, quick=args.quick)
    except FileNotFoundError as exc:
        print(f"llmgw: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnreadable as exc:  # not a database, damaged past reading, or no server to reach
        what = "reached" if is_server(config.server.database) else "read as a SQLite database"
        problem = f"{database} cannot be {what}: {exc}"
        if args.json:
            print(json.dumps({"path": database, "ok": False, "problems": [problem]}, indent=2))
        else:
            print(f"PROBLEM  {problem}")
        return 1
    print(json.dumps(to_json(found), indent=2) if args.json else format_health(found))
    return 1 if found.problems or (args.strict and found.warnings) else 0


def to_json(h: DbHealth) -> dict[str, object]:
    """`db check --json`: the same keys for both engines; PostgreSQL's `check` and `journal_mode` null
    (the server checks its own pages and keeps its own log), its version in `server`."""
    return {
        "path": h.path,
        "engine": "postgresql" if h.server else "sqlite",
        "ok": not h.problems,
        "problems": h.problems,
        "integrity": list(h.integrity),
        "check": None if h.server else "quick_check" if h.quick else "integrity_check",
        "foreign_key_problems": list(h.foreign_key_problems),
        "migrations": {"applied": list(h.applied), "pending": list(h.pending), "unknown": list(h.unknown)},
        "journal_mode": None if h.server else h.journal_mode,
        "server": h.server,
        "spool_files": [{"path": p, "bytes": n} for p, n in h.spool_files],
        "warnings": h.warnings,
        "loose_files": [{"path": p, "mode": f"{m:o}"} for p, m in h.loose_files],
    }


def format_health(h: DbHealth) -> str:
    migrations = f"{len(h.applied)} applied"
    if h.pending:
        migrations += (
            f", {len(h.pending)} pending ({', '.join(h.pending)}): the next `llmgw serve` applies them"
        )
    if h.unknown:
        migrations += f", {len(h.unknown)} unknown to this version ({', '.join(h.unknown)})"
    fk = len(h.foreign_key_problems)
    if h.server:  # what a file needs checked, the server enforces and checks itself
        fields = [("database", h.path), ("server", h.server), ("migrations", migrations)]
    else:
        fields = [
            ("database", h.path),
            ("quick_check" if h.quick else "integrity_check", "ok" if h.integrity == ("ok",) else "FAILED"),
            ("foreign keys", "ok" if not fk else f"{fk} problems"),
            ("migrations", migrations),
            ("journal mode", h.journal_mode),
            ("spool", ", ".join(f"{p} ({n} bytes)" for p, n in h.spool_files) or "none"),
        ]
    lines = [f"{name + ':':<17}{value}" for name, value in fields]
    lines += [f"PROBLEM  {p}" for p in h.problems]
    lines += [f"WARNING  {w}" for w in h.warnings]
    lines.append("ok" if not h.problems else f"{len(h.problems)} problem(s)")
    return "\n".join(lines)


def run_copy(args: argparse.Namespace) -> int:
    """`llmgw db copy SQLITE_FILE POSTGRES_URL`: the copy, its per-table summary on stdout."""
    if is_server(args.source) or not is_server(args.target):
        print("llmgw db copy: give the SQLite file first, then the PostgreSQL URL", file=sys.stderr)
        return 2

    def staged(steps: list[str]) -> None:
        print(
            f"llmgw db copy: {args.source} is {len(steps)} migration(s) behind; copying from a migrated "
            "temporary copy of it (the file itself is not changed)",
            file=sys.stderr,
        )

    try:
        report = copy_to_postgres(
            args.source, args.target, staged=staged, progress=None if args.quiet else ProgressLines()
        )
    except FileNotFoundError as exc:
        print(f"llmgw db copy: {exc}", file=sys.stderr)
        return 2
    print(format_copy(report, args.source, shown(args.target)))
    return 0


class ProgressLines:
    """Progress on stderr for a long copy: a line every few seconds (rows, rows/s); a copy done sooner
    (any small one) says nothing."""

    EVERY = 3.0

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.rows = 0  # of the tables done
        self.table = ""

    def __call__(self, table: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.EVERY:
            self.last = now
            rate = (self.rows + done) / max(now - self.started, 1e-9)
            print(f"  {table}: {done:,} of {total:,} rows ({rate:,.0f} rows/s)", file=sys.stderr)
        if done == total:
            self.rows += total


def format_copy(report: CopyReport, source: str, target: str) -> str:
    width = max(len(t.name) for t in report.tables)
    lines = [f"copied {source} to {target}, verified (rows and totals read back from both):"]
    for t in report.tables:
        totals = "".join(
            f", {name} {value:,}" if isinstance(value, int) else f", {name} {value:,.6f}"  # USD to the micro
            for name, value in t.totals
        )
        lines.append(f"  {t.name:<{width}}  {t.rows:>12,} rows{totals}")
    next_ids = ", ".join(f"{table} {n}" for table, n in report.next_ids if table in ("users", "api_keys"))
    lines.append(f"{report.rows:,} rows in {report.seconds:.1f} s; the next ids: {next_ids}")
    return "\n".join(lines)
