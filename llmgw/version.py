"""What `llmgw --version` prints: the package version and, when known, the git revision.

A built executable carries its revision in ``llmgw/_build_info.py`` (``REVISION = "1a2b3c4"``), which
``scripts/build`` writes before PyInstaller runs and removes afterwards; it is git-ignored. A source
checkout asks git, and only when ``--version`` is given; an installed wheel prints the version alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmgw import __version__

__all__ = ["VersionAction", "revision", "version_text"]

_CHECKOUT = Path(__file__).resolve().parent.parent


def revision() -> str | None:
    """The git revision llmgw was built from: the build stamp's, else the source checkout's, else None."""
    try:
        stamp = importlib.import_module("llmgw._build_info")
    except ImportError:
        return _checkout_revision()
    value = getattr(stamp, "REVISION", None)
    return value if isinstance(value, str) and value else None


def _checkout_revision() -> str | None:
    # Only the repository llmgw itself lives in: a wheel inside another repository must not borrow its hash.
    if not (_CHECKOUT / ".git").exists():
        return None
    import subprocess  # here: every command imports this module for --version, few ask for it

    try:
        out = subprocess.run(
            # the commit's short hash, never a tag name; "-dirty" when tracked files have changed
            ["git", "describe", "--always", "--dirty", "--abbrev=7", "--exclude=*"],
            cwd=_CHECKOUT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def version_text() -> str:
    """``llmgw 0.1.0 (git 1a2b3c4)``, or ``llmgw 0.1.0`` when the revision is unknown."""
    rev = revision()
    return f"llmgw {__version__} (git {rev})" if rev else f"llmgw {__version__}"


class VersionAction(argparse.Action):
    """``--version``: print :func:`version_text` and exit. Lazy, so other commands never run git."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show the version and the git revision, then exit")
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(version_text() + "\n")
        parser.exit()
