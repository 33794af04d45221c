"""A pytest plugin that fails the run when the test process reads anything beside the checkout.

The suite must pass from a fresh clone with nothing next to it (``.ci/run`` runs it so). This catches the
same mistake earlier, on a machine where ``../shared`` or a sibling clone does exist: an audit hook
(PEP 578) sees every ``open``, ``os.listdir`` and ``os.scandir`` of the test process, and a path under the
checkout's parent directory but outside the checkout fails the session, naming the path and the test.
Spared: the interpreter and its packages (a venv may sit beside the clone), the temporary directory and
the home directory's hidden entries (keyring and user configuration), unless one of them holds the
checkout itself. Subprocesses (the gateway, the bench's fake upstream) are not watched: the bare clone
in CI covers them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHECKOUT", "OutsideReads"]

CHECKOUT = Path(__file__).resolve().parents[2]
_READS = frozenset({"open", "os.listdir", "os.scandir"})


def _prefix(path: Path | str) -> str:
    return os.path.join(os.path.abspath(path), "")  # with the trailing separator: /a/b/ is not /a/bc


class OutsideReads:
    """Records the paths read under ``checkout``'s parent directory but outside ``checkout``."""

    def __init__(self, checkout: Path, exempt: Iterable[Path] = (), home: Path | None = None) -> None:
        self._inside = _prefix(checkout)
        self._beside = _prefix(checkout.parent)
        # An exemption holding the checkout would hold everything beside it too.
        self._exempt = tuple(_prefix(p) for p in exempt if not self._inside.startswith(_prefix(p)))
        self._home = _prefix(home) if home is not None else None
        self.seen: dict[str, str] = {}  # path -> the test (or phase) that read it first

    def outside(self, path: Any) -> str | None:
        """``path``, normalised, if it lies beside the checkout; None for anything else (fds too)."""
        if not isinstance(path, str | bytes | os.PathLike):
            return None
        name = os.path.abspath(os.fsdecode(path))
        if not name.startswith(self._beside) or name.startswith(self._inside) or name == self._inside[:-1]:
            return None
        if any(name.startswith(p) for p in self._exempt):
            return None
        if self._home is not None and name.startswith(self._home) and name[len(self._home) :].startswith("."):
            return None
        return name

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook; it never raises (an exception here would fail the ``open`` itself)."""
        if event not in _READS or not args:
            return
        try:
            name = self.outside(args[0])
        except (TypeError, ValueError):  # a path the OS would refuse anyway
            return
        if name is not None and name not in self.seen:
            self.seen[name] = os.environ.get("PYTEST_CURRENT_TEST", "collection or setup").rsplit(" ", 1)[0]


_GUARD = OutsideReads(
    CHECKOUT,
    exempt=[Path(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, tempfile.gettempdir()}],
    home=Path.home(),
)


_hooked = False


def pytest_configure(config: pytest.Config) -> None:
    global _hooked
    if not _hooked:  # an audit hook stays for the life of the process: add it once
        sys.addaudithook(_GUARD.audit)
        _hooked = True


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _GUARD.seen and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _GUARD.seen:
        return
    terminalreporter.section("read outside the checkout", sep="=", red=True, bold=True)
    terminalreporter.line(f"the suite must pass from a clone with nothing beside it ({CHECKOUT}):", red=True)
    for name, test in _GUARD.seen.items():
        terminalreporter.line(f"  {name}  (by {test})", red=True)
