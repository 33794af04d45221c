"""`llmgw serve`'s process: logging set up, the serve lock held, hypercorn on uvloop serving the app
and, when `metrics_listen` is set, a second loopback listener for /metrics; a clean stop on SIGTERM or
SIGINT.

On a signal hypercorn stops accepting, gives in-flight requests `server.shutdown_grace` seconds,
cancels what is left (each such stream still writes its ledger row), then the app's lifespan
shutdown flushes every pending ledger row to SQLite before the process exits.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from wsgiref.handlers import format_date_time

from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette

from llmgw.relay.auth import auth_enabled
from llmgw.relay.runtime import KeySource
from llmgw.server.app import create_app, create_metrics_app
from llmgw.server.json_logs import JsonFormatter
from llmgw.server.os_limits import check_backlog, raise_open_files
from llmgw.server.workers import WorkerSockets
from llmgw.settings import Config, metrics_address
from llmgw.storage import Store, hold_serve_lock, is_database_url

log = logging.getLogger("llmgw")


def setup_logging(level: str, log_format: str = "text") -> None:
    """The process's log lines on stderr at `level`, as text or one JSON object each (`log_format`);
    the HTTP libraries' chatter kept out."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
        force=True,
    )
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
        logging.captureWarnings(True)  # Python's warnings too, or they would print plain text lines
    # httpx and aiohttp log request URLs and headers at DEBUG; keep them quiet whatever our level.
    for noisy in ("httpx", "httpcore", "aiohttp", "hypercorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class ServerConfig(HypercornConfig):
    """hypercorn's settings, with the Date header formatted once a second instead of for every
    response (hypercorn's own formatting was 1.2% of a stream's CPU, issue #22)."""

    include_date_header = False  # the base class's per-response Date: this class adds its own
    _second = -1
    _date = b""

    def response_headers(self, protocol: str) -> list[tuple[bytes, bytes]]:
        now = int(time.time())
        if now != self._second:  # one loop thread: no race between these two assignments
            self._date = format_date_time(now).encode("ascii")
            self._second = now
        return [(b"date", self._date), *super().response_headers(protocol)]


def hypercorn_config(config: Config, fd: int | None = None) -> HypercornConfig:
    """The main listener's hypercorn settings; `fd`: a socket bound by `serve --workers`'s parent."""
    hc = ServerConfig()
    host = config.server.host
    hc.bind = [f"fd://{fd}"] if fd is not None else [_address(host, config.server.port)]
    hc.graceful_timeout = config.server.shutdown_grace
    hc.accesslog = None  # llmgw.access writes one richer line per request
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.keep_alive_timeout = 75
    hc.backlog = config.server.backlog  # hypercorn's 100 drops connections in a burst of streams
    # h11 refuses a longer head itself (431, empty body); below that, relay/guard.py answers 431 with
    # a body for more than max_header_count headers or more than max_header_bytes of them.
    hc.h11_max_incomplete_size = max(64 * 1024, config.server.max_header_bytes + 16 * 1024)
    return hc


def portal_url(config: Config) -> str:
    """Where a browser opens the portal: under `public_url` when set, else at the listen address (a
    loopback one for an every-interface address: without `public_url` the portal answers loopback
    names only)."""
    server = config.server
    if server.public_url:
        return f"{server.public_url}/ui/"
    host = server.host
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:  # a name
        return f"http://{host}:{server.port}/ui/"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{server.port}/ui/"


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def metrics_hypercorn_config(config: Config, fd: int | None = None) -> HypercornConfig | None:
    """The `metrics_listen` listener's hypercorn settings (None: off); `fd` as `hypercorn_config`'s."""
    if not config.server.metrics_listen:
        return None
    host, port = metrics_address(config.server.metrics_listen)
    hc = HypercornConfig()
    hc.bind = [f"fd://{fd}"] if fd is not None else [_address(host, port)]
    hc.graceful_timeout = 1.0  # a scrape is short; nothing to wait for
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    return hc


def run(
    config: Config, proxy_key: str | None, key_source: KeySource, inherited: WorkerSockets | None = None
) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code. Raises, before binding and before the database
    is opened: DatabaseTooNew when a newer llmgw upgraded the database, DatabaseInUse when another
    `llmgw serve` holds its serve lock. `inherited`: a worker of `serve --workers` (server/workers.py),
    serving the sockets its parent bound, and stopping if that parent is gone."""
    hc = hypercorn_config(config, inherited.main if inherited else None)
    shown = _address(config.server.host, config.server.port)
    # Before the lock file exists and before hypercorn: a refusal is the CLI's message and exit code 2.
    Store.check_known(config.server.database)
    # A file is one server's; a PostgreSQL database is shared by every instance (README, "Scaling out").
    database = config.server.database
    lock: AbstractContextManager[object] = (
        nullcontext() if is_database_url(database) else hold_serve_lock(database, f"http://{shown}")
    )
    with lock:
        mode = config.server.auth_mode
        app = create_app(config, proxy_key, key_source)
        mhc = metrics_hypercorn_config(config, inherited.metrics if inherited else None)
        metrics = (create_metrics_app(app), mhc) if mhc is not None else None
        raise_open_files(config.server.backlog)
        check_backlog(config.server.backlog)
        auth = mode if auth_enabled(mode, proxy_key) else "OFF"
        _serve(app, hc, auth, portal_url(config), metrics, shown=shown, worker=inherited is not None)
    return 0


def _serve(
    app: Starlette,
    hc: HypercornConfig,
    auth: str,
    portal: str,
    metrics: tuple[Starlette, HypercornConfig] | None = None,
    *,
    shown: str,
    worker: bool = False,
) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(asyncio.get_running_loop(), stop)
        if worker:
            watch = asyncio.get_running_loop().create_task(parent_watch(stop))
        log.info("llmgw listening on http://%s (auth %s); web portal: %s", shown, auth, portal)
        if metrics is None:
            await serve(app, hc, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
        else:
            metrics_app, mhc = metrics
            where = metrics_socket_address(mhc.bind[0])
            log.info("metrics on http://%s/metrics (no key: loopback only)", where)
            # One task group: if either listener fails (its port taken), the other stops too.
            async with asyncio.TaskGroup() as listeners:
                listeners.create_task(serve(app, hc, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
                listeners.create_task(serve(metrics_app, mhc, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
        if worker:
            watch.cancel()
        log.info("llmgw stopped")

    _runner()(main())


def metrics_socket_address(bind: str) -> str:
    """What a log line shows for a listener: its address, an inherited socket's read from the socket."""
    if not bind.startswith("fd://"):
        return bind
    with socket.socket(fileno=os.dup(int(bind[5:]))) as sock:
        host, port = sock.getsockname()[:2]
    return _address(host, port)


async def parent_watch(stop: asyncio.Event, interval: float = 1.0) -> None:
    """A worker's: stop when the parent that started it is gone (SIGKILLed), not serve on as an orphan."""
    parent = os.getppid()
    while True:
        await asyncio.sleep(interval)
        if os.getppid() != parent:
            break
    log.warning("the parent process %d is gone; stopping", parent)
    stop.set()


def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM or SIGINT. The loop's own handlers where it has them (POSIX); Windows's loops
    have none, so there a plain handler (Ctrl+C, or the process signalling itself) asks the loop to set it."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))


def _runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    try:
        import uvloop
    except ImportError:  # Windows: the default loop
        return asyncio.run
    return uvloop.run
