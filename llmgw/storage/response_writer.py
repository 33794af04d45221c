"""Stored responses written off the event loop: one thread, batches, and what is not written yet kept
readable.

A client continues a conversation as soon as it has the answer (`previous_response_id` in its very next
request, often within milliseconds), so a response must be found from the moment it is handed here, not
from the moment SQLite has it. `save` and `remember` are a dict insert and a queue put on the event
loop; until the thread has committed a record, `pending_response` / `pending_key` / `pending_items`
answer for it (one `llmgw serve` per database, so this process's memory and the file are all there is).
The thread batches like the ledger's writer (`storage/writer.py`): a batch is what arrived within
`max_delay` of its first record (the thread sleeps through that window rather than waking per record;
`close` or a full batch cuts it short), written in one transaction.

`delete` (from a worker thread) and the thread's write take one lock, so a response deleted while its
write is pending is never written after it was deleted. A write the database does not take within
`retry_window` (another process holding its lock) is given up, logged with the ids: conversation state
is not worth a spool (a later `previous_response_id` to it is a clear 404). At most `max_pending`
records wait; past that a record is refused and logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from llmgw.storage.database import Store
from llmgw.storage.stored_responses import StoredResponse, UpstreamResponseKey

__all__ = ["ResponseWriter"]

log = logging.getLogger("llmgw.responses")

Record = StoredResponse | UpstreamResponseKey


def _id(record: Record) -> str:
    return record.id if isinstance(record, StoredResponse) else record.response_id


class ResponseWriter:
    """Write `StoredResponse`s and `UpstreamResponseKey`s on one daemon thread, in batches."""

    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = 2000,
        max_batch: int = 100,
        max_delay: float = 0.1,
        retry_window: float = 5.0,
        backoff: float = 0.1,
    ) -> None:
        self._store = store
        self._max_pending = max_pending
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._retry_window = retry_window
        self._backoff = backoff
        self._queue: queue.SimpleQueue[Record | None] = queue.SimpleQueue()  # None: stop
        self._lock = threading.Lock()  # the pending dicts and _closed; held for dict operations only
        self._write_lock = threading.Lock()  # a batch's write against a delete
        self._responses: dict[str, StoredResponse] = {}
        self._keys: dict[str, UpstreamResponseKey] = {}
        self._closed = False
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()  # cuts the batch window short: close(), or a full batch

    def start(self) -> None:
        with self._lock:
            if self._closed or self._thread is not None:
                raise RuntimeError("ResponseWriter already started or closed")
            self._thread = threading.Thread(target=self._run, name="llmgw-responses", daemon=True)
            self._thread.start()

    def save(self, record: StoredResponse) -> bool:
        """Queue a stored response; readable through `pending_response` at once. False if refused
        (closed, or `max_pending` records waiting), which is logged."""
        with self._lock:
            refused = self._refusal()
            if refused is None:
                self._responses[record.id] = record
                self._queue.put(record)
                if self._queue.qsize() >= self._max_batch:
                    self._wake.set()
        return self._accepted(record, refused)

    def remember(self, record: UpstreamResponseKey) -> bool:
        """Queue which upstream key made a response; readable through `pending_key` at once."""
        with self._lock:
            refused = self._refusal()
            if refused is None:
                self._keys[record.response_id] = record
                self._queue.put(record)
                if self._queue.qsize() >= self._max_batch:
                    self._wake.set()
        return self._accepted(record, refused)

    def _refusal(self) -> str | None:
        """Why a record cannot be queued now, or None (the caller holds `_lock`)."""
        if self._closed:
            return "the writer is closed"
        if len(self._responses) + len(self._keys) >= self._max_pending:
            return f"{self._max_pending} records already wait for the database"
        return None

    @staticmethod
    def _accepted(record: Record, refused: str | None) -> bool:
        if refused is not None:
            log.warning("response %s not stored: %s", _id(record), refused)
        return refused is None

    def pending_response(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            return self._responses.get(response_id)

    def pending_key(self, response_id: str) -> UpstreamResponseKey | None:
        with self._lock:
            return self._keys.get(response_id)

    def pending_items(self, item_id: str) -> list[StoredResponse]:
        """The responses not written yet that hold an item of that id, oldest first."""
        with self._lock:
            waiting = list(self._responses.values())
        return [r for r in waiting if item_id in r.item_ids()]

    def pending(self) -> int:
        with self._lock:
            return len(self._responses) + len(self._keys)

    def delete(self, response_id: str) -> bool:
        """Delete a stored response and any upstream-key record of that id, written or not; whether
        there was either. Blocking: a worker thread's call."""
        with self._write_lock:
            with self._lock:
                was_pending = self._responses.pop(response_id, None) is not None
                was_pending = self._keys.pop(response_id, None) is not None or was_pending
            return self._store.delete_stored_response(response_id) or was_pending

    def close(self, timeout: float = 10.0) -> None:
        """Write what is pending and stop the thread; safe to call twice. What a stalled database
        keeps from being written within `timeout` is lost, and logged."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
            self._wake.set()
            thread = self._thread
        if thread is None:
            self._run()  # never started: write in the caller's thread
            return
        thread.join(timeout)
        if thread.is_alive():
            log.error(
                "stored responses still pending after %.1fs at shutdown: %d lost", timeout, self.pending()
            )

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            # Sleep through the batch window, then drain: not a wake-up per record, each a GIL
            # hand-off that preempts the event loop (as the ledger's writer, issue #22).
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
            self._write(batch)

    def _write(self, batch: Sequence[Record]) -> None:
        """Write the batch's records still pending (not deleted meanwhile); then they leave memory."""
        with self._write_lock:
            with self._lock:
                responses = [
                    r for r in batch if isinstance(r, StoredResponse) and self._responses.get(r.id) is r
                ]
                keys = [
                    r
                    for r in batch
                    if isinstance(r, UpstreamResponseKey) and self._keys.get(r.response_id) is r
                ]
            try:
                self._insert_with_retries(responses, keys)
            except Exception:  # the thread must survive anything
                ids = [r.id for r in responses] + [k.response_id for k in keys]
                log.exception("could not store responses %s", ", ".join(ids))
            finally:
                with self._lock:
                    for r in responses:
                        if self._responses.get(r.id) is r:
                            del self._responses[r.id]
                    for k in keys:
                        if self._keys.get(k.response_id) is k:
                            del self._keys[k.response_id]

    def _insert_with_retries(self, responses: list[StoredResponse], keys: list[UpstreamResponseKey]) -> None:
        deadline = time.monotonic() + self._retry_window
        delay = self._backoff
        while True:
            try:
                refused = self._store.insert_stored_responses(responses, keys)
                break
            except Exception as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("storing %d responses failed (%r); retrying", len(responses) + len(keys), exc)
                time.sleep(delay)
                delay *= 2
        if refused:  # their owner was deleted meanwhile: nobody could read them
            log.info("responses %s not stored: their user no longer exists", ", ".join(refused))
