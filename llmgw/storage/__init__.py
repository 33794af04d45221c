"""Every SQL statement llmgw runs: the database and its migrations, one module per table, the ledger's
writer thread and its spool file, the stored responses' writer thread, and the lock that keeps one
server per database. Callers hold a `Store` (and the writers) and see only the names below: the seam
for a PostgreSQL store later."""

from llmgw.storage.accounts import Accounts, ApiKeyRecord, AuditRow, KeyRow, SessionRow, UserRow
from llmgw.storage.budget_alerts import SentAlert
from llmgw.storage.database import Store
from llmgw.storage.deleted_accounts import DeletedKey
from llmgw.storage.health import DbHealth
from llmgw.storage.key_states import KeyState, KeyStateRow
from llmgw.storage.limits import LimitRow, LimitValues, Scope, Spend
from llmgw.storage.request_log import Cursor, LogQuery
from llmgw.storage.requests import COLUMNS as LEDGER_COLUMNS
from llmgw.storage.requests import USAGE_SOURCES, UsageRow
from llmgw.storage.response_writer import ResponseWriter
from llmgw.storage.rollups import BOUNDS_MS, UsageStats
from llmgw.storage.serve_lock import hold_serve_lock
from llmgw.storage.spool import Spool
from llmgw.storage.stored_responses import StoredResponse, UpstreamResponseKey
from llmgw.storage.writer import LedgerWriter

__all__ = [
    "BOUNDS_MS",
    "LEDGER_COLUMNS",
    "USAGE_SOURCES",
    "Accounts",
    "ApiKeyRecord",
    "AuditRow",
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
    "UpstreamResponseKey",
    "UsageRow",
    "UsageStats",
    "UserRow",
    "hold_serve_lock",
]
