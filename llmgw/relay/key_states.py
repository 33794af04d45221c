"""Publishing the upstream keys' states to the database, for the front ends (`llmgw tui`'s Providers).

The key pools keep their state in memory (`relay/keypool.py`). Every 2 s the server's loop
(`server/loops.py`) has `KeyStatePublisher` build one row per (provider, key slot) from them, on the
event loop (a few keys: microseconds), and write them, in a worker thread and one transaction, only
when they differ from the last write or the last write is `HEARTBEAT` old: readers take a fresh
`updated_at` as "the server is running". So the hot path does nothing for it but count a key's uses. A
key refresh changes the slots: the next rows are built from the pools as they are then, and the write
replaces the whole table. A last write at shutdown.

A row names its key by slot and display mask (`services/masking.py`), never by value or hash; times
are converted from the pools' monotonic clock to unix seconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace

from llmgw.relay.keypool import Key, KeyPool
from llmgw.services.masking import mask_secret
from llmgw.storage import KeyState, KeyStateRow, Store

HEARTBEAT = 5.0  # readers call a state older than 10 s stale: the server stopped


def key_row(provider: str, key: Key, now: float, offset: float, run: str) -> KeyStateRow:
    """One key's published row; `now` is monotonic (the pool's clock), `offset` what turns it into unix
    seconds."""

    def unix(t: float | None) -> float | None:
        return None if t is None else round(t + offset, 3)

    running = {scope: c.until for scope, c in key.cooling.items() if c.until > now}
    state: KeyState = "rejected" if key.rejected else "cooling" if running else "ok"
    cooling = state == "cooling"
    return KeyStateRow(
        provider=provider,
        slot=key.number,
        mask=mask_secret(key.secret),
        state=state,
        cooling_until=unix(max(running.values())) if cooling else None,
        cooling_models=tuple(sorted(m for m in running if m is not None)) if cooling else (),
        key_wide=cooling and None in running,
        reason=key.reason,
        last_used_at=unix(key.last_used),
        last_error_at=unix(key.last_error),
        requests=key.uses,
        failures=key.failures,
        run=run,
        updated_at=0.0,  # stamped when written
    )


class KeyStatePublisher:
    """The gateway's key states to `store`: called periodically and once more, forced, at shutdown."""

    def __init__(self, pools: Mapping[str, KeyPool], store: Store) -> None:
        self.pools = pools
        self.store = store
        self.run_id = uuid.uuid4().hex[:12]
        self._last: list[KeyStateRow] | None = None
        self._written_at = -float("inf")  # monotonic
        # Fixed for the run, so unchanged monotonic times give equal rows (nothing to write).
        self._offset = time.time() - time.monotonic()

    def rows(self) -> list[KeyStateRow]:
        now = time.monotonic()
        return [
            key_row(name, key, now, self._offset, self.run_id)
            for name, pool in self.pools.items()
            for key in pool.current()
        ]

    async def publish(self, *, force: bool = False) -> bool:
        """Write the states if they changed, the heartbeat is due or `force`; whether it wrote."""
        rows = self.rows()
        now = time.monotonic()
        if not force and rows == self._last and now - self._written_at < HEARTBEAT:
            return False
        stamp = time.time()
        await asyncio.to_thread(self.store.publish_key_states, [replace(r, updated_at=stamp) for r in rows])
        self._last, self._written_at = rows, now
        return True
