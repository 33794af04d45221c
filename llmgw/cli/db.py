"""`llmgw backup FILE` and `llmgw db check`: the database's online backup and its health, for the
administrator. Both open the database read-only and work while `llmgw serve` writes to it.

Exit codes: 0 done / healthy; 1 the backup failed or the check found a problem (or no SQLite database
at all; with --strict, a warning too: files its owner's group or others may access); 2 no database
file, an existing FILE without --force, or a configuration error."""

from __future__ import annotations

import argparse
import json
import sys

from llmgw.errors import DatabaseUnreadable
from llmgw.services.maintenance import DbHealth, backup_database, check_database
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
    except (DatabaseUnreadable, OSError) as exc:
        print(f"llmgw: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {config.server.database} to {target}")
    return 0


def run(args: argparse.Namespace) -> int:
    config = load(args.config).config
    try:
        found = check_database(config, quick=args.quick)
    except FileNotFoundError as exc:
        print(f"llmgw: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnreadable as exc:  # not a database, or damaged past reading
        problem = f"{config.server.database} cannot be read as a SQLite database: {exc}"
        if args.json:
            print(json.dumps({"path": config.server.database, "ok": False, "problems": [problem]}, indent=2))
        else:
            print(f"PROBLEM  {problem}")
        return 1
    print(json.dumps(to_json(found), indent=2) if args.json else format_health(found))
    return 1 if found.problems or (args.strict and found.warnings) else 0


def to_json(h: DbHealth) -> dict[str, object]:
    return {
        "path": h.path,
        "ok": not h.problems,
        "problems": h.problems,
        "integrity": list(h.integrity),
        "check": "quick_check" if h.quick else "integrity_check",
        "foreign_key_problems": list(h.foreign_key_problems),
        "migrations": {"applied": list(h.applied), "pending": list(h.pending), "unknown": list(h.unknown)},
        "journal_mode": h.journal_mode,
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
