"""The usage ledger's writer: a single thread that batches usage rows into the store, off the event loop.

Other processes write the same SQLite file, so a write may find the lock taken. Nothing is dropped for
that: a batch the database does not take within a bounded time, a row that finds the queue full and
whatever is pending at shutdown go to the spool (`llmgw.storage.spool`), replayed later.

On PostgreSQL each process spools to a file of its own, held (`spool_owners.py`) while it runs; the
writer also replays, at start and then at most every `ORPHAN_CHECK` seconds while it writes, the spools
of processes on this machine that died before they could.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid

from llmgw.storage.database import Store
from llmgw.storage.requests import UsageRow
from llmgw.storage.spool import Spool, insert_salvaging, request_ids

__all__ = ["LedgerWriter"]

logger = logging.getLogger("llmgw.ledger")

_SPILL_LOG_INTERVAL = 60.0  # seconds between two "queue is full" warnings
ORPHAN_CHECK = 10.0  # seconds between two looks for a dead process's spool (a directory listing)


class _CountsDue:
    """Queue marker: failed authentications were counted; wakes the thread to write them."""


_COUNTS_DUE = _CountsDue()


class LedgerWriter:
    """Batch `UsageRow`s from any thread into `store.insert_requests()` on one daemon thread.

    `record()` is a queue put, cheap enough for the event loop; it never waits for the database. The
    thread writes a batch when it holds `max_batch` rows or `max_delay` seconds after the batch's first
    row arrived. A failed write is retried with doubling backoff from `backoff` seconds while within
    `retry_window` seconds of the first attempt (each attempt may itself wait the store's busy
    timeout); a batch still not written goes to the spool. At most `max_queue` rows wait in memory:
    past that, `record()` appends the row to the spool itself. `close()` writes or spools every row
    recorded before it. Failed authentications are counted per minute (`record_auth_failure`).
    """

    def __init__(
        self,
        store: Store,
        *,
        spool: Spool | None = None,
        max_queue: int = 10_000,
        max_batch: int = 500,
        max_delay: float = 0.2,
        retry_window: float = 2.0,
        backoff: float = 0.1,
    ) -> None:
        """Configure the writer; nothing runs until `start()`. The spool defaults to `<database>.spool`."""
        if max_batch < 1 or max_queue < 1:
            raise ValueError("max_batch and max_queue must be at least 1")
        self._store = store
        self.spool = spool or Spool(store.spool_path())
        self._owners = store.spool_owners() if spool is None else None
        if self._owners is not None:
            try:
                self._owners.hold()
            except OSError as exc:  # the spool directory: rows can still be written, say so
                logger.error("cannot lock the ledger spool %s: %s", self.spool.path, exc)
                self._owners = None
        self._orphans_seen = -ORPHAN_CHECK
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._retry_window = retry_window
        self._backoff = backoff
        # None is the stop sentinel: every row queued before it is written, none is queued after it.
        self._queue: queue.SimpleQueue[UsageRow | _CountsDue | None] = queue.SimpleQueue()
        # Guards _closed, _pending, _inflight and the auth counts; taking it in record() makes
        # "closed" and "queued before the stop sentinel" one atomic decision.
        self._lock = threading.Lock()
        self._closed = False
        self._closing = threading.Event()
        self._give_up = False  # a write failed while closing: spool the rest without waiting again
        self._abandoned = False  # close() timed out and spooled what the thread held
        self._pending = 0  # rows in memory: queued or being written
        self._waiting_since: float | None = None  # monotonic: since when rows wait with no batch done
        self._inflight: list[UsageRow] = []
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._spilled = 0
        self._spill_reported = -_SPILL_LOG_INTERVAL
        # Failed authentications of this run, by minute. Each write stores the running count, so
        # writing a minute twice (spooled and written) is harmless.
        self._run_id = uuid.uuid4().hex[:16]
        self._auth_counts: dict[int, int] = {}
        self._auth_dirty: set[int] = set()

    def replay_spool(self) -> int:
        """Write what the spool holds into the store (at start-up, before serving, and from the thread
        once the database takes writes again); returns the rows replayed."""
        try:
            replayed = self.spool.replay(self._store)
        except OSError as exc:  # the spool's directory, not the database: keep serving, say so
            logger.error("cannot replay the ledger spool %s: %s", self.spool.path, exc)
            return 0
        if replayed:
            logger.info("replayed %d usage rows from %s", replayed, self.spool.path)
        return replayed + self._replay_orphans()

    def _replay_orphans(self) -> int:
        """Replay the spools other processes left when they died (PostgreSQL); each locked meanwhile."""
        if self._owners is None:
            return 0
        self._orphans_seen = time.monotonic()
        replayed = 0
        try:
            with self._owners.orphans() as spools:
                for path in spools:
                    done = Spool(path).replay(self._store)
                    if done:
                        logger.info("replayed %d usage rows another process left in %s", done, path)
                    replayed += done
        except OSError as exc:
            logger.error("cannot replay the ledger spools in %s: %s", self._owners.directory, exc)
        return replayed

    def _orphans_due(self) -> bool:
        return self._owners is not None and time.monotonic() - self._orphans_seen >= ORPHAN_CHECK

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
        """Queue `row` for writing; never waits for the database.

        With the queue full, or after `close()`, the row is appended to the spool in the caller's
        thread (a short file append)."""
        report = 0
        with self._lock:
            closed = self._closed
            if not closed and self._pending < self._max_queue:
                if not self._pending:
                    self._waiting_since = time.monotonic()
                self._pending += 1
                self._queue.put(row)
                if self._queue.qsize() >= self._max_batch:  # a full batch: write it now
                    self._wake.set()
                return
            if not closed:  # one warning a minute, with the count, not one per row
                self._spilled += 1
                now = time.monotonic()
                if now - self._spill_reported >= _SPILL_LOG_INTERVAL:
                    report, self._spilled, self._spill_reported = self._spilled, 0, now
        self._to_spool([row], sync=closed, quiet=True)
        if report:
            logger.warning(
                "the ledger queue is full (%d rows wait for the database); %d rows went straight to %s",
                self._max_queue,
                report,
                self.spool.path,
            )

    def record_auth_failure(self, at: float | None = None) -> None:
        """Count one request refused for a missing or wrong key, at `at` (unix seconds; None = now)."""
        minute = int((time.time() if at is None else at) // 60 * 60)
        with self._lock:
            self._auth_counts[minute] = self._auth_counts.get(minute, 0) + 1
            first = not self._auth_dirty
            self._auth_dirty.add(minute)
            if not self._closed:
                if first:
                    self._queue.put(_COUNTS_DUE)
                return
        self._to_spool([], counts=self._take_counts(), sync=True, quiet=True)

    def pending(self) -> int:
        """Return how many recorded rows are in memory, not yet written or spooled."""
        with self._lock:
            return self._pending

    @property
    def max_queue(self) -> int:
        """The most rows that wait in memory; past it rows go straight to the spool."""
        return self._max_queue

    def stalled(self, now: float | None = None) -> float:
        """Seconds rows have waited in memory without the thread finishing a batch (written or
        spooled); 0 when none waits. A writer stuck in a write (a hung disk) shows here (`/readyz`)."""
        with self._lock:
            since = self._waiting_since if self._pending else None
        if since is None:
            return 0.0
        return max(0.0, (time.monotonic() if now is None else now) - since)

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting rows, write or spool every pending row and join the thread; safe to call
        twice. A thread still busy after `timeout` seconds (a stalled disk) is abandoned: what it holds
        and what is queued go to the spool. Then the spool is no longer this process's (PostgreSQL: the
        next instance to look replays what is left in it)."""
        try:
            self._close(timeout)
        finally:
            if self._owners is not None:
                self._owners.release()

    def _close(self, timeout: float) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._closing.set()
            self._queue.put(None)
            self._wake.set()
            thread = self._thread
        if thread is None:
            self._run()  # never started: flush in the caller's thread
            return
        thread.join(timeout)
        if not thread.is_alive():
            return
        # A row the thread still writes after this is in the spool too: the replay writes it once.
        with self._lock:
            self._abandoned = True
            leftovers, self._inflight = self._inflight, []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, UsageRow):
                    leftovers.append(item)
            self._queue.put(None)  # lets the thread end once its write returns
            self._pending -= len(leftovers)
        self._to_spool(leftovers, counts=self._take_counts(), sync=True, quiet=True)
        logger.error(
            "ledger writer did not finish within %.1fs; %d rows spooled to %s",
            timeout,
            len(leftovers),
            self.spool.path,
        )

    def _run(self) -> None:
        """Drain the queue into batches until the stop sentinel."""
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first] if isinstance(first, UsageRow) else []
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
                if isinstance(item, UsageRow):
                    batch.append(item)
            written = self._write(batch) if batch else True
            if self._abandoned:
                return
            written = self._write_counts() and written
            if written and not self._closing.is_set() and (self.spool.waiting() or self._orphans_due()):
                self.replay_spool()  # the database takes writes again: drain what waited
        self._write_counts()

    def _write(self, batch: list[UsageRow]) -> bool:
        """Write `batch`, or spool it; returns whether the database took it. Never raises."""
        with self._lock:
            abandoned = self._abandoned  # close() gave up on this thread: spool, do not wait again
            self._inflight = batch
        written = False
        try:
            if not (self._give_up or abandoned):
                refused = self._insert_with_retries(batch)
                if refused is not None:
                    written = True
                    if refused:
                        self.spool.reject(refused)
            if not written:
                self._to_spool(batch, sync=True)
                if self._closing.is_set():
                    self._give_up = True
        except Exception:  # the writer thread must survive anything
            logger.exception("ledger writer failed on %d rows: %s", len(batch), request_ids(batch))
        finally:
            with self._lock:
                if self._inflight is batch:  # else close() took it over
                    self._inflight = []
                    self._pending -= len(batch)
                self._waiting_since = time.monotonic() if self._pending else None
        return written

    def _insert_with_retries(self, batch: list[UsageRow]) -> list[UsageRow] | None:
        """Insert within the retry window; the rows the database refused, or None if it was unavailable."""
        deadline = time.monotonic() + self._retry_window
        delay = self._backoff
        attempt = 1
        while True:
            try:
                return insert_salvaging(self._store, batch)
            except Exception as exc:
                logger.warning(
                    "ledger write of %d rows failed (attempt %d): %r; request ids: %s",
                    len(batch),
                    attempt,
                    exc,
                    request_ids(batch),
                )
                if time.monotonic() + delay > deadline:
                    return None
                time.sleep(delay)
                delay *= 2
                attempt += 1

    def _take_counts(self) -> list[tuple[int, int]]:
        """The running counts of the minutes that changed since the last take."""
        with self._lock:
            counts = sorted((m, self._auth_counts[m]) for m in self._auth_dirty)
            self._auth_dirty.clear()
            if counts:  # earlier minutes are complete: only the latest can still grow
                latest = max(self._auth_counts)
                self._auth_counts = {latest: self._auth_counts[latest]}
        return counts

    def _write_counts(self) -> bool:
        """Write the changed auth-failure counts, or spool them; returns whether the database took them."""
        counts = self._take_counts()
        if not counts:
            return True
        if not self._give_up:
            try:
                self._store.add_auth_failures(self._run_id, counts)
                return True
            except Exception as exc:
                logger.warning("ledger write of failed-authentication counts failed: %r", exc)
        self._to_spool([], counts=counts, sync=True, quiet=True)
        return False

    def _to_spool(
        self,
        rows: list[UsageRow],
        *,
        counts: list[tuple[int, int]] | None = None,
        sync: bool,
        quiet: bool = False,
    ) -> None:
        """Append to the spool; only a failing disk loses rows now, and that is logged with their ids."""
        try:
            self.spool.append(rows, run=self._run_id, counts=counts or (), sync=sync)
        except OSError as exc:
            logger.error(
                "ledger could not spool %d usage rows to %s (%s): they are lost; request ids: %s",
                len(rows),
                self.spool.path,
                exc.strerror,
                request_ids(rows),
            )
            return
        if rows and not quiet:
            logger.warning(
                "ledger spooled %d usage rows to %s, to be written when the database takes them; "
                "request ids: %s",
                len(rows),
                self.spool.path,
                request_ids(rows),
            )
