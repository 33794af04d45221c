"""Files llmgw creates are its owner's alone, whatever the umask: 0600, and 0700 for the directories it
makes. The ledger says who asked what and when, the sessions table who is logged in from where.

SQLite creates a database's `-wal`, `-shm` and `-journal` files with the database file's own mode
(`robust_open`, umask or not), so creating that one private covers them. Files found with wider modes
are named (`llmgw serve` logs a warning, `llmgw db check` reports it), never changed: an administrator
may have widened them on purpose, for a backup agent's group say. On Windows the modes mean little,
and nothing is checked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "create_private",
    "loose_modes",
    "make_private_dirs",
    "open_private",
    "replace_private",
    "warning",
]

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_POSIX = os.name == "posix"
# Windows's C runtime opens a descriptor in text mode unless told otherwise: every write would turn "\n"
# into "\r\n" beneath Python's own newline translation (a text file would get "\r\r\n"). POSIX: 0.
_BINARY = getattr(os, "O_BINARY", 0)


def make_private_dirs(path: Path) -> None:
    """`mkdir -p path`, each directory it creates 0700 (one that exists keeps its mode)."""
    missing: list[Path] = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(PRIVATE_DIR)
        except FileExistsError:  # made meanwhile, by someone else: theirs
            continue
        if _POSIX:  # mkdir's mode went through the umask
            os.chmod(directory, PRIVATE_DIR)


def open_private(path: Path, flags: int) -> int:
    """`os.open(path, flags | O_CREAT)`, a file it creates 0600 whatever the umask; an existing file
    keeps its mode. Binary on Windows: the bytes written are the bytes on disk."""
    flags |= _BINARY
    for _ in range(3):  # created or removed by someone else between the two opens: try again
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        except FileExistsError:
            try:
                return os.open(path, flags)
            except FileNotFoundError:
                continue
        if _POSIX:  # the umask may have taken bits, even the owner's (chmod of an fd: fchmod)
            os.chmod(fd, PRIVATE_FILE)
        return fd
    return os.open(path, flags | os.O_CREAT, PRIVATE_FILE)


def create_private(path: Path) -> None:
    """Create `path`, empty and 0600, unless it exists."""
    os.close(open_private(path, os.O_WRONLY))


def replace_private(path: Path, text: str) -> None:
    """Write `path` whole (a new file renamed over any old one: 0600 even where the old one was not),
    its directories made private as `make_private_dirs` does."""
    make_private_dirs(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    fd = open_private(temporary, os.O_WRONLY | os.O_TRUNC)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def loose_modes(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Those of `paths` that exist with any permission for group or others, with their modes."""
    if not _POSIX:
        return []
    found: list[tuple[Path, int]] = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:  # absent (the usual case for spool files), or not ours to look at
            continue
        if mode & 0o077:
            found.append((path, mode))
    return found


def warning(path: Path, mode: int) -> str:
    """What to tell the administrator about a file of `loose_modes`."""
    return f"{path} is mode {mode:o}: its group or others may access it; chmod 600 {path}"
