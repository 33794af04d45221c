"""The gateway at run time: configuration, routing, upstreams, auth and the ledger, in one object.

Built once at start-up (`Gateway.start`) and closed once at shutdown (`Gateway.close`), so the hot path
only reads from it. Where upstream keys come from is given to it (a `KeySource`): the OS keyring and
the environment when serving (`llmgw.services.credentials`), a plain mapping in tests. So the hot path
never imports the keyring.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

import httpx

from llmgw.providers import adapter_for
from llmgw.relay.auth import Auth, LegacyAuth, PersonalKeyAuth
from llmgw.relay.catalog import Catalog
from llmgw.relay.key_states import KeyStatePublisher
from llmgw.relay.keypool import KeyPool
from llmgw.relay.limits import Limiter
from llmgw.relay.metrics import Metrics
from llmgw.relay.record import AuthFailures, Recorder
from llmgw.relay.upstream import Upstream
from llmgw.services import retention
from llmgw.services.key_index import KeyIndex
from llmgw.services.pricing import PriceTable, load_prices
from llmgw.settings import Config
from llmgw.storage import LedgerWriter, Store

log = logging.getLogger("llmgw")

# How often the personal-key index asks SQLite whether another process committed (one PRAGMA read,
# off the event loop): a revoked key is refused within about this long.
KEY_INDEX_POLL_INTERVAL = 0.25
# How often keys' last use goes to the database (one batched UPDATE), besides at shutdown.
LAST_USED_FLUSH_INTERVAL = 10.0
# Retention's purge: rows per transaction, and the pause between two that lets the ledger writer in.
PURGE_BATCH = retention.PURGE_BATCH
PURGE_PAUSE = 0.05
NO_KEYS_HINT = (
    "no personal API keys yet, so no client can authenticate with one: create a user and a key with "
    "`llmgw user add NAME --admin`, then `llmgw key create NAME`"
)


class KeySource(Protocol):
    """Upstream API keys by provider name. Both reads may block (a keyring read): they are called at
    start-up and from a worker thread, never on the request path."""

    def keys(self, provider: str) -> list[str]:
        """The keys at start-up: whatever can be found (a fallback stands in for an unreadable store)."""
        ...

    def reread(self, provider: str) -> list[str]:
        """The keys now, for the periodic refresh; raises if the store cannot be read, and the gateway
        then keeps the keys it has."""
        ...

    def origin(self, provider: str) -> str:
        """Where the keys the last read for `provider` returned came from (the start-up line): "the OS
        keyring", "LLMGW_OPENAI_API_KEY, LLMGW_OPENAI_API_KEY_2" …"""
        ...

    def how_to_add(self, provider: str) -> str:
        """What an administrator runs or sets to give `provider` a key, as an imperative clause
        ("run `llmgw secret set openai` or set LLMGW_OPENAI_API_KEY"): the start-up line and the error of
        a request for a provider without a key say it."""
        ...


def log_keys(up: Upstream, key_source: KeySource) -> None:
    """One line per provider at start-up: its key count and where the keys came from, or what to do.
    A configured provider without a key is a warning; a well-known one served by name only is not
    (most installations use some of them only)."""
    n = len(up.keys)
    what = f"provider {up.name} ({up.config.type})"
    if n:
        log.info("%s: %d key%s from %s", what, n, "" if n == 1 else "s", key_source.origin(up.name))
    else:
        level = logging.INFO if up.config.is_implicit else logging.WARNING
        log.log(level, "%s: no key: %s", what, key_source.how_to_add(up.name))


