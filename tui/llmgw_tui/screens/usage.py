"""Usage over a chosen range, grouped by user, key, model or provider (the hourly rollups' report):
requests over time as a chart, a table with a bar per group, and `e` to export the groups as CSV.

The rollups are hourly, so a range starts at a whole UTC hour ("last 24 hours" at 12:40 counts from
12:00 yesterday)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Label, Select, Sparkline, Static

from llmgw.services.csv_export import usage_csv
from llmgw.services.usage import Grain, GroupBy, SeriesPoint, UsageReport
from llmgw_tui import charts
from llmgw_tui.backend import Backend
from llmgw_tui.formatting import count, error_codes, error_split, latency, money, percent
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import Field, FormDialog


@dataclass(frozen=True, slots=True)
class Range:
    label: str
    seconds: int  # 0: all time
    grain: Grain


RANGES: tuple[Range, ...] = (
    Range("last 24 hours", 86400, "hour"),
    Range("last 7 days", 7 * 86400, "hour"),
    Range("last 30 days", 30 * 86400, "day"),
    Range("all time", 0, "month"),
)
GROUPINGS: tuple[GroupBy, ...] = ("model", "provider", "user", "key")


@dataclass(frozen=True, slots=True)
class Reading:
    report: UsageReport
    series: list[SeriesPoint]


def read(backend: Backend, r: Range, by: GroupBy) -> Reading:
    since = backend.clock() - r.seconds if r.seconds else None
    report = backend.report(since, by)
    return Reading(report, backend.series(since, r.grain) if since is not None else [])


def write_csv(path: Path, report: UsageReport) -> int:
    """The report's groups as the one CSV layout every front end writes (`csv_export.usage_csv`), byte
    for byte; the number of groups."""
    path.write_bytes(usage_csv(report).encode("utf-8"))
    return len(report.groups)


class UsageScreen(AdminScreen):
    SUB_TITLE = "Usage"
    DEFAULT_CSS = """
    UsageScreen #usage-bar { height: auto; }
    UsageScreen #range { width: 22; }
    UsageScreen #by { width: 18; }
    UsageScreen #usage-totals { padding: 0 1; width: 1fr; }
    UsageScreen Sparkline { height: 3; margin: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("e", "export", "Export CSV")]

    def __init__(self) -> None:
        super().__init__()
        self.report: UsageReport | None = None

    def body(self) -> Iterable[Any]:
        with Horizontal(id="usage-bar"):
            yield Select[int](
                ((r.label, i) for i, r in enumerate(RANGES)), value=0, allow_blank=False, id="range"
            )
            yield Select[str](((f"by {g}", g) for g in GROUPINGS), value="model", allow_blank=False, id="by")
        yield Static("", id="usage-totals")
        yield Label("", id="usage-codes", classes="hint")
        yield Label("", id="usage-caption", classes="hint")
        yield Sparkline([], id="usage-chart")
        table: DataTable[str] = DataTable(id="groups", cursor_type="row", zebra_stripes=True)
        table.add_columns(
            "group", "requests", "upstream err", "policy", "client", "tokens", "cost", "p95", "share"
        )
        yield table

    @property
    def range(self) -> Range:
        value = self.query_one("#range", Select).value
        return RANGES[value if isinstance(value, int) else 0]

    @property
    def by(self) -> GroupBy:
        value = self.query_one("#by", Select).value
        return next((g for g in GROUPINGS if g == value), "model")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#groups", DataTable).focus()

    def refresh_data(self) -> None:
        r, by = self.range, self.by
        self.call(lambda b: read(b, r, by), self.show)

    def show(self, reading: Reading) -> None:
        report = self.report = reading.report
        t = report.total
        unpriced = f" (+{count(t.unpriced_requests)} unpriced)" if t.unpriced_requests else ""
        self.query_one("#usage-totals", Static).update(
            f"{count(t.requests)} requests · {count(t.total_tokens)} tokens · "
            f"{money(t.cost_usd)}{unpriced} · {error_split(t)}"
        )
        codes = error_codes(t)
        self.query_one("#usage-codes", Label).update(f"error codes: {codes}" if codes else "")
        r = self.range
        if reading.series:
            buckets = [charts.point_bucket(p) for p in reading.series]
            s = charts.series(buckets, "requests", r.grain)
            self.query_one("#usage-caption", Label).update(s.caption)
            self.query_one("#usage-chart", Sparkline).data = s.values
        else:
            self.query_one("#usage-caption", Label).update("all time: no chart")
            self.query_one("#usage-chart", Sparkline).data = []
        table = self.query_one("#groups", DataTable)
        table.clear()
        largest = max((g.stats.requests for g in report.groups), default=0)
        for g in report.groups:
            s_ = g.stats
            table.add_row(
                f"{g.label} via {', '.join(g.aliases)}" if g.aliases else g.label,
                count(s_.requests),
                f"{count(s_.errors_upstream)} ({percent(s_.upstream_error_rate)})",
                count(s_.errors_policy),
                count(s_.errors_client),
                count(s_.total_tokens),
                money(s_.cost_usd),
                latency(s_.latency_p95_ms),
                charts.bar(s_.requests, largest, 12),
            )

    def on_select_changed(self, event: Select.Changed) -> None:
        self.refresh_data()

    def action_export(self) -> None:
        report = self.report
        if report is None:
            return

        def export(values: dict[str, str]) -> tuple[Path, int]:
            typed = values["path"].strip()
            if not typed:
                raise ValueError("name the file to write")
            path = Path(typed).expanduser()
            try:
                return path, write_csv(path, report)
            except OSError as exc:
                raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from None

        def exported(done: tuple[Path, int] | None) -> None:
            if done is not None:
                self.notify(f"wrote {done[1]} row(s) to {done[0]}")

        default = f"llmgw-usage-by-{self.by}-{self.range.label.replace(' ', '-')}.csv"
        dialog = FormDialog(
            "Export the groups as CSV", [Field("path", "File", default)], "Export", action=export
        )
        self.app.push_screen(dialog, exported)
