"""The audit log, newest first: over a chosen period, filtered by any text of an entry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select

from llmgw.services.audit import AuditEntry
from llmgw_tui.formatting import date_time
from llmgw_tui.screens.base import AdminScreen

PERIODS: tuple[tuple[str, int], ...] = (
    ("last 24 hours", 86400),
    ("last 7 days", 7 * 86400),
    ("last 30 days", 30 * 86400),
    ("all time", 0),
)


def matches(entry: AuditEntry, needle: str) -> bool:
    text = " ".join(
        str(v)
        for v in (
            entry.actor,
            entry.action,
            entry.target,
            entry.target_id,
            entry.detail,
            entry.client_address,
        )
        if v
    )
    return needle.lower() in text.lower()


class AuditScreen(AdminScreen):
    SUB_TITLE = "Audit log"
    DEFAULT_CSS = """
    AuditScreen #audit-bar { height: auto; }
    AuditScreen #period { width: 24; }
    AuditScreen #filter { width: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[AuditEntry] = []
        self.shown: list[AuditEntry] = []

    def body(self) -> Iterable[Any]:
        with Horizontal(id="audit-bar"):
            yield Select[int](PERIODS, value=7 * 86400, allow_blank=False, id="period")
            yield Input(placeholder="filter: actor, action, target, detail", id="filter")
        table: DataTable[str] = DataTable(id="audit", cursor_type="row", zebra_stripes=True)
        table.add_columns("time (UTC)", "actor", "action", "target", "detail")
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#audit", DataTable).focus()

    def refresh_data(self) -> None:
        period = self.query_one("#period", Select).value
        seconds = period if isinstance(period, int) else 0
        since = self.backend.clock() - seconds if seconds else None
        self.call(lambda b: b.audit(since), self.show)

    def show(self, entries: list[AuditEntry]) -> None:
        self.entries = list(reversed(entries))
        self.render_rows()

    def render_rows(self) -> None:
        needle = self.query_one("#filter", Input).value.strip()
        self.shown = [e for e in self.entries if matches(e, needle)]
        table = self.query_one("#audit", DataTable)
        table.clear()
        for e in self.shown:
            table.add_row(date_time(e.at), e.actor, e.action, e.target or e.target_id or "-", e.detail or "")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.render_rows()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.refresh_data()
