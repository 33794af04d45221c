"""The terminal admin of llmgw (`llmgw tui`): a Textual app on the same SQLite database as a running
`llmgw serve`, for users, keys, usage, provider secrets and the audit log.

It holds no SQL and no rules of its own: every read and change is a use case of `llmgw.services`
(an import-linter contract forbids `llmgw.storage` and `sqlite3` here), run in a worker thread so the
screen never waits on the database. The gateway package never imports this one."""

from __future__ import annotations

__all__ = ["AdminApp", "Backend"]

from llmgw_tui.app import AdminApp
from llmgw_tui.backend import Backend
