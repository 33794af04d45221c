"""The gateway at run time: what a request reads (configuration, routing, upstreams, auth, limits,
prices, the ledger, metrics, the stored responses), in one object.

Built once at start-up (`Gateway.start`) and closed once at shutdown (`Gateway.drain`, then
`Gateway.close`), so the hot path only reads from it; the server package (`llmgw/server/`) runs the
background loops over it. Where upstream keys come from is given to it (a `KeySource`): the OS keyring
and the environment when serving (`llmgw.services.credentials`), a plain mapping in tests. So the hot
path never imports the keyring.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import httpx
from starlette.requests import HTTPConnection

from llmgw.providers import adapter_for
from llmgw.relay.auth import Auth, LegacyAuth, PersonalKeyAuth
from llmgw.relay.catalog import Catalog
from llmgw.relay.keypool import KeyPool
from llmgw.relay.limits import Limiter
from llmgw.relay.metrics import Metrics
from llmgw.relay.record import AuthFailures, Recorder
from llmgw.relay.upstream import Upstream
from llmgw.services.key_index import KeyIndex
from llmgw.services.pricing import PriceTable, load_prices
from llmgw.services.stored_responses import StoredResponses
from llmgw.settings import Config
from llmgw.storage import LedgerWriter, Store

if TYPE_CHECKING:
    from llmgw.relay.shared import SharedState

log = logging.getLogger("llmgw")

NO_KEYS_HINT = (
    "no personal API keys yet, so no client can authenticate with one: create a user and a key with "
    "`llmgw user add NAME --admin`, then `llmgw key create NAME`"
)
NO_KEY_LOG_INTERVAL = 60.0  # seconds between two "no key" warnings of one provider
# Exactly what to run, one command a line, so a first start can be copied from its own log.
FIRST_START_HINT = (
    "no users and no proxy key yet, so no client can authenticate. Run these two commands (the running "
    "gateway takes the new key at once, no restart):\n"
    "  llmgw user add admin --admin\n"
    "  llmgw key create admin"
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
        ("run `llmgw secret set openai` or set LLMGW_OPENAI_API_KEY"): the start-up line and the warning
        logged when a request for a provider without a key is refused say it (never the client)."""
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
        json_lines = config.server.log_format == "json"
        self.recorder = Recorder(
            ledger, lambda: self.prices, self.metrics, self.limits.settle, json_lines=json_lines
        )
        # The client's address for the JSON request log: the peer's, unless the server gives the one
        # its audit log uses (behind `trusted_proxies`, the client's; `server/app.py`).
        self.client_address: Callable[[HTTPConnection], str | None] = _peer
        self.key_source = key_source
        self._no_key_logged: dict[str, float] = {}  # provider → when its last "no key" warning was
        self.key_index = auth.index if isinstance(auth, PersonalKeyAuth) else None
        # The Responses API's conversation state; its writer thread starts with the gateway.
        self.stored_responses = StoredResponses(store, config.server)
        # PostgreSQL: the budgets, rate shares and upstream keys' waits instances agree on.
        self.shared: SharedState | None = None
        if store.postgres:
            from llmgw.relay.shared import SharedState

            self.shared = SharedState(store, self.limits, pools)  # type: ignore[arg-type]
            self.recorder.settle = self.shared.settle

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
        gw.stored_responses.start()
        if gw.key_index is not None:  # limits are per user and key: only these modes have them
            gw.load_limits()
            day, month = gw.limits.period_starts()
            gw.limits.load_spend(store.spend_since(day), store.spend_since(month))
        if gw.shared is not None:
            gw.shared.start()
        return gw

    def load_limits(self) -> None:
        """Read the users' and keys' limits into the limiter (blocking: a worker thread when serving)."""
        self.limits.load(self.store.limit_rows())

    def no_key_hint(self, provider: str) -> str:
        """What a client whose request needed `provider`, which has no key at all, is told: never where
        keys come from (secret names, environment variables); the administrator's log says that
        (`log_no_key`)."""
        return f"The provider `{provider}` is not configured on this gateway: ask its administrator."

    def log_no_key(self, provider: str, now: float | None = None) -> None:
        """The administrator's side of `no_key_hint`: a warning saying what to run, at most once a
        minute per provider (a client retrying in a loop must not flood the log)."""
        now = time.monotonic() if now is None else now
        last = self._no_key_logged.get(provider)
        if last is not None and now - last < NO_KEY_LOG_INTERVAL:
            return
        self._no_key_logged[provider] = now
        log.warning(
            "a request for provider %s was refused: it has no API key; %s",
            provider,
            self.key_source.how_to_add(provider),
        )

    async def drain(self) -> None:
        """Shutdown, once the server's loops are cancelled: the upstream clients closed, the refused
        authentications reported, the ledger writer stopped with its rows written (or spooled), the
        stored responses written. The store stays open for the server's last writes; `close` closes
        it."""
        for up in self.upstreams.values():
            await up.aclose()
        self.auth_failures.report()
        # In a worker thread: it may wait out another process's lock, and the event loop must not.
        busy = self.config.server.database_busy_timeout
        await asyncio.to_thread(self.ledger.close, 2 * busy + 5.0)
        await asyncio.to_thread(self.stored_responses.close, 2 * busy + 5.0)
        if self.shared is not None:  # its holds are released by the rows just written, or go now
            try:
                await self.shared.leave()
            except Exception as exc:
                log.warning("could not leave the instances' table (%s); its heartbeat will go stale", exc)

    async def close(self) -> None:
        """Shutdown's last step: the store closed, only once the writer has stopped (`drain`)."""
        await asyncio.to_thread(self.store.close)


def _peer(conn: HTTPConnection) -> str | None:
    return conn.client.host if conn.client else None


def start_auth(config: Config, proxy_key: str | None, store: Store) -> Auth:
    """The client authentication of `config.server.auth_mode`; in `users` and `both` the key index,
    loaded now. `users` ignores any proxy key; `both` takes one when given. With no way in for any
    client yet, the log says what to run."""
    mode = config.server.auth_mode
    if mode == "legacy":
        return LegacyAuth(proxy_key)
    if mode == "users":
        proxy_key = None
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
    elif proxy_key is not None:
        log.info("auth_mode %s: the proxy key, no personal API keys yet (`llmgw key create NAME`)", mode)
    elif not _has_users(store):
        log.warning("auth_mode %s: %s", mode, FIRST_START_HINT)
    else:
        log.warning("auth_mode %s: %s", mode, NO_KEYS_HINT)
    return PersonalKeyAuth(index, proxy_key)


def _has_users(store: Store) -> bool:
    with store.accounts(write=False) as accounts:
        return bool(accounts.users())
