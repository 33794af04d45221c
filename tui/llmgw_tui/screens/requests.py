"""The request log (`llmgw.services.request_log`): everyone's requests, newest first, a page at a time,
filtered by user, key, model, status, error kind and time (a period, or a typed UTC from and to; a
typed from wins over the period); one request found by its id (the `x-request-id` clients get) or
opened from its row, with every ledger column; `e` exports the filtered set as CSV (capped, and said
so). Text filters apply on Enter; a bad one is shown above the table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Select

from llmgw.services.request_log import (
    ERROR_KINDS,
    STATUSES,
    CsvExport,
    InvalidFilter,
    LogFilter,
    LogPage,
    LogRow,
    RequestDetail,
)
from llmgw_tui.backend import Backend
from llmgw_tui.formatting import count, latency
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import Field, FormDialog

PERIODS: tuple[tuple[str, int], ...] = (
    ("past hour", 3600),
    ("past day", 86400),
    ("past 7 days", 7 * 86400),
    ("past 30 days", 30 * 86400),
    ("all time", 0),
)
# The most telling first: a narrow terminal shows them without scrolling.
COLUMNS = (
    "time (UTC)",
    "status",
    "error",
    "user",
    "model (upstream)",
    "key",
    "tokens in/out",
    "cost",
    "latency",
    "streamed",
    "endpoint",
    "request id",
)


@dataclass(frozen=True, slots=True)
class Reading:
    page: LogPage | None
    problem: str | None  # a filter the log refused, and why


def read(backend: Backend, f: LogFilter, after: str | None) -> Reading:
    try:
        return Reading(backend.request_log(f, after), None)
    except InvalidFilter as exc:
        return Reading(None, str(exc))


def cost(usd: float | None) -> str:
    return "unknown" if usd is None else f"${usd:.6f}"


def cells(r: LogRow) -> tuple[str, ...]:
    model = r.model_requested or "-"
    if r.model_upstream and r.model_upstream != r.model_requested:
        model += f" ({r.model_upstream})"
    error = f"{r.error_kind + ': ' if r.error_kind else ''}{r.error_type}" if r.error_type else ""
    return (
        datetime.fromtimestamp(r.at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
        str(r.status),
        error,
        r.user,
        model,
        r.key,
        f"{count(r.prompt_tokens)}/{count(r.completion_tokens)}",
        cost(r.cost_usd),
        latency(r.latency_ms),
        "yes" if r.streamed else "no",
        r.endpoint,
        r.request_id,
    )


class RequestDialog(ModalScreen[None]):
    """One request, every ledger column in the ledger's order."""

    DEFAULT_CSS = """
    RequestDialog { align: center middle; }
    RequestDialog > Vertical {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    RequestDialog DataTable { height: auto; max-height: 30; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, detail: RequestDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        r = self.detail.row
        with Vertical():
            yield Label(f"Request {r.request_id}: {r.user}, {r.key}", classes="title")
            table: DataTable[str] = DataTable(id="columns", cursor_type="row", show_header=False)
            table.add_columns("column", "value")
            for name, shown in self.detail.shown():
                table.add_row(name, shown)
            yield table
            yield Label("Esc closes", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)


class RequestsScreen(AdminScreen):
    SUB_TITLE = "Requests"
    DEFAULT_CSS = """
    RequestsScreen .log-bar { height: auto; }
    RequestsScreen .log-bar Input { width: 1fr; }
    RequestsScreen .log-bar Select { width: 1fr; }
    RequestsScreen #log-problem { color: $error; padding: 0 1; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "older", "Older"),
        Binding("b", "newest", "Newest"),
        Binding("e", "export", "Export CSV"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page: LogPage | None = None
        self.cursors: list[str | None] = [None]  # the page shown starts after cursors[-1]

    def body(self) -> Iterable[Any]:
        with Horizontal(classes="log-bar"):
            yield Input(placeholder="user", id="user")
            yield Input(placeholder="key id", id="key")
            yield Input(placeholder="model", id="model")
            yield Input(placeholder="from (UTC)", id="since")
            yield Input(placeholder="to (UTC)", id="until")
        with Horizontal(classes="log-bar"):
            yield Input(placeholder="find req_…", id="find")
            yield Select[str]((("status: " + s, s) for s in STATUSES), prompt="status: any", id="status")
            yield Select[str]((("kind: " + k, k) for k in ERROR_KINDS), prompt="kind: any", id="kind")
            yield Select[int](PERIODS, value=86400, allow_blank=False, id="period")
        yield Label("", id="log-problem")
        table: DataTable[str] = DataTable(id="requests", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Label("", id="log-caption", classes="hint")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#requests", DataTable).focus()

    def log_filter(self) -> LogFilter:
        def text(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value.strip()

        def choice(widget_id: str) -> str:
            value = self.query_one(f"#{widget_id}", Select).value
            return value if isinstance(value, str) else ""

        since = text("since")  # a typed start wins over the period's
        period = self.query_one("#period", Select).value
        if not since and isinstance(period, int) and period:
            since = datetime.fromtimestamp(self.backend.clock() - period, UTC).isoformat(timespec="seconds")
        return LogFilter(
            user=text("user"),
            key=text("key"),
            model=text("model"),
            status=choice("status"),
            error_kind=choice("kind"),
            since=since,
            until=text("until"),
        )

    def refresh_data(self) -> None:
        f, after = self.log_filter(), self.cursors[-1]
        self.call(lambda b: read(b, f, after), self.show)

    def show(self, reading: Reading) -> None:
        self.query_one("#log-problem", Label).update(reading.problem or "")
        table = self.query_one("#requests", DataTable)
        table.clear()
        self.page = reading.page
        if reading.page is None:
            self.query_one("#log-caption", Label).update("")
            return
        for r in reading.page.rows:
            table.add_row(*cells(r), key=r.request_id)
        number = len(self.cursors)
        more = "n: older" if reading.page.next else "no older requests"
        newest = " · b: newest" if number > 1 else ""
        shown = f"page {number} · {len(reading.page.rows)} request(s)"
        self.query_one("#log-caption", Label).update(f"{shown} · {more}{newest} · Enter: a request's columns")

    def restart(self) -> None:
        self.cursors = [None]
        self.refresh_data()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.restart()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "find":
            wanted = event.value.strip()
            if wanted:
                self.open(wanted)
            return
        self.query_one("#requests", DataTable).focus()  # n, b and e work at once
        self.restart()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.open(event.row_key.value)

    def open(self, request_id: str) -> None:
        def shown(detail: RequestDetail) -> None:
            self.query_one("#log-problem", Label).update("")
            self.app.push_screen(RequestDialog(detail))

        self.call(lambda b: b.request(request_id), shown)

    def action_older(self) -> None:
        if self.page is not None and self.page.next:
            self.cursors.append(self.page.next)
            self.refresh_data()

    def action_newest(self) -> None:
        if len(self.cursors) > 1:
            self.restart()

    def action_export(self) -> None:
        f = self.log_filter()

        def written(export: CsvExport, path: Path) -> None:
            note = (
                f" (the cap: only the newest {count(export.rows)}; narrow the filters)"
                if export.capped
                else ""
            )
            self.notify(f"wrote {count(export.rows)} request(s) to {path}{note}")

        def export(values: dict[str, str]) -> tuple[CsvExport, Path]:
            typed = values["path"].strip()
            if not typed:
                raise ValueError("name the file to write")
            path = Path(typed).expanduser()
            try:
                return self.backend.write_request_csv(path, f), path
            except OSError as exc:
                raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from None

        def exported(done: tuple[CsvExport, Path] | None) -> None:
            if done is not None:
                written(*done)

        dialog = FormDialog(
            "Export these requests as CSV",
            [Field("path", "File", "llmgw-requests.csv")],
            "Export",
            action=export,
        )
        self.app.push_screen(dialog, exported)
