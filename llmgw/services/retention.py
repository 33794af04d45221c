"""Retention: raw ledger rows older than `usage_retention_days`, hourly rollups older than
`rollup_retention_days`, stored responses (and the records of which upstream key made a response)
older than `response_retention_days` are deleted (0: kept forever), a small batch per transaction so
the ledger writer never waits long. The rollups are not touched by purging raw rows: report totals stay
the same. Stored responses go fewer at a time (`RESPONSE_PURGE_BATCH`): each holds a conversation's
items.

The running gateway purges every `PURGE_INTERVAL` seconds in a worker thread (server/loops.py);
`llmgw usage purge` does it by hand through `purge`."""

from __future__ import annotations

from dataclasses import dataclass, replace

from llmgw.services import audit
from llmgw.services.audit import Actor
from llmgw.settings import ServerConfig
from llmgw.storage import Store

__all__ = [
    "PURGE_BATCH",
    "PURGE_INTERVAL",
    "RESPONSE_PURGE_BATCH",
    "Purged",
    "cutoffs",
    "purge",
    "purge_batch",
    "response_cutoff",
]

PURGE_BATCH = 500  # rows per transaction: a few milliseconds of the store's lock
RESPONSE_PURGE_BATCH = 50  # stored responses per transaction: each may hold a long conversation
PURGE_INTERVAL = 600.0  # seconds between the running gateway's purges
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed, and the cutoffs it used (None: that kind is kept forever)."""

    requests: int
    rollups: int
    requests_before: float | None
    rollups_before: float | None
    responses: int = 0  # stored responses and upstream-key records
    responses_before: float | None = None

    def more(self, batch: int = PURGE_BATCH) -> bool:
        """Whether a step of `purge_batch` with this `batch` may have left rows past retention."""
        return self.requests >= batch or self.rollups >= batch or self.responses >= RESPONSE_PURGE_BATCH


def cutoffs(server: ServerConfig, now: float) -> tuple[float | None, float | None]:
    """The times before which raw rows and rollup hours go (None: kept forever)."""
    raw = now - server.usage_retention_days * DAY if server.usage_retention_days > 0 else None
    hours = now - server.rollup_retention_days * DAY if server.rollup_retention_days > 0 else None
    return raw, hours


def response_cutoff(server: ServerConfig, now: float) -> float | None:
    """The time before which stored responses go (None: kept forever)."""
    return now - server.response_retention_days * DAY if server.response_retention_days > 0 else None


def purge_batch(store: Store, server: ServerConfig, now: float, batch: int = PURGE_BATCH) -> Purged:
    """One step: at most `batch` raw rows, `batch` rollup rows and `RESPONSE_PURGE_BATCH` stored
    responses and upstream-key records, each kind in its own short transaction. Call again while
    `more(batch)`."""
    raw, hours = cutoffs(server, now)
    stored = response_cutoff(server, now)
    return Purged(
        requests=0 if raw is None else store.purge_requests_before(raw, batch),
        rollups=0 if hours is None else store.purge_rollups_before(hours, batch),
        requests_before=raw,
        rollups_before=hours,
        responses=0 if stored is None else store.purge_stored_responses_before(stored, RESPONSE_PURGE_BATCH),
        responses_before=stored,
    )


def purge(store: Store, actor: Actor, server: ServerConfig, now: float, batch: int = PURGE_BATCH) -> Purged:
    """Everything past retention, batch after batch. Administrators only."""
    with store.accounts(write=False) as accounts:
        audit.require_admin(accounts, actor)
    requests = rollups = responses = 0
    while True:
        step = purge_batch(store, server, now, batch)
        requests += step.requests
        rollups += step.rollups
        responses += step.responses
        if not step.more(batch):
            return replace(step, requests=requests, rollups=rollups, responses=responses)
