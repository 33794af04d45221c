"""The operating system's limits that bound how many streams `llmgw serve` can hold at once, checked
once at start: the soft open-files limit raised to the hard one (each stream holds two descriptors,
the client's connection and the upstream's), and the listen backlog compared with the kernel's cap
(Linux's `net.core.somaxconn`), with a warning for each that is too low for the configured backlog.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("llmgw")

# macOS refuses an unlimited soft RLIMIT_NOFILE, and often a soft limit above kern.maxfilesperproc;
# its setrlimit(2) page says to use min(OPEN_MAX, rlim_max), OPEN_MAX being 10240 in <sys/syslimits.h>.
OPEN_MAX = 10240
# Descriptors the process holds besides streams: the database and its spool, the listeners, log
# files, the upstream pools' idle connections, the keyring's.
RESERVED_DESCRIPTORS = 64
SOMAXCONN = Path("/proc/sys/net/core/somaxconn")


def descriptors_needed(backlog: int) -> int:
    """Descriptors a full backlog needs once accepted: each connection becomes a stream holding its
    client socket and an upstream socket, plus the process's own."""
    return 2 * backlog + RESERVED_DESCRIPTORS


def raise_open_files(backlog: int, platform: str = sys.platform) -> int | None:
    """Raise the soft open-files limit to the hard one; returns the soft limit now in force (None on
    Windows, where sockets are handles with no such per-process limit). Logs the limit at INFO, or a
    warning when raising it was refused, and warns when it is below `descriptors_needed(backlog)`."""
    if platform == "win32":
        return None
    import resource as posix_resource  # POSIX only: imported here, so tests can hand in a fake

    resource: Any = posix_resource  # typed loosely: mypy's Windows pass has no such module
    infinite: int = resource.RLIM_INFINITY
    soft, hard = (int(n) for n in resource.getrlimit(resource.RLIMIT_NOFILE))
    shown_hard = "unlimited" if hard == infinite else str(hard)
    if soft == infinite:
        log.info("open files: no limit")
        return soft
    # An unlimited hard limit (macOS) is not accepted as a soft one, nor, there, one above
    # kern.maxfilesperproc: then the cap macOS documents.
    capped = OPEN_MAX if hard == infinite else min(OPEN_MAX, hard)
    targets = [t for t in dict.fromkeys([capped if hard == infinite else hard, capped]) if t > soft]
    now = soft
    for target in targets:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as refused:
            log.debug("open files: a soft limit of %d refused (%s)", target, refused)
            continue
        now = target
        break
    if targets and now == soft:
        log.warning(
            "open files: the soft limit stays at %d (hard %s): raising it was refused", soft, shown_hard
        )
    elif now > soft:
        log.info("open files: soft limit raised from %d to %d (hard %s)", soft, now, shown_hard)
    else:
        log.info("open files: limit %d (hard %s)", now, shown_hard)
    needed = descriptors_needed(backlog)
    if now < needed:
        log.warning(
            "open files: a limit of %d allows about %d concurrent streams (two descriptors each), fewer "
            "than the listen backlog of %d can hand over at once; raise the hard limit to at least %d "
            "(systemd: LimitNOFILE=; Docker: ulimits nofile; a shell: ulimit -Hn)",
            now,
            max(0, (now - RESERVED_DESCRIPTORS) // 2),
            backlog,
            needed,
        )
    return now


def kernel_backlog_cap(path: Path = SOMAXCONN) -> int | None:
    """Linux's cap on any listen backlog (`net.core.somaxconn`); None where it cannot be read (other
    systems, a sandbox without /proc)."""
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def check_backlog(backlog: int, path: Path = SOMAXCONN) -> None:
    """Warn once when `backlog` exceeds the kernel's cap, which silently lowers it."""
    cap = kernel_backlog_cap(path)
    if cap is not None and backlog > cap:
        log.warning(
            "backlog %d is above the kernel's net.core.somaxconn (%d), which caps it at %d: raise it with "
            "`sysctl -w net.core.somaxconn=%d` (and in /etc/sysctl.d/ to keep it), or lower `backlog`",
            backlog,
            cap,
            cap,
            backlog,
        )
