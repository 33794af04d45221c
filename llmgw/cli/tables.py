"""What the account commands share: one use case on the configured database, times as people read
them, aligned columns."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from llmgw.services.database import Store, open_configured_store, open_store

__all__ = ["format_table", "iso_time", "run_on_store", "store_of"]


def run_on_store(
    args: argparse.Namespace, body: Callable[[argparse.Namespace, Store], int], *, listing: bool = False
) -> int:
    """Run `body` on the database of `--config` (a refusal, `AccountError`, is `main`'s to report).
    `listing`: `body` only reads, so only the database's location is read of the configuration
    (`open_configured_store`: a listing starts in a fraction of the time)."""
    with store_of(args.config, listing=listing) as store:
        return body(args, store)


def store_of(config_file: str | None, *, listing: bool) -> Store:
    """The database of `config_file`: for a listing by its location alone, else with the whole
    configuration loaded and checked first, as every other command does."""
    if listing:
        return open_configured_store(config_file)
    from llmgw.settings import load

    return open_store(load(config_file).config)


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
