"""Output helpers the account commands share: times as people read them, aligned columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = ["format_table", "iso_time"]


def iso_time(at: float | None) -> str | None:
    """Unix seconds as ISO-8601 UTC to the second (`2026-11-01T12:00:00Z`); None stays None."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str | None]]) -> str:
    """Left-aligned columns two spaces apart; None shows as '-'."""
    cells = [list(headers), *([c if c is not None else "-" for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
