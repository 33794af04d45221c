"""The end of every request: its ledger row queued for the writer thread, and one access-log line."""

from __future__ import annotations

import logging
import time

from llmgw.storage import LedgerWriter, UsageRow

access_log = logging.getLogger("llmgw.access")


class Recorder:
    def __init__(self, ledger: LedgerWriter) -> None:
        self.ledger = ledger

    def finish(self, row: UsageRow, started: float) -> None:
        """Record a finished request in the ledger and write its access-log line."""
        row.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        self.ledger.record(row)
        access_log.info(
            "%s POST %s %d model=%s provider=%s key=%s attempts=%d latency_ms=%.1f%s%s",
            row.request_id,
            row.endpoint,
            row.status,
            row.model_requested,
            row.provider,
            row.key_index,
            row.attempts,
            row.latency_ms,
            f" error={row.error_type}" if row.error_type else "",
            " client_closed" if row.client_closed else "",
        )
