"""How the dashboard's charts fill the terminal: a pure function of its size, so the screen can lay them
out again on every resize and tests can check the numbers. At 80x24 the charts are as small as they
get (a caption and two rows each, two by two) and the newest-requests table has the rest; past that,
the charts take the extra rows the table does not need, and a very wide terminal puts them side by side."""

from __future__ import annotations

from dataclasses import dataclass

# Rows that are not charts: the header, the totals (2), the table's title, the footer.
_FIXED_ROWS = 5
# What the newest-requests table needs to show all of them: its header and 15 rows.
_TABLE_ROWS = 16
_SMALLEST, _TALLEST = 3, 16  # one chart's height: its caption and at least two rows of bars
_WIDE = 200  # columns from which the four charts go side by side


@dataclass(frozen=True, slots=True)
class ChartLayout:
    columns: int  # charts per row
    rows: int  # rows of charts
    chart_height: int  # one chart: its caption line and its bars

    @property
    def height(self) -> int:
        """The whole grid's."""
        return self.rows * self.chart_height

    @property
    def bars_height(self) -> int:
        return self.chart_height - 1


def chart_layout(width: int, height: int, charts: int = 4) -> ChartLayout:
    """The charts' grid for a terminal of `width` x `height` cells."""
    columns = charts if width >= _WIDE else 2
    rows = -(-charts // columns)
    spare = height - _FIXED_ROWS - _TABLE_ROWS
    chart_height = max(_SMALLEST, min(_TALLEST, spare // rows))
    return ChartLayout(columns, rows, chart_height)
