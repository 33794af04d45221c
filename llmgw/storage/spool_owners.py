"""Whose ledger spool is whose, when several processes spool for one database on one machine (PostgreSQL:
every instance and every `--workers` process has its own `<prefix>-<pid>.spool`, `pg_store.spool_path`).

Each writer holds an OS lock on `<prefix>-<pid>.lock` for its life (`hold`); the OS drops it however the
process ends, a SIGKILL included. Another process replays a spool only after taking that lock itself
(`orphans`), so a live writer's spool is never touched, and two replayers never replay one spool at once.
A lock file is removed by whoever holds it; a holder checks, once locked, that the path still names the
file it locked (someone may have removed it in between), and starts over if not.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from llmgw.storage.file_modes import make_private_dirs, open_private
from llmgw.storage.serve_lock import os_lock

__all__ = ["SpoolOwners"]

_HOLD_TRIES = 100  # a replayer holds a dead process's lock briefly; a reused pid waits that out


class SpoolOwners:
    """The spools `<directory>/<prefix>-<pid>.spool` of one database: this process's (`pid`) held,
    the others' claimable once their writer is gone."""

    def __init__(self, directory: Path, prefix: str, pid: int | None = None) -> None:
        self.directory = directory
        self.prefix = prefix
        self.pid = os.getpid() if pid is None else pid
        self._lock = os_lock()
        self._held: int | None = None
        self._pattern = re.compile(re.escape(prefix) + r"-(\d+)\.spool(?:\.replaying)?")

    def spool_of(self, pid: int) -> Path:
        return self.directory / f"{self.prefix}-{pid}.spool"

    def _lock_path(self, pid: int) -> Path:
        return self.directory / f"{self.prefix}-{pid}.lock"

    def hold(self) -> None:
        """Take this process's lock for as long as it runs (until `release`); raises OSError."""
        if self._held is not None:
            return
        make_private_dirs(self.directory)
        for _ in range(_HOLD_TRIES):
            fd = self._try(self._lock_path(self.pid))
            if fd is not None:
                self._held = fd
                return
            time.sleep(0.05)
        raise OSError(f"cannot lock {self._lock_path(self.pid)}: another process holds it")

    def release(self) -> None:
        """Give this process's lock back (its spool, if any is left, is then anyone's to replay)."""
        fd, self._held = self._held, None
        if fd is not None:
            self._drop(self._lock_path(self.pid), fd)

    @contextlib.contextmanager
    def orphans(self) -> Iterator[list[Path]]:
        """The spools of processes that are gone, each locked for the block (replay them there); after
        it, the lock files of those left with nothing to replay are removed."""
        claimed: list[tuple[int, int]] = []
        try:
            for pid in self._others():
                fd = self._try(self._lock_path(pid))
                if fd is not None:
                    claimed.append((pid, fd))
            yield [self.spool_of(pid) for pid, _ in claimed]
        finally:
            for pid, fd in claimed:
                spool = self.spool_of(pid)
                if spool.exists() or Path(f"{spool}.replaying").exists():
                    self._lock.unlock(fd)
                    os.close(fd)
                else:
                    self._drop(self._lock_path(pid), fd)

    def _others(self) -> list[int]:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        pids = {int(m.group(1)) for n in names if (m := self._pattern.fullmatch(n))}
        pids.discard(self.pid)
        return sorted(pids)

    def _try(self, path: Path) -> int | None:
        """The fd of `path` locked by us, or None if someone holds it."""
        while True:
            fd = open_private(path, os.O_RDWR)
            if not self._lock.try_lock(fd):
                os.close(fd)
                return None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            self._lock.unlock(fd)  # removed by its last holder after we opened it: lock the new one
            os.close(fd)

    def _drop(self, path: Path, fd: int) -> None:
        with contextlib.suppress(OSError):  # Windows: an open file is not removed; left for later
            path.unlink()
        self._lock.unlock(fd)
        os.close(fd)
