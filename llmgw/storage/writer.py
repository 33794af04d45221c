"""The usage ledger's writer: a single thread that batches usage rows into the store, off the event loop."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from llmgw.storage.database import Store
from llmgw.storage.requests import UsageRow

__all__ = ["LedgerWriter"]

logger = logging.getLogger("llmgw.ledger")


def _ids(rows: Sequence[UsageRow], limit: int = 5) -> str:
    """Name a batch in logs by request ids only, never row contents."""
    shown = ", ".join(r.request_id for r in rows[:limit])
    return shown + (f", ... (+{len(rows) - limit})" if len(rows) > limit else "")


class LedgerWriter:
    """Batch `UsageRow`s from any thread into `store.insert_requests()` on one daemon thread.

    `record()` is a queue put, cheap enough for the event loop. The thread writes a batch when it
    holds `max_batch` rows or `max_delay` seconds after the batch's first row arrived. A failed
    write is retried `retries` times with doubling backoff from `backoff` seconds; a batch that still
    fails is retried row by row so one bad row cannot sink the rest, and what is left is logged at
    ERROR as dropped. `close()` flushes every row recorded before it.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 500,
        max_delay: float = 0.2,
        retries: int = 5,
        backoff: float = 0.1,
    ) -> None:
        """Configure the writer; nothing runs until `start()`."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._store = store
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._retries = retries
        self._backoff = backoff
        # None is the stop sentinel: every row queued before it is written, none is queued after it.
        self._queue: queue.SimpleQueue[UsageRow | None] = queue.SimpleQueue()
        # Guards _closed and _pending; taking it in record() makes "closed" and "queued before
        # the stop sentinel" one atomic decision, so no row can slip in behind the sentinel.
        self._lock = threading.Lock()
        self._closed = False
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def start(self) -> None:
        """Start the writer thread; rows recorded before this are written once it runs."""
        with self._lock:
            if self._closed:
                raise RuntimeError("LedgerWriter is closed")
            if self._thread is not None:
                raise RuntimeError("LedgerWriter already started")
            self._thread = threading.Thread(target=self._run, name="llmgw-ledger", daemon=True)
            self._thread.start()

    def record(self, row: UsageRow) -> None:
        """Queue `row` for writing; never blocks on the database while the writer is open.

        After `close()` the row is written synchronously in the caller's thread (a request that
        finishes during shutdown still lands); if that write fails it is logged, not raised.
        """
        with self._lock:
            self._pending += 1
            if not self._closed:
                self._queue.put(row)
                if self._queue.qsize() >= self._max_batch:  # a full batch: write it now
                    self._wake.set()
                return
        self._write([row], retries=0)

    def pending(self) -> int:
        """Return how many recorded rows are not yet written (or dropped)."""
        with self._lock:
            return self._pending

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting rows, write every pending row and join the thread; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
            self._wake.set()
            thread = self._thread
        if thread is None:
            self._run()  # never started: flush in the caller's thread
            return
        thread.join(timeout)
        if thread.is_alive():
            logger.error(
                "ledger writer did not finish within %.1fs; %d rows pending", timeout, self.pending()
            )

    def _run(self) -> None:
        """Drain the queue into batches until the stop sentinel."""
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            # Sleep through the batching window instead of waking for every row (each wake is a
            # futex round trip and a GIL hand-off with the event loop's thread); close() or a full
            # batch cuts the sleep short.
            self._wake.wait(self._max_delay)
            if not self._closed:
                self._wake.clear()
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch, retries=self._retries)

    def _write(self, batch: list[UsageRow], *, retries: int) -> None:
        """Write `batch`, retrying with backoff; never raises."""
        try:
            for attempt in range(retries + 1):
                try:
                    self._store.insert_requests(batch)
                    return
                except Exception as exc:  # the writer thread must survive any store error
                    logger.warning(
                        "ledger write of %d rows failed (attempt %d/%d): %r; request ids: %s",
                        len(batch),
                        attempt + 1,
                        retries + 1,
                        exc,
                        _ids(batch),
                    )
                    if attempt < retries:
                        time.sleep(self._backoff * 2**attempt)
            dropped = self._write_one_by_one(batch) if len(batch) > 1 else batch
            if dropped:
                logger.error("ledger dropped %d usage rows; request ids: %s", len(dropped), _ids(dropped))
        finally:
            with self._lock:
                self._pending -= len(batch)

    def _write_one_by_one(self, batch: list[UsageRow]) -> list[UsageRow]:
        """Salvage what can be written of a failing batch; return the rows that still fail."""
        dropped = []
        for row in batch:
            try:
                self._store.insert_requests([row])
            except Exception:
                dropped.append(row)
        return dropped
