"""`llmgw serve --workers N`: N gateway processes on one port, sharing a PostgreSQL database.

The parent binds the listening socket once and starts N children, each the same executable re-run with
the same arguments plus `--worker-fds` (a subprocess, not `multiprocessing`: the PyInstaller-frozen binary
re-runs itself the same way). Every child serves the one inherited socket: the kernel hands each new
connection to whichever child accepts first, so an idle worker takes the next one, and connections queued
while a worker restarts wait in the shared backlog for the others. The parent serves nothing: it forwards
SIGTERM and SIGINT to the children, restarts one that dies, and exits once all have stopped.

`metrics_listen` with workers: each worker's counters are its own, so each worker serves its own /metrics,
worker `i` on the configured port plus `i` (bound by the parent too, so a taken port fails at once);
a scraper lists the N targets and sums them.

A SQLite file keeps one serving process (its serve lock; budgets and limits in that process's memory):
`--workers` above 1 is refused for it. Children of a parent that is gone (SIGKILLed) stop by themselves
(`parent_watch`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType

from llmgw.settings import Config, metrics_address
from llmgw.storage import Store, is_database_url

__all__ = ["WorkerSockets", "refusal", "run_workers"]

log = logging.getLogger("llmgw")

_POLL = 0.2  # seconds between two looks at the children
_QUICK_EXIT = 5.0  # a worker that ends sooner than this after its start counts as a failed start
_QUICK_EXITS_ALLOWED = 5  # failed starts in a row before the parent gives up and stops the others


@dataclass(frozen=True)
class WorkerSockets:
    """The listening sockets a worker inherits: the gateway's, and its own metrics listener's if any."""

    main: int
    metrics: int | None = None

    def arg(self) -> str:
        return f"{self.main},{self.metrics}" if self.metrics is not None else str(self.main)

    @classmethod
    def parse(cls, text: str) -> WorkerSockets:
        fds = [int(part) for part in text.split(",")]
        return cls(fds[0], fds[1] if len(fds) > 1 else None)


def refusal(config: Config, workers: int) -> str | None:
    """Why `--workers` cannot be used with this configuration, or None."""
    if workers < 1:
        return "--workers must be at least 1"
    if workers == 1:
        return None
    if not is_database_url(config.server.database):
        return (
            '--workers needs a PostgreSQL database ([server] database = "postgresql://..." or '
            "LLMGW_DATABASE_URL): a SQLite file is served by one process, whose memory holds its budgets "
            "and limits (README, Scaling out)"
        )
    if sys.platform == "win32":
        return "--workers is not available on Windows: run several `llmgw serve` on their own ports"
    return None


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _command() -> list[str]:
    """This process's command line, to run again as a worker (the frozen binary is its own interpreter)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *sys.argv[1:]]
    return [sys.executable, "-m", "llmgw", *sys.argv[1:]]


class _Worker:
    def __init__(self, index: int, sockets: WorkerSockets) -> None:
        self.index = index
        self.sockets = sockets
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.quick_exits = 0

    def start(self) -> None:
        fds = [self.sockets.main] + ([self.sockets.metrics] if self.sockets.metrics is not None else [])
        self.proc = subprocess.Popen([*_command(), "--worker-fds", self.sockets.arg()], pass_fds=fds)
        self.started = time.monotonic()
        log.info("worker %d started (pid %d)", self.index, self.proc.pid)


def run_workers(config: Config, count: int) -> int:
    """Bind, start `count` workers, keep them running until SIGTERM/SIGINT; the exit code."""
    server = config.server
    # Once, before the workers: a database a newer llmgw upgraded is refused here, and the pending
    # migrations are applied by one process (the workers find the database up to date).
    Store.check_known(server.database)
    Store.open(server.database, busy_timeout=server.database_busy_timeout).close()
    main = _listen(server.host, server.port, server.backlog)
    metrics: list[socket.socket] = []
    if server.metrics_listen:
        mhost, mport = metrics_address(server.metrics_listen)
        metrics = [_listen(mhost, mport + i, 128) for i in range(count)]
    workers = [
        _Worker(i, WorkerSockets(main.fileno(), metrics[i].fileno() if metrics else None))
        for i in range(count)
    ]
    stopping: list[int] = []

    def forward(sig: int, frame: FrameType | None) -> None:
        stopping.append(sig)
        for w in workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(sig)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    log.info("llmgw: %d workers on %s:%d (pid %d)", count, server.host, server.port, os.getpid())
    if metrics:
        log.info(
            "metrics: worker i on port %d + i, each its own counters",
            metrics_address(server.metrics_listen)[1],
        )
    try:
        return _supervise(workers, stopping)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for sock in (main, *metrics):
            sock.close()


def _supervise(workers: list[_Worker], stopping: list[int]) -> int:
    """Start the workers and restart one that dies, until a signal; then wait for all of them."""
    code = 0
    for w in workers:
        w.start()
    while True:
        alive = 0
        for w in workers:
            assert w.proc is not None
            returned = w.proc.poll()
            if returned is None:
                alive += 1
                continue
            if stopping or code:
                continue
            lived = time.monotonic() - w.started
            w.quick_exits = w.quick_exits + 1 if lived < _QUICK_EXIT else 0
            how = f"signal {-returned}" if returned < 0 else f"exit code {returned}"
            if w.quick_exits >= _QUICK_EXITS_ALLOWED:
                log.error("worker %d keeps failing at start (%s); stopping the others", w.index, how)
                code = 1
                for other in workers:
                    if other.proc is not None and other.proc.poll() is None:
                        other.proc.send_signal(signal.SIGTERM)
                continue
            log.warning(
                "worker %d (pid %d) ended with %s after %.0f s; restarting it",
                w.index,
                w.proc.pid,
                how,
                lived,
            )
            w.start()
            alive += 1
        if not alive:
            log.info("llmgw stopped")
            return code
        time.sleep(_POLL)
