"""One serving process per database: `<database>.serve.lock`, locked by the OS while `llmgw serve` runs.

Budgets, rate limits and key state live in the server's memory, so two servers on one database would
each enforce their own. The lock is an advisory OS lock (`flock` on POSIX, `msvcrt.locking` on Windows)
on an open file: the OS drops it when the process ends, however it ends, so a `kill -9` leaves the file
but never a stale lock. The file says who holds it (`{"pid", "address", "started"}`) for the message a
second server gets. Only `serve` takes it: the CLI and the TUI read and write the database meanwhile
(SQLite's own locking orders those).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from llmgw.errors import DatabaseInUse
from llmgw.storage.file_modes import make_private_dirs, open_private

__all__ = ["hold_serve_lock", "lock_path"]

SUFFIX = ".serve.lock"
# Windows locks are mandatory (a locked byte cannot be read): lock one byte far past the content, which
# stays readable for the server that is refused.
_WINDOWS_LOCK_OFFSET = 1 << 30


def lock_path(database: str | Path) -> Path:
    """The lock file of `database` (resolved, so two spellings of one file share it)."""
    return Path(str(Path(database).resolve()) + SUFFIX)


@contextmanager
def hold_serve_lock(database: str | Path, address: str, platform: str = sys.platform) -> Iterator[Path]:
    """Hold the serve lock of `database` for the block; raise DatabaseInUse, naming the holder, if another
    process (or another holder in this one) has it. `platform` picks the OS lock (tests fake Windows's)."""
    lock = os_lock(platform)
    path = lock_path(database)
    make_private_dirs(path.parent)
    fd = open_private(path, os.O_RDWR)  # not truncated: the holder's words stay readable
    try:
        if not lock.try_lock(fd):
            holder = _holder(fd)
            pid, where = holder.get("pid"), holder.get("address")
            raise DatabaseInUse(
                str(Path(database).resolve()),
                pid if isinstance(pid, int) else None,
                where if isinstance(where, str) else None,
            )
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        content = json.dumps({"pid": os.getpid(), "address": address, "started": started}).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, content)
        try:
            yield path
        finally:
            lock.unlock(fd)  # the OS would on close (or exit) too; Windows asks for it explicitly
    finally:
        os.close(fd)


def _holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        found = json.loads(os.read(fd, 4096) or b"{}")
    except ValueError:  # being written this very moment, or not ours
        return {}
    return found if isinstance(found, dict) else {}


class _OsLock(Protocol):
    """The OS's lock on an open file: `try_lock` without waiting, `unlock` what it took."""

    def try_lock(self, fd: int) -> bool: ...
    def unlock(self, fd: int) -> None: ...


class _WindowsLock:
    """`msvcrt.locking` on one byte at `_WINDOWS_LOCK_OFFSET` (the content before it stays readable)."""

    def __init__(self) -> None:
        import msvcrt  # Windows only: imported when chosen, so tests can hand in a fake

        self._msvcrt: Any = msvcrt

    def try_lock(self, fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            self._msvcrt.locking(fd, self._msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(self, fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        self._msvcrt.locking(fd, self._msvcrt.LK_UNLCK, 1)


class _PosixLock:
    """`flock`, exclusive, on the whole file (per open file: a second open in this process conflicts too)."""

    def __init__(self) -> None:
        import fcntl  # POSIX only

        self._fcntl: Any = fcntl

    def try_lock(self, fd: int) -> bool:
        try:
            self._fcntl.flock(fd, self._fcntl.LOCK_EX | self._fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(self, fd: int) -> None:
        self._fcntl.flock(fd, self._fcntl.LOCK_UN)


def os_lock(platform: str = sys.platform) -> _OsLock:
    """The OS lock of `platform`: `try_lock` an open file without waiting, `unlock` it."""
    return _WindowsLock() if platform == "win32" else _PosixLock()
