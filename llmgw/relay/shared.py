"""What instances sharing one PostgreSQL database agree on, and what each guarantees (issue #23). A
gateway on SQLite has none of this: its one process's memory is the whole truth (relay/limits.py).

- Budgets, exact across instances. A request under a budget is checked and held in ONE round trip
  (`PostgresStore.reserve_budget`: spent this period by every instance + held by every live instance's
  requests in flight + this request's worst case must fit, for the user and the key together, under
  per-subject advisory locks); a refusal names the subject's spent and reserved amounts as a single
  instance's does. A request with no budget makes no round trip. The hold goes in the ledger's
  transaction that writes the request's row, where the rollups' triggers add its exact cost to
  `budget_spend`: held until spent, so N instances under a burst never overshoot together. Holds belong
  to an instance: one that stops cleanly drops its own; one that died (SIGKILL) stops counting once its
  heartbeat is `STALE` old, and the next heartbeat of any instance deletes them. A hold whose row never
  reached the database (spooled) is dropped by its own instance `SETTLED_GRACE` after it settled (the
  spool's replay counts the cost when it lands). While the database cannot be reached, an instance
  checks budgets on its own view (what it last read of everyone's spend, plus its own requests): then,
  and only then, instances together can overshoot, by at most what the others spend meanwhile.
- Rates (rpm, tpm): each instance enforces its share, the limit divided by the live instances
  (`max(1, limit // N)`), N from the heartbeats, in memory: no round trip. Across N live instances a
  subject is admitted at most N x max(1, ⌊limit / N⌋) requests (tokens) per rolling minute — never
  more than the limit when the limit is at least N — however the load balancer spreads the requests;
  spread unevenly, a client can be refused before it reaches the limit overall. For up to `STALE`
  seconds after an instance joins, the others still use the old N (the total can reach limit x (N+1)/N
  then); after one dies, the others keep the smaller share until its heartbeat is stale.
- Upstream keys: a wait an upstream stated (429 with Retry-After) and a rejection (a verdict about the
  key) seen by one instance are published (`upstream_key_events`, by provider, slot and mask) and
  applied by every other to its key of that slot and mask within `KEY_EVENTS_INTERVAL` plus one
  round trip (about a second). Guessed cool-downs stay local: they only order keys.

The heartbeat (`HEARTBEAT` seconds) also reads every subject's spend this day and month into the
limiter, so budget alerts and the fallback above see the other instances' spend.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from llmgw.relay.keypool import Key, KeyPool
from llmgw.relay.limits import Limiter, WorstCase
from llmgw.services.masking import mask_secret
from llmgw.storage import UsageRow
from llmgw.storage.budget_holds import BudgetAsk
from llmgw.storage.key_events import KEEP_SECONDS, KeyEvent

if TYPE_CHECKING:
    from llmgw.storage.pg_store import PostgresStore

__all__ = ["HEARTBEAT", "KEY_EVENTS_INTERVAL", "STALE", "SharedState"]

log = logging.getLogger("llmgw")

HEARTBEAT = 2.0  # seconds between two heartbeats
STALE = 15.0  # an instance not seen for this long is dead: its holds stop counting
SETTLED_GRACE = 30.0  # a settled request's hold is surely written or spooled by then
KEY_EVENTS_INTERVAL = 0.5  # seconds between two exchanges of upstream key events


class SharedState:
    """One instance's side of the shared state: its id, its budget reservations, its heartbeat and its
    upstream key events."""

    def __init__(self, store: PostgresStore, limiter: Limiter, pools: Mapping[str, KeyPool]) -> None:
        self.store = store
        self.limiter = limiter
        self.pools = pools
        self.instance = uuid.uuid4().hex[:16]
        self._held: set[str] = set()  # request ids whose worst case the store holds
        self._settled: collections.deque[tuple[float, str]] = collections.deque()
        self._outbox: list[KeyEvent] = []
        self._seq = 0
        self._applying = False
        self._store_failing = False
        self._offset = time.time() - time.monotonic()  # the pools' monotonic clock → unix seconds
        for name, pool in pools.items():
            pool.observer = self._observer(name)

    def start(self) -> None:
        """Join (blocking: at start-up, before serving): the first heartbeat, the key events' start."""
        self.limiter.instances = self.store.heartbeat(self.instance, STALE, ())
        self._seq = self.store.latest_key_event()

    # -- budgets --------------------------------------------------------------------------------------

    async def admit(
        self,
        request_id: str,
        user_id: int | None,
        key_id: int | None,
        worst_case: Callable[[], float | WorstCase],
    ) -> None:
        """`Limiter.admit`, the budget checked and held by the store: 429 as a single instance's."""
        limiter = self.limiter
        pending = limiter.begin(request_id, user_id, key_id, worst_case)
        if pending is None:
            return
        periods = limiter.periods(pending.now)
        asks = [pending.ask(scope, periods) for scope in ("user", "key")]
        user, key = (BudgetAsk(*a) if a is not None else None for a in asks)
        try:
            got = await self.store.reserve_budget(request_id, self.instance, pending.cost, STALE, user, key)
        except asyncio.CancelledError:
            limiter.cancel(pending)
            raise
        except Exception as exc:  # the database unreachable: this instance's view decides
            if not self._store_failing:
                log.warning(
                    "budgets checked on this instance's view: the database cannot be reached (%s)", exc
                )
                self._store_failing = True
            limiter.check_locally(pending)
            limiter.commit(pending)
            return
        if self._store_failing:
            log.info("budgets checked by the database again")
            self._store_failing = False
        if got.refused is not None:
            raise limiter.refused(pending, got.refused, got.spent_usd, got.reserved_usd)
        self._held.add(request_id)
        limiter.commit(pending)

    def settle(self, row: UsageRow) -> None:
        """The limiter's settle; a held request remembered, for the heartbeat to drop its hold should
        its ledger row never reach the database."""
        self.limiter.settle(row)
        if row.request_id in self._held:
            self._held.discard(row.request_id)
            self._settled.append((time.monotonic(), row.request_id))

    # -- the heartbeat -------------------------------------------------------------------------------

    async def heartbeat(self) -> int:
        """One heartbeat: this instance seen, dead ones cleared, the live count and everyone's spend
        read into the limiter. Returns the live instances."""
        cutoff = time.monotonic() - SETTLED_GRACE
        settled: list[str] = []
        while self._settled and self._settled[0][0] <= cutoff:
            settled.append(self._settled.popleft()[1])
        live = await asyncio.to_thread(self.store.heartbeat, self.instance, STALE, settled)
        self.limiter.instances = max(1, live)
        day_start, month_start = self.limiter.period_starts()
        day = await asyncio.to_thread(self.store.budget_spent, "day", day_start)
        month = await asyncio.to_thread(self.store.budget_spent, "month", month_start)
        self.limiter.load_spend(day, month)
        return live

    async def run_heartbeat(self) -> None:
        """Heartbeats until cancelled; a failure logged once per outage."""
        failing = False
        while True:
            try:
                await self.heartbeat()
            except Exception as exc:
                if not failing:
                    log.warning("instance heartbeat failed (%s); retrying", exc)
                failing = True
            else:
                if failing:
                    log.info("instance heartbeat written again")
                failing = False
            await asyncio.sleep(HEARTBEAT)

    async def leave(self) -> None:
        """At shutdown, after the ledger is written: this instance's holds and heartbeat go."""
        await asyncio.to_thread(self.store.leave, self.instance)
        await self.store.close_async()

    # -- upstream key events -------------------------------------------------------------------------

    def _observer(
        self, provider: str
    ) -> Callable[[Key, str | None, float | None, bool, int, str | None], None]:
        def seen(
            key: Key, model: str | None, until: float | None, key_wide: bool, status: int, reason: str | None
        ) -> None:
            if self._applying:
                return
            self._outbox.append(
                KeyEvent(
                    self.instance, provider, key.number, mask_secret(key.secret), None if key_wide else model,
                    key_wide, until is None, status, reason,
                    None if until is None else round(until + self._offset, 3), time.time(),
                )
            )  # fmt: skip

        return seen

    async def exchange_key_events(self) -> int:
        """Publish this instance's events, apply the others' since the last read; how many applied."""
        outbox, self._outbox = self._outbox, []
        if outbox:
            try:
                await asyncio.to_thread(self.store.append_key_events, outbox)
            except Exception:
                self._outbox[:0] = outbox  # next round
                raise
        events = await asyncio.to_thread(self.store.key_events_since, self._seq, self.instance)
        applied = 0
        for seq, event in events:
            self._seq = seq
            applied += self._apply(event)
        return applied

    def _apply(self, e: KeyEvent) -> int:
        pool = self.pools.get(e.provider)
        if pool is None:
            return 0
        key = next(
            (k for k in pool.current() if k.number == e.slot and mask_secret(k.secret) == e.mask), None
        )
        if key is None:
            return 0
        self._applying = True
        try:
            if e.rejected:
                pool.rejected(key, e.status, reason=e.reason)
            else:
                assert e.until is not None
                wait = e.until - time.time()
                if wait <= 0:
                    return 0
                pool.rate_limited(key, e.model or "", wait, key_wide=e.key_wide, reason=e.reason)
        finally:
            self._applying = False
        return 1

    async def run_key_events(self) -> None:
        """Key events exchanged until cancelled; old ones pruned now and then."""
        failing = False
        pruned = 0.0
        while True:
            try:
                await self.exchange_key_events()
                if time.monotonic() - pruned > 60:
                    pruned = time.monotonic()
                    await asyncio.to_thread(self.store.prune_key_events, time.time() - KEEP_SECONDS)
            except Exception as exc:
                if not failing:
                    log.warning("could not share upstream key cool-downs (%s); retrying", exc)
                failing = True
            else:
                failing = False
            await asyncio.sleep(KEY_EVENTS_INTERVAL)
