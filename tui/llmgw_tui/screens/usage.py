"""Usage over a chosen range: requests over time (a chart), and the breakdown by provider and model
with bars; `e` exports the breakdown as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Label, Select, Sparkline, Static

from llmgw.services.usage import ActivityBucket, UsageSummary
from llmgw_tui import charts
from llmgw_tui.formatting import count, percent
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import Field, FormDialog


@dataclass(frozen=True, slots=True)
class Range:
    label: str
    seconds: int  # 0: all time (no chart)
    buckets: int
    width: int
    per: str


RANGES: tuple[Range, ...] = (
    Range("last hour", 3600, 60, 60, "min"),
    Range("last 24 hours", 86400, 48, 1800, "30 min"),
    Range("last 7 days", 7 * 86400, 84, 7200, "2 h"),
    Range("last 30 days", 30 * 86400, 60, 43200, "12 h"),
    Range("all time", 0, 0, 0, ""),
)
CSV_COLUMNS = (
    "provider",
    "model",
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
)


def write_csv(path: Path, summary: UsageSummary) -> int:
    """The breakdown as CSV, one row per provider and model; the number of rows."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(CSV_COLUMNS)
        for m in summary.by_model:
            out.writerow([m.provider or "", m.model or "", *(getattr(m, c) for c in CSV_COLUMNS[2:])])
    return len(summary.by_model)


class UsageScreen(AdminScreen):
    SUB_TITLE = "Usage"
    DEFAULT_CSS = """
    UsageScreen #usage-bar { height: auto; }
    UsageScreen #range { width: 24; }
    UsageScreen #usage-totals { padding: 0 1; width: 1fr; }
    UsageScreen Sparkline { height: 3; margin: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("e", "export", "Export CSV")]

    def __init__(self) -> None:
        super().__init__()
        self.summary: UsageSummary | None = None

    def body(self) -> Iterable[Any]:
        with Horizontal(id="usage-bar"):
            yield Select[int](
                ((r.label, i) for i, r in enumerate(RANGES)), value=1, allow_blank=False, id="range"
            )
            yield Static("", id="usage-totals")
        yield Label("", id="usage-caption", classes="hint")
        yield Sparkline([], id="usage-chart")
        table: DataTable[str] = DataTable(id="by-model", cursor_type="row", zebra_stripes=True)
        table.add_columns("provider", "model", "requests", "errors", "tokens", "share")
        yield table

    @property
    def range(self) -> Range:
        value = self.query_one("#range", Select).value
        return RANGES[value if isinstance(value, int) else 1]

    def refresh_data(self) -> None:
        r = self.range
        since = self.backend.clock() - r.seconds if r.seconds else None

        def read(b: Any) -> tuple[UsageSummary, list[ActivityBucket]]:
            return b.summary(since), b.activity(r.buckets, r.width) if r.buckets else []

        self.call(read, self.show)

    def show(self, found: tuple[UsageSummary, list[ActivityBucket]]) -> None:
        summary, buckets = found
        self.summary = summary
        error_rate = summary.errors / summary.requests if summary.requests else 0.0
        self.query_one("#usage-totals", Static).update(
            f"{count(summary.requests)} requests · {count(summary.total_tokens)} tokens · "
            f"{count(summary.errors)} errors ({percent(error_rate)}) · "
            f"{count(summary.auth_failures)} refused keys"
        )
        r = self.range
        s = charts.series(buckets, "requests", r.per) if buckets else None
        self.query_one("#usage-caption", Label).update(s.caption if s else "no chart for all time")
        self.query_one("#usage-chart", Sparkline).data = s.values if s else []
        table = self.query_one("#by-model", DataTable)
        table.clear()
        largest = max((m.requests for m in summary.by_model), default=0)
        for m in summary.by_model:
            table.add_row(
                m.provider or "-",
                m.model or "-",
                count(m.requests),
                count(m.errors),
                count(m.total_tokens),
                charts.bar(m.requests, largest, 16),
            )

    def on_select_changed(self, event: Select.Changed) -> None:
        self.refresh_data()

    def action_export(self) -> None:
        summary = self.summary
        if summary is None:
            return

        def export(values: dict[str, str] | None) -> None:
            if values is None or not values["path"].strip():
                return
            path = Path(values["path"].strip()).expanduser()
            self.call(
                lambda b: write_csv(path, summary), lambda n: self.notify(f"wrote {n} row(s) to {path}")
            )

        default = f"llmgw-usage-{self.range.label.replace(' ', '-')}.csv"
        self.app.push_screen(
            FormDialog("Export the breakdown as CSV", [Field("path", "File", default)], "Export"), export
        )
