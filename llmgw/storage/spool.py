"""The ledger's spool: what the database could not take in time, kept in a file beside it.

Another process (the CLI, the portal, the TUI) may hold the SQLite write lock for longer than a
request should wait. Rows that cannot be written within a bounded time, rows that find the writer's
queue full, and whatever is still pending at shutdown are appended here, one JSON object per line
(`<database>.spool`). The next start replays the file before serving, and the writer replays it as
soon as the database takes a write again. A replay is idempotent: the ledger's INSERT OR REPLACE on
`request_id` leaves a row that was both written and spooled present exactly once, and auth-failure
counts keep the larger value. The file is removed only after its rows are committed.

Rows the database refuses for a reason of their own (a constraint, a value it cannot store) would fail
at every replay: they go to `<database>.spool.rejected`, for a person to look at, and are logged.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from llmgw.errors import kind_of
from llmgw.storage.database import Store
from llmgw.storage.file_modes import make_private_dirs, open_private
from llmgw.storage.requests import COLUMNS, UsageRow

__all__ = ["Spool", "insert_salvaging", "request_ids"]

logger = logging.getLogger("llmgw.ledger")

_REPLAY_CHUNK = 2000  # rows per transaction: a long replay must not hold the lock for long


def request_ids(rows: Sequence[UsageRow], limit: int = 5) -> str:
    """Name rows in logs by request id only, never their contents."""
    shown = ", ".join(r.request_id for r in rows[:limit])
    return shown + (f", ... (+{len(rows) - limit})" if len(rows) > limit else "")


def insert_salvaging(store: Store, rows: Sequence[UsageRow]) -> list[UsageRow]:
    """Insert `rows`; when the database refuses the batch for a row's own reason, insert them one by
    one so one bad row cannot sink the rest. Returns the rows refused; raises if it is unavailable.
    Which errors are a row's own fault is the engine's (`Store.row_faults`): anything else (locked, busy,
    disk full, the connection lost) means the database is unavailable and the rows are kept for later."""
    faults = store.row_faults
    try:
        store.insert_requests(rows)
        return []
    except faults:
        if len(rows) == 1:
            return list(rows)
    refused = []
    for row in rows:
        try:
            store.insert_requests([row])
        except faults:
            refused.append(row)
    return refused


def _row_line(row: UsageRow) -> bytes:
    return orjson.dumps({name: getattr(row, name) for name in COLUMNS})


def _parse(line: bytes) -> UsageRow | tuple[str, int, int]:
    """A spool line: a usage row, or (run, minute, count) of failed authentications."""
    item: Any = orjson.loads(line)
    if not isinstance(item, dict):
        raise ValueError("not an object")
    if "auth_failures" in item:
        run, minute, count = item["auth_failures"]
        if not (isinstance(run, str) and isinstance(minute, int) and isinstance(count, int)):
            raise ValueError("bad auth_failures entry")
        return run, minute, count
    row = UsageRow(**{name: item[name] for name in COLUMNS if name in item})
    if "error_kind" not in item:  # spooled by a version before m012
        row.error_kind = kind_of(row.status, row.error_type)
    return row


class Spool:
    """An append-only JSON-lines file of rows waiting for the database. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rejected = Path(f"{path}.rejected")
        # A replay renames the spool to this first, so rows appended meanwhile start a new spool
        # instead of being removed with the replayed file.
        self._replaying = Path(f"{path}.replaying")
        self._lock = threading.Lock()

    def append(
        self,
        rows: Sequence[UsageRow],
        *,
        run: str = "",
        counts: Sequence[tuple[int, int]] = (),
        sync: bool = True,
    ) -> None:
        """Append rows and run `run`'s auth-failure (minute, count) pairs; raises OSError.

        `sync` fsyncs the file; without it the lines reach the OS (they survive a crash of the process,
        not of the machine) and the next synced append or the writer's close makes them durable."""
        lines = [_row_line(r) for r in rows]
        lines += [orjson.dumps({"auth_failures": [run, minute, n]}) for minute, n in counts]
        if not lines:
            return
        data = b"\n".join(lines) + b"\n"
        with self._lock:
            self._append(self.path, data, sync)

    def reject(self, rows: Sequence[UsageRow]) -> None:
        """Keep rows the database refused out of the spool, in the `.rejected` file, and say so."""
        try:
            with self._lock:
                self._append(self.rejected, b"\n".join(_row_line(r) for r in rows) + b"\n", True)
            kept = f"kept in {self.rejected}"
        except OSError as exc:
            kept = f"and they could not be kept in {self.rejected} ({exc.strerror})"
        logger.error(
            "the database refused %d usage rows, %s; request ids: %s", len(rows), kept, request_ids(rows)
        )

    @staticmethod
    def _append(path: Path, data: bytes, sync: bool) -> None:
        make_private_dirs(path.parent)  # PostgreSQL's spools have a directory of their own
        fd = open_private(path, os.O_RDWR | os.O_APPEND | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "a+b") as f:
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a line torn by a crash: start ours on a line of its own
                    data = b"\n" + data
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())

    def size(self) -> int:
        """Bytes waiting in the spool file (0 without one)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def waiting(self) -> bool:
        """Whether anything waits to be replayed."""
        return self.path.exists() or self._replaying.exists()

    def replay(self, store: Store) -> int:
        """Write what the spool holds into `store`, then remove it; returns the rows replayed.

        While the database is unavailable the file stays (logged) for the next replay."""
        total = 0
        for _ in range(2):  # a file left by an earlier replay, then the current spool
            with self._lock:
                if not self._replaying.exists():
                    if not self.path.exists():
                        break
                    os.replace(self.path, self._replaying)
            try:
                replayed = self._replay_file(store)
            except Exception as exc:  # locked, busy, disk full: keep the file for later
                logger.warning("the ledger spool %s waits for the database: %r", self.path, exc)
                break
            self._replaying.unlink()
            total += replayed
        return total

    def _replay_file(self, store: Store) -> int:
        rows: list[UsageRow] = []
        counts: dict[str, dict[int, int]] = {}
        replayed = 0
        with self._replaying.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    item = _parse(line)
                except (orjson.JSONDecodeError, TypeError, ValueError, KeyError):
                    logger.warning(
                        "%s line %d is not a ledger row (a write cut short by a crash?); skipped",
                        self.path,
                        number,
                    )
                    continue
                if isinstance(item, UsageRow):
                    rows.append(item)
                    if len(rows) >= _REPLAY_CHUNK:
                        replayed += self._insert(store, rows)
                        rows = []
                else:
                    run, minute, n = item
                    by_minute = counts.setdefault(run, {})
                    by_minute[minute] = max(n, by_minute.get(minute, 0))
        replayed += self._insert(store, rows)
        for run, by_minute in counts.items():
            store.add_auth_failures(run, sorted(by_minute.items()))
        return replayed

    def _insert(self, store: Store, rows: list[UsageRow]) -> int:
        if not rows:
            return 0
        refused = insert_salvaging(store, rows)
        if refused:
            self.reject(refused)
        return len(rows) - len(refused)
