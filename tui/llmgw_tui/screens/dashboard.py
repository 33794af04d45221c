"""The first screen: live charts of requests, tokens, cost and error rate (the last hour per minute,
or the last day per hour: `d`), today's totals, and the newest requests.

Every second it reads little: the last two minutes' buckets (a short range of the ledger's `created_at`
index) and the newest 15 rows; every 10 s the whole hour per minute again, today's totals and the day's
chart, these two from the hourly rollups (a few rows, whatever the traffic). scripts/bench-tui measures
it. Reads never wait for the server's writes (WAL) and take no lock the
server waits on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Label, Sparkline, Static

from llmgw.services.usage import ActivityBucket, LiveRequest, UsageStats
from llmgw_tui import charts
from llmgw_tui.backend import Backend
from llmgw_tui.formatting import clock_time, count, error_split, latency, money
from llmgw_tui.layout import chart_layout
from llmgw_tui.problems import no_admin
from llmgw_tui.screens.base import AdminScreen

TAIL_ROWS = 15
SLOW_EVERY = 10  # ticks between reads of today's totals and the day's chart


@dataclass(frozen=True, slots=True)
class Reading:
    """What one tick read."""

    hour: list[ActivityBucket]  # the whole hour, or (`partial`) its last two minutes
    partial: bool
    tail: list[LiveRequest]
    today: UsageStats | None  # None: not read this tick
    day: list[ActivityBucket] | None
    has_admin: bool | None


def read(backend: Backend, slow: bool) -> Reading:
    if not slow:
        return Reading(backend.activity(2, 60), True, backend.live_tail(TAIL_ROWS), None, None, None)
    now = backend.clock()
    midnight = now // 86400 * 86400
    return Reading(
        backend.activity(60, 60),
        False,
        backend.live_tail(TAIL_ROWS),
        backend.report(midnight, None).total,
        [charts.point_bucket(p) for p in backend.series(now - 23 * 3600, "hour")],
        backend.has_active_admin(),
    )


class DashboardScreen(AdminScreen):
    SUB_TITLE = "Dashboard"
    DEFAULT_CSS = """
    DashboardScreen #charts { grid-size: 2 2; height: 6; grid-gutter: 0 2; padding: 0 1; }
    DashboardScreen .chart { height: 3; }
    DashboardScreen .chart Label { color: $text-muted; }
    DashboardScreen Sparkline { height: 2; }
    DashboardScreen #totals { padding: 0 1; height: 2; }
    DashboardScreen #admin-problem { display: none; }
    DashboardScreen #admin-problem.shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("d", "toggle_range", "Hour/day")]

    def __init__(self) -> None:
        super().__init__()
        self.range = "hour"
        self._ticks = 0
        self._busy = False
        self._day: list[ActivityBucket] = []
        self._hour: list[ActivityBucket] = []

    def body(self) -> Iterable[Any]:
        yield Static("", id="admin-problem", classes="problem")
        yield Static("", id="totals")
        with Grid(id="charts"):
            for metric in charts.METRICS:
                with Vertical(classes="chart"):
                    yield Label("", id=f"caption-{metric}")
                    yield Sparkline([], id=f"chart-{metric}")
        yield Label("Newest requests", classes="title")
        table: DataTable[str] = DataTable(id="tail", cursor_type="row", zebra_stripes=True)
        table.add_columns(
            "time", "user", "model", "status", "error", "tokens", "latency", "key", "request id"
        )
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.lay_out(self.app.size.width, self.app.size.height)
        if self.admin.live:
            self.set_interval(1.0, self.refresh_data)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.lay_out(self.app.size.width, self.app.size.height)  # resized while another screen showed

    def on_resize(self, event: events.Resize) -> None:
        self.lay_out(event.size.width, event.size.height)

    def lay_out(self, width: int, height: int) -> None:
        """The charts sized from the terminal's size (`layout.chart_layout`): taller and, on a very
        wide terminal, side by side; again on every resize."""
        layout = chart_layout(width, height, len(charts.METRICS))
        grid = self.query_one("#charts", Grid)
        grid.styles.grid_size_columns = layout.columns
        grid.styles.grid_size_rows = layout.rows
        grid.styles.height = layout.height
        for chart in self.query(".chart"):
            chart.styles.height = layout.chart_height
        for line in self.query(Sparkline):
            line.styles.height = layout.bars_height

    def refresh_data(self) -> None:
        if self._busy:  # the last read is still running: skip a tick rather than queue reads
            return
        self._busy = True
        slow = self._ticks % SLOW_EVERY == 0
        self._ticks += 1
        self.call(lambda b: read(b, slow), self.show, quiet=self._ticks > 1)

    def failed(self, exc: Exception, quiet: bool) -> None:
        self._busy = False
        super().failed(exc, quiet)

    def show(self, reading: Reading) -> None:
        self._busy = False
        self._hour = charts.merge(self._hour, reading.hour, 60) if reading.partial else reading.hour
        if reading.day is not None:
            self._day = reading.day
        if reading.today is not None:
            t = reading.today
            self.query_one("#totals", Static).update(
                f"Today (UTC): {count(t.requests)} requests · {count(t.total_tokens)} tokens · "
                f"{money(t.cost_usd)} · {error_split(t)}"
            )
        if reading.has_admin is not None:
            banner = self.query_one("#admin-problem", Static)
            problem = no_admin(self.backend.config_hint)
            banner.update(f"{problem.title}: {problem.what_to_do}")
            banner.set_class(not reading.has_admin, "shown")
        self.draw_charts()
        table = self.query_one("#tail", DataTable)
        table.clear()
        for r in reading.tail:
            table.add_row(
                clock_time(r.at),
                r.user or "(proxy key)",
                r.model or "-",
                str(r.status),
                r.error_code or "",
                count(r.tokens),
                latency(r.latency_ms),
                r.key or "-",
                r.request_id,
            )

    def draw_charts(self) -> None:
        buckets, per = (self._hour, "min") if self.range == "hour" else (self._day, "hour")
        for metric in charts.METRICS:
            s = charts.series(buckets, metric, per)
            self.query_one(f"#chart-{metric}", Sparkline).data = s.values
            self.query_one(f"#caption-{metric}", Label).update(s.caption)

    def action_toggle_range(self) -> None:
        self.range = "day" if self.range == "hour" else "hour"
        self.draw_charts()
