"""Rate limits and spend budgets per user and per key: the list; `s` sets (or changes) the selected
subject's limits, or a new subject's; `x` clears them (asks first). A running gateway applies a change
within one poll of the database (about a quarter of a second)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from llmgw.services.limits import LimitRow
from llmgw_tui.formatting import date_time, money
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import ConfirmDialog, Field, FormDialog


def _off(value: object) -> str:
    return "off" if value is None else str(value)


def parse_rate(text: str, name: str) -> int | None:
    """A rate from a form: empty or "off" is no limit."""
    text = text.strip().lower()
    if text in ("", "off"):
        return None
    if not text.isdigit():
        raise ValueError(f"{name}: a whole number, or empty for no limit")
    return int(text)


def parse_budget(text: str) -> float | None:
    text = text.strip().lower().removeprefix("$")
    if text in ("", "off"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError("budget: an amount in USD, or empty for no budget") from None


class LimitsScreen(AdminScreen):
    SUB_TITLE = "Limits"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "set", "Set limits"),
        Binding("delete,x", "clear", "Clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[LimitRow] = []

    def body(self) -> Iterable[Any]:
        yield Static(
            "Requests and tokens per rolling minute, and a spend budget per UTC day or month, of a user "
            "or of one key (a key's own limits apply as well as its owner's).",
            classes="hint",
        )
        table: DataTable[str] = DataTable(id="limits", cursor_type="row", zebra_stripes=True)
        table.add_columns("subject", "kind", "owner", "rpm", "tpm", "budget", "per", "changed (UTC)")
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#limits", DataTable).focus()

    def refresh_data(self) -> None:
        self.call(lambda b: b.limits(), self.show)

    def show(self, rows: list[LimitRow]) -> None:
        self.rows = rows
        table = self.query_one("#limits", DataTable)
        table.clear()
        for r in rows:
            v = r.values
            budget = "off" if v.budget_usd is None else money(v.budget_usd)
            table.add_row(
                r.subject,
                r.scope,
                r.owner,
                _off(v.rpm),
                _off(v.tpm),
                budget,
                v.period,
                date_time(r.updated_at),
            )

    def selected(self) -> LimitRow | None:
        row = self.query_one("#limits", DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def action_set(self) -> None:
        current = self.selected()
        v = current.values if current else None
        fields = [
            Field("subject", "User name, or a key's id (16 hex digits)", current.subject if current else ""),
            Field("rpm", "Requests per minute (empty: no limit)", "" if v is None else _blank(v.rpm)),
            Field("tpm", "Tokens per minute (empty: no limit)", "" if v is None else _blank(v.tpm)),
            Field("budget", "Budget in USD (empty: no budget)", "" if v is None else _blank(v.budget_usd)),
            Field("period", "Budget period: day or month", "month" if v is None else v.period),
        ]

        def apply(values: dict[str, str] | None) -> None:
            if values is None:
                return
            try:
                rpm = parse_rate(values["rpm"], "rpm")
                tpm = parse_rate(values["tpm"], "tpm")
                budget = parse_budget(values["budget"])
            except ValueError as exc:
                self.notify(str(exc), severity="error")
                return
            subject, period = values["subject"].strip(), values["period"].strip().lower()
            self.call(
                lambda b: b.set_limits(subject, rpm, tpm, budget, period), lambda _: self.changed(subject)
            )

        self.app.push_screen(FormDialog("Set limits", fields, "Set"), apply)

    def changed(self, subject: str) -> None:
        self.notify(f"limits of {subject} changed")
        self.refresh_data()

    def action_clear(self) -> None:
        current = self.selected()
        if current is None:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.call(lambda b: b.clear_limits(current.subject), lambda _: self.changed(current.subject))

        self.app.push_screen(ConfirmDialog(f"Clear every limit of {current.subject}?", "Clear"), answer)


def _blank(value: object) -> str:
    return "" if value is None else str(value)
