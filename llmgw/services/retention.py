"""Usage retention: raw ledger rows older than `usage_retention_days` and hourly rollups older than
`rollup_retention_days` are deleted (0: kept forever), a small batch per transaction so the ledger
writer never waits long. The rollups are not touched by purging raw rows: report totals stay the same.

The running gateway purges every `PURGE_INTERVAL` seconds in a worker thread (server/loops.py);
`llmgw usage purge` does it by hand through `purge`."""

from __future__ import annotations

from dataclasses import dataclass

from llmgw.services import audit
from llmgw.services.audit import Actor
from llmgw.settings import ServerConfig
from llmgw.storage import Store

__all__ = ["PURGE_BATCH", "PURGE_INTERVAL", "Purged", "cutoffs", "purge", "purge_batch"]

PURGE_BATCH = 500  # rows per transaction: a few milliseconds of the store's lock
PURGE_INTERVAL = 600.0  # seconds between the running gateway's purges
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed, and the cutoffs it used (None: that kind is kept forever)."""

    requests: int
    rollups: int
    requests_before: float | None
    rollups_before: float | None


def cutoffs(server: ServerConfig, now: float) -> tuple[float | None, float | None]:
    """The times before which raw rows and rollup hours go (None: kept forever)."""
    raw = now - server.usage_retention_days * DAY if server.usage_retention_days > 0 else None
    hours = now - server.rollup_retention_days * DAY if server.rollup_retention_days > 0 else None
    return raw, hours


def purge_batch(store: Store, server: ServerConfig, now: float, batch: int = PURGE_BATCH) -> Purged:
    """One step: at most `batch` raw rows and `batch` rollup rows, each in its own short transaction.
    Call again while either count equals `batch`."""
    raw, hours = cutoffs(server, now)
    return Purged(
        requests=0 if raw is None else store.purge_requests_before(raw, batch),
        rollups=0 if hours is None else store.purge_rollups_before(hours, batch),
        requests_before=raw,
        rollups_before=hours,
    )


def purge(store: Store, actor: Actor, server: ServerConfig, now: float, batch: int = PURGE_BATCH) -> Purged:
    """Everything past retention, batch after batch. Administrators only."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
    requests = rollups = 0
    while True:
        step = purge_batch(store, server, now, batch)
        requests += step.requests
        rollups += step.rollups
        if step.requests < batch and step.rollups < batch:
            return Purged(requests, rollups, step.requests_before, step.rollups_before)
