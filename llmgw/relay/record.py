"""The end of every request: its ledger row queued for the writer thread, its metrics counted, and one
access-log line: text, or with `log_format = "json"` the row's fields and the request's `LineContext`
as one JSON object (`server/json_logs.py` writes it), made from the same data, never a second pass.

A request refused for a missing or wrong key gets neither (a flood of wrong keys would fill both): it
is counted, per minute in the ledger, and reported in at most one warning a minute.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmgw.relay.metrics import Metrics
from llmgw.services.pricing import PriceTable
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


_NO_PRICES = PriceTable({})
_PATH_MAX = 512  # a Gemini path carries the model the client named: bounded like the model itself


@dataclass(slots=True)
class LineContext:
    """What a JSON request line says that the ledger row does not (kept only in json mode): the method,
    the path (never the query string, where a Gemini client may put its key), the client's address as
    the audit log sees it, and who made the request: user name and key public id, never a secret."""

    method: str
    path: str
    client: str | None
    user: str | None = None
    key: str | None = None


def request_fields(row: UsageRow, context: LineContext | None) -> dict[str, Any]:
    """A finished request's JSON log fields (the logger adds time, level and logger)."""
    return {
        "request_id": row.request_id,
        "method": context.method if context else "POST",
        "path": (context.path if context else row.endpoint)[:_PATH_MAX],
        "status": row.status,
        "duration_ms": row.latency_ms,
        "ttft_ms": row.ttft_ms,
        "client": context.client if context else None,
        "user": context.user if context else None,
        "key": context.key if context else None,
        "model": row.model_requested,
        "model_upstream": row.model_upstream,
        "provider": row.provider,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
        "usage_source": row.usage_source,
        "cost_usd": row.cost_usd,
        "stream": row.streamed,
        "attempts": row.attempts,
        "error_kind": row.error_kind,
        "error": row.error_type,
        "client_closed": row.client_closed,
    }


class Recorder:
    def __init__(
        self,
        ledger: LedgerWriter,
        prices: Callable[[], PriceTable] | None = None,
        metrics: Metrics | None = None,
        settle: Callable[[UsageRow], None] | None = None,
        *,
        json_lines: bool = False,
    ) -> None:
        self.ledger = ledger
        self.json_lines = json_lines  # log_format = "json": the handler keeps each request's LineContext
        # Read at each use: the gateway's table (tests swap it on a running gateway).
        self.prices = prices if prices is not None else lambda: _NO_PRICES
        self.metrics = metrics
        self.settle = settle  # the limiter's: the request's budget reservation becomes its exact cost

    def finish(self, row: UsageRow, started: float, context: LineContext | None = None) -> None:
        """Record a finished request in the ledger and write its access-log line. The row's cost is
        set first, before anything else reads it (what settles a budget runs right after `price`)."""
        row.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        self.price(row)
        if self.settle is not None:  # once the cost is known, before the row is queued
            self.settle(row)
        self.ledger.record(row)
        if self.metrics is not None:
            self.metrics.request_finished(row)
        if not access_log.isEnabledFor(logging.INFO):
            return  # the escaping below is not free; at `warning` nobody reads it
        if self.json_lines:
            access_log.info("request", extra={"request": request_fields(row, context)})
            return
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

    def price(self, row: UsageRow) -> None:
        """Set `row.cost_usd` from today's price of the model the upstream was asked for (None when it
        has none: unknown, never 0), and keep `tokens_estimated` in step with `usage_source`. The cost
        is stored with the row, so a later price change never rewrites it."""
        row.tokens_estimated = row.usage_source == "estimated"
        price = self.prices().lookup(row.provider, row.model_upstream or row.model_requested)
        row.cost_usd = None if price is None else price.cost_usd(row)


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
