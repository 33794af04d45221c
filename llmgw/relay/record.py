"""The end of every request: its ledger row queued for the writer thread, and one access-log line."""

from __future__ import annotations

import json
import logging
import time

from llmgw.storage import LedgerWriter, UsageRow

access_log = logging.getLogger("llmgw.access")


def log_value(value: str | None) -> str:
    """`value` as one space-free token of a log line: as it is when it is plain visible ASCII, else
    JSON-quoted with every control, space, quote and non-ASCII character escaped, so a value the client
    (or an upstream) chose can neither end the line nor forge a field."""
    if value is None:
        return "None"
    if value and value.isascii() and value.isprintable() and " " not in value and '"' not in value:
        return value
    return json.dumps(value)  # ensure_ascii: \n, \u2028, \x85 … all escaped


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
            log_value(row.model_requested),
            log_value(row.provider),
            row.key_index,
            row.attempts,
            row.latency_ms,
            f" error={log_value(row.error_type)}" if row.error_type else "",
            " client_closed" if row.client_closed else "",
        )
