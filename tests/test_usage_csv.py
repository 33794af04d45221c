"""CSV exports (llmgw/services/csv_export.py): formula-looking text defused, numbers kept, quoting."""

from __future__ import annotations

import csv
import io

import pytest

from llmgw.services.csv_export import csv_document, safe_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("gpt-4o", "gpt-4o"),
        ("", ""),
        (None, ""),
        (-3, "-3"),  # a number stays a number, negative or not
        (0.125, "0.125"),
        (42, "42"),
    ],
)
def test_safe_cell(value: str | int | float | None, cell: str) -> None:
    assert safe_cell(value) == cell


def test_document_round_trips_through_a_csv_reader() -> None:
    text = csv_document(["label", "requests"], [['a,"b"\nc', 3], ["=cmd|' /C calc'!A0", 1]])
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["label", "requests"], ['a,"b"\nc', "3"], ["'=cmd|' /C calc'!A0", "1"]]
