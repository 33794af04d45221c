"""CSV exports of usage (the portal's, `llmgw usage --csv`, the TUI's): one rule for every front end.
Pure. Cells are safe to open in a spreadsheet: a text cell (a user or model name) that starts with
`=`, `+`, `-`, `@` (or a tab or carriage return) would be read as a formula, so it gets a leading `'`
(OWASP, CSV injection); numbers are written as numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

__all__ = ["csv_document", "safe_cell"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CsvValue = str | int | float | None


def safe_cell(value: CsvValue) -> str:
    """One cell's text: None empty, numbers as they are, text defused if a spreadsheet would run it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_document(header: Sequence[str], rows: Iterable[Sequence[CsvValue]]) -> str:
    """A header row and the rows, CRLF line ends (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()
