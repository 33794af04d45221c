"""Usage reports over the ledger, for the CLI (and later the portal and the TUI)."""

from __future__ import annotations

from llmgw.settings import Config
from llmgw.storage import ModelUsage, Store, Totals, UsageSummary

__all__ = ["ModelUsage", "Totals", "UsageSummary", "summary"]


def summary(config: Config, since: float | None) -> UsageSummary:
    """Requests, errors and tokens since `since` (unix seconds; None = all time), by provider and model,
    and how many requests failed authentication."""
    with Store.open(config.server.database) as store:
        out = store.usage_summary(since)
        out.auth_failures = store.auth_failure_count(since)
        return out
