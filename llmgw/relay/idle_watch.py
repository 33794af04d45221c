"""A deadline on each read of a stream, kept by one timer per stream instead of one per read.

`asyncio.timeout` around every chunk read builds a context manager, arms a timer and cancels it again
per chunk: ~5% of a stream's CPU (docs/PERFORMANCE.md). The watch gives each read the same limit
(counted from when the read starts; the time the consumer spends between reads is not counted), but
per read it only notes the start. One timer handle checks lazily: when it fires early (the read it
was armed for is done), it re-arms itself for the current read's due time, or waits for the next
read to arm it. So a stream whose chunks keep coming arms about one timer per `limit` seconds.

On expiry the reading task is cancelled, and `expired` turns that cancellation into `TimeoutError`
the way `asyncio.timeout` does: only when no other cancellation was asked for meanwhile.
"""

from __future__ import annotations

import asyncio


class IdleWatch:
    """Call `begin(limit)` before a read and `end()` after it; on `CancelledError` from the read,
    `expired()` says whether the watch caused it (then raise `TimeoutError`)."""

    __slots__ = ("_cancelling", "_due", "_fired", "_handle", "_loop", "_reading", "_task")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._due = 0.0
        self._reading = False
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    def begin(self, limit: float) -> None:
        """A read starts in the current task; it must end within `limit` seconds."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("IdleWatch.begin outside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._due = self._loop.time() + limit
        self._reading = True
        if self._handle is None:
            self._handle = self._loop.call_at(self._due, self._check)
        elif self._handle.when() > self._due:  # a shorter limit than the one armed for
            self._handle.cancel()
            self._handle = self._loop.call_at(self._due, self._check)

    def end(self) -> None:
        """The read is over. If it ended otherwise than by the watch's cancellation although the watch
        fired (the result was already there), that cancellation is withdrawn, as `asyncio.timeout` does."""
        self._reading = False
        if self._fired and self._task is not None:
            self._fired = False
            self._task.uncancel()

    def expired(self) -> bool:
        """After a read raised `CancelledError`: whether this watch cancelled it and no one else did
        (consumes the watch's cancellation, as `asyncio.timeout` does)."""
        if not self._fired or self._task is None:
            return False
        self._fired = False
        return self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        """The stream is over: drop the timer."""
        self._reading = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        if not self._reading or self._task is None:
            return  # between reads: the next `begin` arms the timer again
        if self._loop.time() < self._due:
            self._handle = self._loop.call_at(self._due, self._check)
            return
        self._reading = False
        self._fired = True
        self._task.cancel()
