"""The gateway at run time: configuration, routing, upstreams, auth and the ledger, in one object.

Built once at start-up (`Gateway.start`) and closed once at shutdown (`Gateway.close`), so the hot path
only reads from it. Also writes the one access-log line per request.
"""

from __future__ import annotations

import asyncio
import logging
import time

from llmgw.providers import adapter_for
from llmgw.relay.auth import LegacyAuth
from llmgw.relay.catalog import Catalog
from llmgw.relay.keypool import KeyPool
from llmgw.relay.upstream import Upstream
from llmgw.services import credentials
from llmgw.settings import Config
from llmgw.storage.requests import Store, UsageRow
from llmgw.storage.writer import LedgerWriter

access_log = logging.getLogger("llmgw.access")
log = logging.getLogger("llmgw")


class Gateway:
    def __init__(
        self,
        config: Config,
        auth: LegacyAuth,
        store: Store,
        ledger: LedgerWriter,
        upstreams: dict[str, Upstream],
    ):
        self.config = config
        self.store = store
        self.catalog = Catalog(config)
        self.auth = auth
        self.ledger = ledger
        self.upstreams = upstreams
        self._refresher: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, config: Config, proxy_key: str | None) -> Gateway:
        """Open the ledger and build every provider's client; reads the keys from the keyring."""
        store = Store.open(config.server.database)
        ledger = LedgerWriter(store)
        ledger.start()
        upstreams = {
            name: Upstream(name, p, adapter_for(name, p), KeyPool(name, credentials.provider_keys(name)))
            for name, p in config.providers.items()
        }
        for name, up in upstreams.items():
            if not len(up.keys):
                log.warning(
                    "provider %s has no API key: set one with `llmgw secret set %s` or %s",
                    name,
                    name,
                    credentials.env_var_name(name),
                )
        return cls(config, LegacyAuth(proxy_key), store, ledger, upstreams)

    def start_key_refresh(self) -> None:
        interval = self.config.server.key_refresh_interval
        if interval > 0 and self.upstreams:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_keys(interval))

    async def _refresh_keys(self, interval: float) -> None:
        # Keyring reads are D-Bus round trips: done in a thread, never on the request path.
        while True:
            await asyncio.sleep(interval)
            for name, up in self.upstreams.items():
                try:
                    keys = await asyncio.to_thread(credentials.provider_keys, name)
                except Exception as exc:  # a keyring hiccup must not stop the refresher
                    log.warning("re-reading keys of provider %s failed: %s", name, type(exc).__name__)
                    continue
                up.keys.refresh(keys)

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

    async def close(self) -> None:
        if self._refresher:
            self._refresher.cancel()
        for up in self.upstreams.values():
            await up.aclose()
        await asyncio.to_thread(self.ledger.close)
        self.store.close()