class Gateway:
    def __init__(
        self,
        config: Config,
        auth: Auth,
        store: Store,
        ledger: LedgerWriter,
        upstreams: dict[str, Upstream],
        key_source: KeySource,
        prices: PriceTable | None = None,
    ):
        self.config = config
        # What each row costs, and what budgets reserve and settle with; tests may give their own.
        self.prices = prices if prices is not None else load_prices(config)
        self.store = store
        self.catalog = Catalog(config)
        self.auth = auth
        self.ledger = ledger
        self.limits = Limiter()
        self.auth_failures = AuthFailures(ledger)
        self.upstreams = upstreams
        pools = {name: up.keys for name, up in upstreams.items()}
        self.metrics = Metrics(self.catalog, pools, ledger, lambda: self.auth_failures.total)
        self.recorder = Recorder(ledger, lambda: self.prices, self.metrics, self.limits.settle)
        self.key_source = key_source
        self._refresher: asyncio.Task[None] | None = None
        self._reread_failing = False
        self.key_index = auth.index if isinstance(auth, PersonalKeyAuth) else None
        self._index_watch: asyncio.Task[None] | None = None
        self._index_failing = False
        self._purger: asyncio.Task[None] | None = None
        self.purge_interval = retention.PURGE_INTERVAL
        self.key_states = KeyStatePublisher(pools, store)
        self._key_state_task: asyncio.Task[None] | None = None

    @classmethod
    def start(
        cls,
        config: Config,
        proxy_key: str | None,
        key_source: KeySource,
        transport: httpx.AsyncBaseTransport | None = None,
        prices: PriceTable | None = None,
    ) -> Gateway:
        """Open the ledger and build every provider's client with its keys from `key_source`.

        `transport`, when given, carries every provider's requests (tests answer them in process);
        else each provider has its own connection pool."""
        store = Store.open(config.server.database, busy_timeout=config.server.database_busy_timeout)
        for loose in store.file_mode_warnings():
            log.warning("%s", loose)
        ledger = LedgerWriter(store, max_queue=config.server.ledger_queue_rows)
        ledger.replay_spool()  # rows an earlier run could not write, before serving
        ledger.start()
        upstreams = {
            name: Upstream(name, p, adapter_for(name, p), KeyPool(name, key_source.keys(name)), transport)
            for name, p in config.providers.items()
        }
        for up in upstreams.values():
            log_keys(up, key_source)
        gw = cls(config, start_auth(config, proxy_key, store), store, ledger, upstreams, key_source, prices)
        if gw.key_index is not None:  # limits are per user and key: only these modes have them
            gw.load_limits()
            day, month = gw.limits.period_starts()
            gw.limits.load_spend(store.spend_since(day), store.spend_since(month))
        return gw

    def load_limits(self) -> None:
        """Read the users' and keys' limits into the limiter (blocking: a worker thread when serving)."""
        self.limits.load(self.store.limit_rows())

    def no_key_hint(self, provider: str) -> str:
        """What a request for `provider`, which has no key at all, is told."""
        return f"No API key for provider '{provider}': {self.key_source.how_to_add(provider)}."

    def start_key_refresh(self) -> None:
        interval = self.config.server.key_refresh_interval
        if interval > 0 and self.upstreams:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_keys(interval))

    async def _refresh_keys(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.refresh_keys()

    async def refresh_keys(self) -> None:
        """Re-read every provider's keys once. A provider whose keys cannot be read keeps its pool as
        it is (rejected and cooling keys included); the outage is logged once, not every round."""
        failed: list[str] = []
        reason = ""
        for name, up in self.upstreams.items():
            try:
                # Keyring reads are D-Bus round trips: done in a thread, never on the request path.
                keys = await asyncio.to_thread(self.key_source.reread, name)
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

    def start_key_index_watch(self) -> None:
        """Keep the personal-key index in step with the database (`users` and `both` modes only)."""
        if self.key_index is not None:
            self._index_watch = asyncio.get_running_loop().create_task(self._watch_key_index())

    async def _watch_key_index(self) -> None:
        index = self.key_index
        assert index is not None
        loop = asyncio.get_running_loop()
        flushed = loop.time()
        while True:
            await asyncio.sleep(KEY_INDEX_POLL_INTERVAL)
            try:
                if await asyncio.to_thread(index.refresh):
                    log.debug("personal API keys reloaded: %d", index.key_count)
                    # The same commit may have changed limits (`llmgw limit set`): seen within a poll.
                    await asyncio.to_thread(self.load_limits)
                if loop.time() - flushed >= LAST_USED_FLUSH_INTERVAL:
                    flushed = loop.time()
                    await self.flush_last_used()
            except Exception as exc:  # e.g. the database briefly locked: keep the index, retry
                if not self._index_failing:
                    log.warning("could not re-read the personal API keys (%s); keeping the current ones", exc)
                self._index_failing = True
            else:
                if self._index_failing:
                    log.info("personal API keys can be re-read again")
                self._index_failing = False

    async def flush_last_used(self) -> None:
        """Write the keys' last use gathered since the previous flush (one transaction, in a thread)."""
        index = self.key_index
        if index is None:
            return
        pending = index.take_last_used()
        if pending:
            await asyncio.to_thread(index.write_last_used, pending)

    def start_key_state_publishing(self) -> None:
        """Publish the upstream keys' states to the database now and every few seconds when they
        change (`relay/key_states.py`), for the front ends."""
        self._key_state_task = asyncio.get_running_loop().create_task(self.key_states.run())

    def start_retention(self) -> None:
        """Purge usage past its retention now and every `purge_interval` seconds (no task when both
        retentions are 0: keep forever)."""
        server = self.config.server
        if server.usage_retention_days > 0 or server.rollup_retention_days > 0:
            self._purger = asyncio.get_running_loop().create_task(self._purge_periodically())

    async def _purge_periodically(self) -> None:
        while True:
            try:
                await self.purge_old_usage()
            except Exception as exc:  # e.g. another process holding the database: try next round
                log.warning(
                    "could not purge old usage rows (%s); retrying in %.0f s", exc, self.purge_interval
                )
            await asyncio.sleep(self.purge_interval)

    async def purge_old_usage(self) -> retention.Purged:
        """Delete ledger rows (and rollup hours) past retention, one small transaction at a time in a
        worker thread, pausing between batches so the ledger writer's batches get the store in between:
        a request never waits on a purge."""
        requests = rollups = 0
        while True:
            step = await asyncio.to_thread(
                retention.purge_batch, self.store, self.config.server, time.time(), PURGE_BATCH
            )
            requests += step.requests
            rollups += step.rollups
            if step.requests < PURGE_BATCH and step.rollups < PURGE_BATCH:
                break
            await asyncio.sleep(PURGE_PAUSE)
        if requests or rollups:
            log.info("usage retention: %d ledger rows and %d hourly rollups purged", requests, rollups)
        return retention.Purged(requests, rollups, step.requests_before, step.rollups_before)

    async def close(self) -> None:
        if self._purger:
            self._purger.cancel()
        if self._refresher:
            self._refresher.cancel()
        if self._index_watch:
            self._index_watch.cancel()
        if self._key_state_task:
            self._key_state_task.cancel()
        for up in self.upstreams.values():
            await up.aclose()
        self.auth_failures.report()
        # In worker threads: either may wait out another process's lock, and the event loop must not.
        # The store is closed only once the writer has stopped (or its rows are spooled).
        busy = self.config.server.database_busy_timeout
        await asyncio.to_thread(self.ledger.close, 2 * busy + 5.0)
        try:
            await self.flush_last_used()
        except Exception as exc:  # a locked database must not stop the shutdown; it is only a hint
            log.warning("could not record the personal API keys' last use (%s)", exc)
        if self._key_state_task:  # the last word on the keys, so a reader sees how this run left them
            try:
                await self.key_states.publish(force=True)
            except Exception as exc:
                log.warning("could not publish the upstream keys' states (%s)", exc)
        await asyncio.to_thread(self.store.close)


def start_auth(config: Config, proxy_key: str | None, store: Store) -> Auth:
    """The client authentication of `config.server.auth_mode`; in `users` and `both` the key index,
    loaded now. `users` ignores any proxy key; `both` needs one."""
    mode = config.server.auth_mode
    if mode == "legacy":
        return LegacyAuth(proxy_key)
    if mode == "both" and proxy_key is None:
        raise ValueError("auth_mode 'both' needs a proxy key")
    index = KeyIndex(store)
    index.load()
    if index.key_count:
        log.info(
            "auth_mode %s: %d personal API key%s of %d user%s",
            mode,
            index.key_count,
            "" if index.key_count == 1 else "s",
            index.user_count,
            "" if index.user_count == 1 else "s",
        )
    else:
        log.warning("auth_mode %s: %s", mode, NO_KEYS_HINT)
    return PersonalKeyAuth(index, proxy_key if mode == "both" else None)
