"""The end of every request: its ledger row queued for the writer thread, and one access-log line.

A request refused for a missing or wrong key gets neither (a flood of wrong keys would fill both): it
is counted, per minute in the ledger, and reported in at most one warning a minute.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable

from llmgw.storage import LedgerWriter, UsageRow

log = logging.getLogger("llmgw")
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
    def __init__(self, ledger: LedgerWriter, settle: Callable[[UsageRow], None] | None = None) -> None:
        self.ledger = ledger
        self.settle = settle  # the limiter's: the request's budget reservation becomes its exact cost

    def finish(self, row: UsageRow, started: float) -> None:
        """Record a finished request in the ledger and write its access-log line."""
        row.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        if self.settle is not None:  # once the cost is known, before the row is queued
            self.settle(row)
        self.ledger.record(row)
        if not access_log.isEnabledFor(logging.INFO):
            return  # the escaping below is not free; at `warning` nobody reads it
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


class AuthFailures:
    """Requests refused for a missing or wrong key: `total` in memory, per-minute counts through the
    ledger writer (they outlive the process), and a warning at most every `interval` seconds."""

    def __init__(self, ledger: LedgerWriter, interval: float = 60.0) -> None:
        self.ledger = ledger
        self.interval = interval
        self.total = 0
        self._unreported = 0
        self._last_from: str | None = None
        self._reported = time.monotonic()  # the start of the current report's window
        self._quiet_until = -math.inf  # the first failure is reported at once

    def failed(self, client_host: str | None) -> None:
        """Count one refused request from `client_host` (never the key it presented)."""
        self.total += 1
        self._unreported += 1
        self._last_from = client_host
        self.ledger.record_auth_failure()
        if time.monotonic() >= self._quiet_until:
            self.report()

    def report(self) -> None:
        """Log the failures not yet reported, if any (also called at shutdown)."""
        now = time.monotonic()
        if self._unreported:
            log.warning(
                "%d requests failed authentication in the last %d s (last from %s)",
                self._unreported,
                math.ceil(now - self._reported),
                self._last_from or "an unknown address",
            )
        self._unreported = 0
        self._reported = now
        self._quiet_until = now + self.interval
