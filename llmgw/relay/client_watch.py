"""Watching for a client that goes away while the gateway waits for its answer."""

from __future__ import annotations

import asyncio

from starlette.types import Receive

WATCH_AFTER = 0.05  # seconds an answer may take before the client is watched for leaving


class ClientWatch:
    """Cancels the current task if the client goes away: for the wait for an answer (the upstream
    call, a stream's first event), which reads nothing from the client itself. Usage:

        watch = ClientWatch(receive)
        try:
            ... await the answer ...
        except asyncio.CancelledError:
            if not watch.client_left():
                raise
            ... the client left: record it ...
        finally:
            watch.stop()

    The watching task starts only once the wait has taken `WATCH_AFTER` seconds: a task per request
    was the largest cost the hot path had (measured under load), and a client that leaves sooner is
    still seen then, its disconnect waiting in `receive`. No coroutine wraps the awaited answer, so
    its every suspension costs nothing extra."""

    __slots__ = ("_current", "_gone", "_receive", "_timer", "_watcher")

    def __init__(self, receive: Receive) -> None:
        current = asyncio.current_task()
        assert current is not None
        self._current = current
        self._receive = receive
        self._gone = False
        self._watcher: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER, self._start)

    def _start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._gone = True
        self._current.cancel()

    def client_left(self) -> bool:
        """Whether the cancellation being handled is this watch's, for a client that left (it is then
        absorbed); False for any other cancellation (a shutdown), which must go on."""
        return self._gone and self._current.uncancel() == 0

    def stop(self) -> None:
        self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
