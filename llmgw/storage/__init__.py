"""Every SQL statement llmgw runs: the database and its migrations, one module per table, the ledger's
writer thread and its spool file, the stored responses' writer thread, and the lock that keeps one
server per database. Callers hold a `Store` (and the writers) and see only the names below: the seam
for a PostgreSQL store later.

The names below are imported on first use (PEP 562): `from llmgw.storage import Store` loads the store
and its tables, not the ledger's writer threads, the spool or the serve lock (a listing's start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmgw.storage.accounts import Accounts, ApiKeyRecord, AuditRow, KeyRow, SessionRow, UserRow
    from llmgw.storage.budget_alerts import SentAlert
    from llmgw.storage.copy import CopyReport, TableCopy, copy_database
    from llmgw.storage.copy import open_source as open_copy_source
    from llmgw.storage.database import Store
    from llmgw.storage.deleted_accounts import DeletedKey
    from llmgw.storage.health import DbHealth
    from llmgw.storage.key_states import KeyState, KeyStateRow
    from llmgw.storage.limits import LimitRow, LimitValues, Scope, Spend
    from llmgw.storage.postgres import dump_hint as pg_dump_hint
    from llmgw.storage.postgres import is_url as is_database_url
    from llmgw.storage.postgres import redacted as redacted_location
    from llmgw.storage.request_log import Cursor, LogQuery
    from llmgw.storage.requests import COLUMNS as LEDGER_COLUMNS
    from llmgw.storage.requests import USAGE_SOURCES, UsageRow
    from llmgw.storage.response_writer import ResponseWriter
    from llmgw.storage.rollups import BOUNDS_MS, UsageStats
    from llmgw.storage.serve_lock import hold_serve_lock
    from llmgw.storage.spool import Spool
    from llmgw.storage.stored_responses import StoredResponse, UpstreamResponseKey
    from llmgw.storage.writer import LedgerWriter

# Each exported name: (its module, its name there).
_HOMES: dict[str, tuple[str, str]] = {
    "Accounts": ("accounts", "Accounts"),
    "ApiKeyRecord": ("accounts", "ApiKeyRecord"),
    "AuditRow": ("accounts", "AuditRow"),
    "KeyRow": ("accounts", "KeyRow"),
    "SessionRow": ("accounts", "SessionRow"),
    "UserRow": ("accounts", "UserRow"),
    "SentAlert": ("budget_alerts", "SentAlert"),
    "CopyReport": ("copy", "CopyReport"),
    "TableCopy": ("copy", "TableCopy"),
    "copy_database": ("copy", "copy_database"),
    "open_copy_source": ("copy", "open_source"),
    "Store": ("database", "Store"),
    "DeletedKey": ("deleted_accounts", "DeletedKey"),
    "DbHealth": ("health", "DbHealth"),
    "KeyState": ("key_states", "KeyState"),
    "KeyStateRow": ("key_states", "KeyStateRow"),
    "is_database_url": ("postgres", "is_url"),
    "pg_dump_hint": ("postgres", "dump_hint"),
    "redacted_location": ("postgres", "redacted"),
    "LimitRow": ("limits", "LimitRow"),
    "LimitValues": ("limits", "LimitValues"),
    "Scope": ("limits", "Scope"),
    "Spend": ("limits", "Spend"),
    "Cursor": ("request_log", "Cursor"),
    "LogQuery": ("request_log", "LogQuery"),
    "LEDGER_COLUMNS": ("requests", "COLUMNS"),
    "USAGE_SOURCES": ("requests", "USAGE_SOURCES"),
    "UsageRow": ("requests", "UsageRow"),
    "ResponseWriter": ("response_writer", "ResponseWriter"),
    "BOUNDS_MS": ("rollups", "BOUNDS_MS"),
    "UsageStats": ("rollups", "UsageStats"),
    "hold_serve_lock": ("serve_lock", "hold_serve_lock"),
    "Spool": ("spool", "Spool"),
    "StoredResponse": ("stored_responses", "StoredResponse"),
    "UpstreamResponseKey": ("stored_responses", "UpstreamResponseKey"),
    "LedgerWriter": ("writer", "LedgerWriter"),
}

__all__ = [
    "BOUNDS_MS",
    "LEDGER_COLUMNS",
    "USAGE_SOURCES",
    "Accounts",
    "ApiKeyRecord",
    "AuditRow",
    "CopyReport",
    "Cursor",
    "DbHealth",
    "DeletedKey",
    "KeyRow",
    "KeyState",
    "KeyStateRow",
    "LedgerWriter",
    "LimitRow",
    "LimitValues",
    "LogQuery",
    "ResponseWriter",
    "Scope",
    "SentAlert",
    "SessionRow",
    "Spend",
    "Spool",
    "Store",
    "StoredResponse",
    "TableCopy",
    "UpstreamResponseKey",
    "UsageRow",
    "UsageStats",
    "UserRow",
    "copy_database",
    "hold_serve_lock",
    "is_database_url",
    "open_copy_source",
    "pg_dump_hint",
    "redacted_location",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home[0]}"), home[1])
    globals()[name] = value  # once: later lookups are plain module attributes
    return value
