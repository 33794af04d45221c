"""The orchestrators' probes, unauthenticated and outside the API (no auth, CORS, limits or ledger row):
`GET /healthz`, liveness (the process answers: nothing read, nothing locked), and `GET /readyz`,
readiness (this gateway can serve and record a request now). Both answer HEAD too.

`/readyz` checks three things, each "ok" or "fail" in a tiny JSON body (what failed and why is the
log's and `/metrics`' business, never an unauthenticated caller's):

- `database`: the file takes a write now (`Store.writable`: SQLite's write lock taken and given back on a
  connection of its own, within `PROBE_TIMEOUT`, in a worker thread). A file locked by another process
  past that, read-only or gone fails.
- `keys`: the start-up key load has happened and at least one provider has a key. A provider without
  a key is not a reason on its own: the gateway starts with a warning and serves the other providers,
  so one keyless provider must not take every replica out of rotation; with no key at all every model
  call fails, which an orchestrator should hear (a secret that did not mount). Keys added later (the
  key refresh) make it ready without a restart.
- `ledger`: its queue is not backed up: fewer than half of `ledger_queue_rows` wait in memory, and the
  writer thread has not been stuck on a batch for longer than a write can take (twice the busy timeout,
  plus 5 s). Rows waiting in the spool do not fail it: they are written after the next write that
  succeeds, and a database refusing writes fails `database` itself; failing on them would keep an idle
  replica out of rotation with nothing to make it write again.

A result is kept for `CACHE_SECONDS` and concurrent probes share one database probe, so a flood of
`/readyz` costs one probe a second and at most one worker thread, even on a hung disk.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.requests import Request
from starlette.responses import Response

from llmgw.relay.runtime import Gateway

__all__ = ["CACHE_SECONDS", "PROBE_TIMEOUT", "Readiness", "healthz", "readyz"]

JSON = "application/json"
CACHE_SECONDS = 1.0
PROBE_TIMEOUT = 1.0  # seconds the database probe waits for SQLite's write lock
_NO_STORE = {"cache-control": "no-store"}
_LIVE = b'{"status":"ok"}'

log = logging.getLogger("llmgw")


async def healthz(request: Request) -> Response:
    """Liveness: the event loop answers. Reads nothing, so a database problem never restarts the process."""
    return Response(_LIVE, media_type=JSON, headers=_NO_STORE)


class Readiness:
    """`/readyz`'s checks over a running gateway, cached for `ttl` seconds."""

    def __init__(
        self, gw: Gateway, *, ttl: float = CACHE_SECONDS, probe_timeout: float = PROBE_TIMEOUT
    ) -> None:
        self.gw = gw
        self.ttl = ttl
        self.probe_timeout = probe_timeout
        self.stall_limit = 2 * gw.config.server.database_busy_timeout + 5.0
        self._probe: asyncio.Future[bool] | None = None  # the database probe's thread, one at a time
        self._result: dict[str, bool] | None = None
        self._at = -float("inf")

    async def checks(self) -> dict[str, bool]:
        """Each check's verdict, at most `ttl` seconds old."""
        now = time.monotonic()
        if self._result is None or now - self._at >= self.ttl:
            database = await self._database()
            result = {"database": database, "keys": self.keys(), "ledger": self.ledger()}
            _log_change(self._result, result)
            self._result, self._at = result, time.monotonic()
        return self._result

    async def _database(self) -> bool:
        # A probe still running (a slow or hung disk) is awaited again, never doubled: one thread at most.
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(asyncio.to_thread(self.gw.store.writable, self.probe_timeout))
        try:
            return await asyncio.wait_for(asyncio.shield(self._probe), self.probe_timeout + 1.0)
        except TimeoutError:
            return False

    def keys(self) -> bool:
        """At least one provider has a key (the gateway exists: the start-up load has happened)."""
        return any(len(up.keys) for up in self.gw.upstreams.values())

    def ledger(self) -> bool:
        """The ledger's queue is not backed up, and its writer is not stuck."""
        ledger = self.gw.ledger
        return ledger.pending() < max(1, ledger.max_queue // 2) and ledger.stalled() < self.stall_limit


def _log_change(before: dict[str, bool] | None, now: dict[str, bool]) -> None:
    """One line when the verdict changes (the body says only ok or fail; the log says which checks)."""
    failed = [name for name, ok in now.items() if not ok]
    if (before is None and not failed) or before == now:
        return
    if failed:
        log.warning("/readyz: not ready: %s failed", ", ".join(failed))
    else:
        log.info("/readyz: ready again")


def render(checks: dict[str, bool] | None) -> Response:
    """200 when every check passed, else 503; None: the gateway is not started (or is stopping)."""
    ready = checks is not None and all(checks.values())
    shown = ",".join(f'"{name}":"{"ok" if ok else "fail"}"' for name, ok in (checks or {}).items())
    body = f'{{"status":"{"ready" if ready else "not ready"}","checks":{{{shown}}}}}'
    return Response(body.encode(), status_code=200 if ready else 503, media_type=JSON, headers=_NO_STORE)


async def readyz(request: Request) -> Response:
    """Readiness: 200 when the gateway can serve and record a request now, else 503."""
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    return render(None if readiness is None else await readiness.checks())
