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
from typing import Any

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
def hold_serve_lock(database: str | Path, address: str) -> Iterator[Path]:
    """Hold the serve lock of `database` for the block; raise DatabaseInUse, naming the holder, if another
    process (or another holder in this one) has it."""
    path = lock_path(database)
    make_private_dirs(path.parent)
    fd = open_private(path, os.O_RDWR)  # not truncated: the holder's words stay readable
    try:
        if not _try_lock(fd):
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
            _unlock(fd)  # the OS would on close (or exit) too; Windows asks for it explicitly
    finally:
        os.close(fd)


def _holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        found = json.loads(os.read(fd, 4096) or b"{}")
    except ValueError:  # being written this very moment, or not ours
        return {}
    return found if isinstance(found, dict) else {}


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
