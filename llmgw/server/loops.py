"""The gateway's background loops: started with the app, stopped at its shutdown.

- key refresh: every `key_refresh_interval` seconds each provider's keys are re-read (`KeySource.reread`,
  a worker thread); a provider whose store cannot be read keeps its pool.
- key-index watch (`users` and `both` modes): every 0.25 s one PRAGMA in a worker thread, a reload of
  the personal keys, and of the limits with them, only on a change; keys' last use flushed every 10 s.
  On PostgreSQL another instance's change is announced (`Store.watch_changes`: LISTEN/NOTIFY) and wakes
  the watch at once; the poll stays as the fallback, every second, and a reload is forced each time the
  listener (re)connects, since what was announced while it was away is lost.
- key-state publishing: the upstream keys' states written for the front ends every 2 s when they
  changed (`relay/key_states.py`), and a heartbeat.
- retention: a purge at start, then every 10 minutes, of the ledger's rows (500-row transactions) and
  of stored responses (50 a transaction), in a worker thread with a pause between transactions.
- shared state (PostgreSQL): the instance's heartbeat every 2 s and the upstream keys' waits exchanged
  every 0.5 s (`relay/shared.py`).
- budget alerts (with `budget_alert_webhook`): the limiter's spend looked at every 2 s, a JSON POST per
  threshold crossed, sent and retried by a task of its own (`server/budget_alerts.py`).

The relay's `Gateway` holds what a request needs; these tasks run over it. At shutdown they are cancelled
first, and their last writes (keys' last use, keys' states) come after the ledger's (`last_writes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from llmgw.relay.key_states import KeyStatePublisher
from llmgw.relay.runtime import Gateway
from llmgw.server.budget_alerts import BudgetAlerts, receiver_host
from llmgw.services import retention
from llmgw.services.key_index import KeyIndex

log = logging.getLogger("llmgw")

# How often the personal-key index asks SQLite whether another process committed (one PRAGMA read,
# off the event loop): a revoked key is refused within about this long.
KEY_INDEX_POLL_INTERVAL = 0.25
# The same poll while the database announces changes itself (PostgreSQL's LISTEN): only a fallback.
KEY_INDEX_FALLBACK_INTERVAL = 1.0
# How often keys' last use goes to the database (one batched UPDATE), besides at shutdown.
LAST_USED_FLUSH_INTERVAL = 10.0
# How often the upstream keys' states are built and, when changed, written.
KEY_STATE_PUBLISH_INTERVAL = 2.0
# Retention's purge: rows per transaction, and the pause between two that lets the ledger writer in.
PURGE_BATCH = retention.PURGE_BATCH
PURGE_PAUSE = 0.05


class Loops:
    """The background tasks over one running `Gateway`, and their last writes at shutdown."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.key_states = KeyStatePublisher({name: up.keys for name, up in gw.upstreams.items()}, gw.store)
        self.purge_interval = retention.PURGE_INTERVAL
        self._refresher: asyncio.Task[None] | None = None
        self._index_watch: asyncio.Task[None] | None = None
        self._purger: asyncio.Task[None] | None = None
        self._key_state_task: asyncio.Task[None] | None = None
        self._alert_task: asyncio.Task[None] | None = None
        self._shared_tasks: list[asyncio.Task[None]] = []
        self.alerts: BudgetAlerts | None = None
        self._reread_failing = False
        self._index_failing = False
        self._publish_failing = False

    def start(self) -> None:
        """Start every loop the configuration asks for (on the running event loop)."""
        server = self.gw.config.server
        if server.key_refresh_interval > 0 and self.gw.upstreams:
            self._refresher = _task(self._refresh_keys_periodically(server.key_refresh_interval))
        if self.gw.key_index is not None:
            self._index_watch = _task(self._watch_key_index())
        days = (server.usage_retention_days, server.rollup_retention_days, server.response_retention_days)
        if any(d > 0 for d in days):  # all 0: keep forever
            self._purger = _task(self._purge_periodically())
        self._key_state_task = _task(self._publish_key_states())
        if self.gw.shared is not None:  # PostgreSQL: heartbeat, and upstream keys' waits shared
            self._shared_tasks = [
                _task(self.gw.shared.run_heartbeat()),
                _task(self.gw.shared.run_key_events()),
            ]
        if server.budget_alert_webhook and server.budget_alert_thresholds:
            self.alerts = BudgetAlerts(
                self.gw.limits, self.gw.store, server.budget_alert_webhook, server.budget_alert_thresholds
            )
            self._alert_task = _task(self.alerts.run())
            log.info(
                "budget alerts: to %s at %s%% of a budget",
                receiver_host(server.budget_alert_webhook),
                ", ".join(map(str, server.budget_alert_thresholds)),
            )

    def cancel(self) -> None:
        """Stop every loop: shutdown's first step, before the gateway closes its upstreams and ledger."""
        for task in (
            self._purger,
            self._refresher,
            self._index_watch,
            self._key_state_task,
            self._alert_task,
            *self._shared_tasks,
        ):
            if task is not None:
                task.cancel()

    async def last_writes(self) -> None:
        """Shutdown's step after the ledger is written and before the store closes: the keys' last use,
        then the keys' states. Each is only a hint: a failure (the database locked) is logged."""
        try:
            await self.flush_last_used()
        except Exception as exc:
            log.warning("could not record the personal API keys' last use (%s)", exc)
        if self._key_state_task:  # the last word on the keys, so a reader sees how this run left them
            try:
                await self.key_states.publish(force=True)
            except Exception as exc:
                log.warning("could not publish the upstream keys' states (%s)", exc)

    # -- key refresh -------------------------------------------------------------------------------

    async def _refresh_keys_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.refresh_keys()

    async def refresh_keys(self) -> None:
        """Re-read every provider's keys once. A provider whose keys cannot be read keeps its pool as
        it is (rejected and cooling keys included); the outage is logged once, not every round."""
        failed: list[str] = []
        reason = ""
        for name, up in self.gw.upstreams.items():
            try:
                # Keyring reads are D-Bus round trips: done in a thread, never on the request path.
                keys = await asyncio.to_thread(self.gw.key_source.reread, name)
            except Exception as exc:  # a keyring hiccup must not stop the refresher
                failed.append(name)
                reason = getattr(exc, "reason", None) or type(exc).__name__
                continue
            up.keys.refresh(keys)
        if failed and not self._reread_failing:
            log.warning(
                "could not re-read the keys of provider(s) %s (%s); keeping the current keys",
                ", ".join(failed),
                reason,
            )
        elif self._reread_failing and not failed:
            log.info("provider keys can be re-read again")
        self._reread_failing = bool(failed)

    # -- the personal-key index --------------------------------------------------------------------

    async def _watch_key_index(self) -> None:
        index = self.gw.key_index
        assert index is not None
        loop = asyncio.get_running_loop()
        flushed = loop.time()
        wake = asyncio.Event()

        def announced(reconnected: bool) -> None:  # the listener's thread
            if reconnected:
                index.invalidate()  # what changed while no one listened: reload whatever the counter says
            loop.call_soon_threadsafe(wake.set)

        watch = await asyncio.to_thread(self.gw.store.watch_changes, announced)
        interval = KEY_INDEX_POLL_INTERVAL if watch is None else KEY_INDEX_FALLBACK_INTERVAL
        try:
            while True:
                if watch is None:
                    await asyncio.sleep(interval)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), interval)
                    wake.clear()
                await self._reload_key_index(index)
                if loop.time() - flushed >= LAST_USED_FLUSH_INTERVAL:
                    flushed = loop.time()
                    await self._flush_last_used_logged()
        finally:
            if watch is not None:
                watch.stop()

    async def _reload_key_index(self, index: KeyIndex) -> None:
        """The personal keys, and the limits with them, reloaded if anyone changed them."""
        try:
            if await asyncio.to_thread(index.refresh):
                log.debug("personal API keys reloaded: %d", index.key_count)
                # The same commit may have changed limits (`llmgw limit set`): seen within a poll.
                await asyncio.to_thread(self.gw.load_limits)
        except Exception as exc:  # e.g. the database briefly locked or away: keep the index, retry
            if not self._index_failing:
                log.warning("could not re-read the personal API keys (%s); keeping the current ones", exc)
            self._index_failing = True
            index.invalidate()  # the limits may not have followed the keys: both again next time
        else:
            if self._index_failing:
                log.info("personal API keys can be re-read again")
            self._index_failing = False

    async def _flush_last_used_logged(self) -> None:
        try:
            await self.flush_last_used()
        except Exception as exc:  # a hint only: the next flush carries newer values anyway
            log.warning("could not record the personal API keys' last use (%s)", exc)

    async def flush_last_used(self) -> None:
        """Write the keys' last use gathered since the previous flush (one transaction, in a thread)."""
        index = self.gw.key_index
        if index is None:
            return
        pending = index.take_last_used()
        if pending:
            await asyncio.to_thread(index.write_last_used, pending)

    # -- the upstream keys' states -----------------------------------------------------------------

    async def _publish_key_states(self) -> None:
        while True:
            try:
                await self.key_states.publish()
            except Exception as exc:  # e.g. another process holding the database: next round
                if not self._publish_failing:
                    log.warning("could not publish the upstream keys' states (%s); retrying", exc)
                self._publish_failing = True
            else:
                if self._publish_failing:
                    log.info("upstream keys' states published again")
                self._publish_failing = False
            await asyncio.sleep(KEY_STATE_PUBLISH_INTERVAL)

    # -- usage retention ---------------------------------------------------------------------------

    async def _purge_periodically(self) -> None:
        while True:
            try:
                await self.purge_old_usage()
            except Exception as exc:  # e.g. another process holding the database: try next round
                log.warning(
                    "could not purge rows past retention (%s); retrying in %.0f s", exc, self.purge_interval
                )
            await asyncio.sleep(self.purge_interval)

    async def purge_old_usage(self) -> retention.Purged:
        """Delete ledger rows (and rollup hours), stored responses and upstream-key records past
        retention, one small transaction at a time in a worker thread, pausing between batches so the
        ledger writer's batches get the store in between: a request never waits on a purge."""
        store, server = self.gw.store, self.gw.config.server
        requests = rollups = responses = 0
        while True:
            step = await asyncio.to_thread(retention.purge_batch, store, server, time.time(), PURGE_BATCH)
            requests += step.requests
            rollups += step.rollups
            responses += step.responses
            if not step.more(PURGE_BATCH):
                break
            await asyncio.sleep(PURGE_PAUSE)
        if requests or rollups:
            log.info("usage retention: %d ledger rows and %d hourly rollups purged", requests, rollups)
        if responses:
            log.info("response retention: %d stored responses and upstream-key records purged", responses)
        return replace(step, requests=requests, rollups=rollups, responses=responses)


def _task(loop: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(loop)
