"""Budget alerts: a JSON POST to `budget_alert_webhook` when a user's or key's spend crosses one of
`budget_alert_thresholds` (percent) of its day or month budget.

- Found by looking at the limiter's spend (in memory, `Limiter.budgets`) every `CHECK_INTERVAL`
  seconds: nothing on the request path, no query per look.
- Once per (user or key, period, threshold): the alerts delivered are kept in the database
  (`budget_alerts`, m014) and read at start, so a restart sends none again; one found again in the
  same period while it is queued, being retried or given up on is not queued twice.
- Sent one at a time from a queue by its own task, with a `SEND_TIMEOUT`: a slow or dead receiver
  holds up only the alerts behind it, never a request. A failure (a connection error, a timeout,
  any status but 2xx) is retried after each of `RETRY_DELAYS`, then given up until the next start;
  each is logged naming only the receiver's host, never the URL (its path is the secret in a Slack
  webhook), nor the receiver's answer.
- The body: `text` (what Slack's incoming webhooks post) and the fields a generic receiver reads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from llmgw.relay.limits import BudgetState, Limiter
from llmgw.services.money import usd
from llmgw.storage import SentAlert, Store

__all__ = ["Alert", "BudgetAlerts", "receiver_host"]

log = logging.getLogger("llmgw.alerts")

CHECK_INTERVAL: Final = 2.0
RETRY_DELAYS: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 120.0, 300.0)
SEND_TIMEOUT: Final = 10.0
QUEUE_SIZE: Final = 1000

AlertKey = tuple[str, int, str, float, int]  # scope, subject id, period, period start, threshold


@dataclass(frozen=True, slots=True)
class Alert:
    """One threshold crossed: whose budget, and its numbers when it was found."""

    state: BudgetState
    threshold: int  # percent
    at: float  # when it was found (unix seconds)

    @property
    def key(self) -> AlertKey:
        s = self.state
        return (s.scope, s.subject_id, s.period, s.period_start, self.threshold)

    @property
    def sent(self) -> SentAlert:
        s = self.state
        scope: Any = s.scope
        return SentAlert(scope, s.subject_id, s.period, s.period_start, self.threshold)

    def payload(self) -> dict[str, Any]:
        """The JSON body: `text` for Slack, the rest for any receiver."""
        s = self.state
        who = f"user {s.owner}" if s.scope == "user" else f"key {s.subject} of user {s.owner}"
        start = datetime.fromtimestamp(s.period_start, UTC)
        period = start.strftime("%Y-%m-%d") if s.period == "day" else start.strftime("%Y-%m")
        share = f"{s.spent_usd / s.budget_usd * 100:.0f}%" if s.budget_usd > 0 else "all"
        text = (
            f"llmgw budget alert: {who} has spent {usd(s.spent_usd)}, {share} of its budget of "
            f"{usd(s.budget_usd)} per {s.period} ({period} UTC), past the {self.threshold}% threshold."
        )
        return {
            "text": text,
            "event": "budget_threshold",
            "scope": s.scope,
            "user": s.owner,
            "key": s.subject if s.scope == "key" else None,
            "period": s.period,
            "period_start": _iso(s.period_start),
            "budget_usd": s.budget_usd,
            "spent_usd": round(s.spent_usd, 9),
            "threshold": self.threshold,
            "time": _iso(self.at),
        }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def receiver_host(url: str) -> str:
    """What a log line may say of the webhook: its host (and port), never its path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


class BudgetAlerts:
    """Finds thresholds crossed and delivers them; `run` is the background task (`server/loops.py`)."""

    def __init__(
        self,
        limits: Limiter,
        store: Store,
        url: str,
        thresholds: Sequence[int],
        *,
        clock: Callable[[], float] = time.time,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        check_interval: float = CHECK_INTERVAL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.limits = limits
        self.store = store
        self.url = url
        self.thresholds = tuple(sorted(thresholds))
        self.clock = clock
        self.retry_delays = tuple(retry_delays)
        self.check_interval = check_interval
        self._transport = transport
        self._known: set[AlertKey] = set()  # delivered, queued, being retried, or given up
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(QUEUE_SIZE)
        self.delivered = 0  # alerts the receiver took (tests and the log)

    async def run(self) -> None:
        """Read what was delivered this month, then look every `check_interval` and send what is new."""
        day, month = self.limits.period_starts()
        for sent in await asyncio.to_thread(self.store.sent_budget_alerts, min(day, month)):
            self._known.add((sent.scope, sent.subject_id, sent.period, sent.period_start, sent.threshold))
        async with httpx.AsyncClient(transport=self._transport, timeout=SEND_TIMEOUT) as client:
            sender = asyncio.create_task(self._send_queued(client))
            try:
                while True:
                    try:
                        self.check()
                    except Exception:  # a bug of ours must not end the alerts for good
                        log.exception("budget alerts: a look at the budgets failed")
                    await asyncio.sleep(self.check_interval)
            finally:
                sender.cancel()

    def check(self) -> list[Alert]:
        """Queue every threshold crossed and not yet known; the alerts queued."""
        now = self.clock()
        found: list[Alert] = []
        for state in self.limits.budgets():
            if state.spent_usd <= 0:  # a budget of 0 is not "reached" before anything is spent
                continue
            for threshold in self.thresholds:
                if state.spent_usd < state.budget_usd * threshold / 100:
                    break
                alert = Alert(state, threshold, now)
                if alert.key in self._known:
                    continue
                try:
                    self._queue.put_nowait(alert)
                except asyncio.QueueFull:  # a receiver down for long: found again on a later look
                    return found
                self._known.add(alert.key)
                found.append(alert)
        return found

    async def _send_queued(self, client: httpx.AsyncClient) -> None:
        while True:
            alert = await self._queue.get()
            try:
                await self.deliver(client, alert)
            except Exception:  # a bug of ours must not end the sender
                log.exception("budget alert could not be handled")

    async def deliver(self, client: httpx.AsyncClient, alert: Alert) -> bool:
        """POST one alert, retried after each of `retry_delays`; recorded once the receiver took it."""
        host = receiver_host(self.url)
        body = alert.payload()
        for attempt, delay in enumerate((*self.retry_delays, None), start=1):
            try:
                response = await client.post(self.url, json=body)
                failure = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                failure = type(exc).__name__  # never str(exc): it may carry the URL
            if failure is None:
                self.delivered += 1
                log.info("budget alert sent to %s: %s", host, body["text"])
                try:
                    await asyncio.to_thread(self.store.record_budget_alert, alert.sent, self.clock())
                except Exception as exc:  # sent, not recorded: a restart may send it once more
                    log.warning("budget alert sent but not recorded (%s)", type(exc).__name__)
                return True
            if delay is None:
                log.error(
                    "budget alert to %s failed %d times (%s); given up until the next start: %s",
                    host, attempt, failure, body["text"],
                )  # fmt: skip
                return False
            log.warning("budget alert to %s failed (%s); retrying in %g s", host, failure, delay)
            await asyncio.sleep(delay)
        return False
