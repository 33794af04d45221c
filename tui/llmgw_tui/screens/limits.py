"""Rate limits and spend budgets per user and per key: the list; `s` edits the selected subject's
limits in a pre-filled form, `n` sets a new subject's; `x` clears them (asks first). A form changes
only the fields changed: one left as shown, or emptied, keeps the stored value (another
administrator's change made meanwhile included), `off` removes one, as `llmgw limit set` does. A
running gateway applies a change within one poll of the database (about a quarter of a second)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from llmgw.services import limits
from llmgw.services.limits import LimitUse
from llmgw.services.money import usd_amount
from llmgw_tui.formatting import date_time
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import ConfirmDialog, Field, FormDialog

_KEEP_OR_OFF = "empty: unchanged, off: remove"


def _off(value: object) -> str:
    return "off" if value is None else str(value)


def _blank(value: object) -> str:
    return "" if value is None else str(value)


BAR_CELLS = 10


def used_bar(used: float | None) -> str:
    """` 48% ▇▇▇▇▇░░░░░`: a budget's use as a percentage (first: it stays in sight in a narrow terminal)
    and ten cells; "-" without a budget. Some spend never reads as 0%; past the budget the bar is full
    and the figure says by how much."""
    if used is None:
        return "-"
    filled = math.ceil(min(used, 1.0) * BAR_CELLS) if used > 0 else 0
    return f"{limits.used_percent(used):>5} " + "▇" * filled + "░" * (BAR_CELLS - filled)


def limit_changes(shown: dict[str, str], typed: dict[str, str]) -> dict[str, Any]:
    """`limits.set_limits`' keyword arguments from a limit form: only what differs from what the
    form showed; raises InvalidAccountInput for a value that is not a number."""
    budget = typed["budget"].strip().removeprefix("$")
    period = typed["period"].strip().lower()
    return {
        "rpm": limits.form_field(shown["rpm"], typed["rpm"], int, "rpm"),
        "tpm": limits.form_field(shown["tpm"], typed["tpm"], int, "tpm"),
        "budget_usd": limits.form_field(shown["budget"], budget, float, "budget"),
        "period": period if period and period != shown["period"] else limits.KEEP,
    }


class LimitsScreen(AdminScreen):
    SUB_TITLE = "Limits"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "set", "Edit limits"),
        Binding("n", "new", "New"),
        Binding("delete,x", "clear", "Clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[LimitUse] = []

    def body(self) -> Iterable[Any]:
        yield Static(
            "Requests and tokens per rolling minute, and a spend budget per UTC day or month. A user's "
            "limits bind all their keys; a key's bind that key only (its owner's apply as well). Spent: in "
            "the budget's period (this month's without one); used: of the budget, as a bar.",
            classes="hint",
        )
        table: DataTable[str] = DataTable(id="limits", cursor_type="row", zebra_stripes=True)
        table.add_columns(
            "subject",
            "kind",
            "owner",
            "rpm",
            "tpm",
            "budget",
            "per",
            "spent",
            "left",
            "used",
            "changed (UTC)",
        )
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#limits", DataTable).focus()

    def refresh_data(self) -> None:
        self.call(lambda b: b.limits(), self.show)

    def show(self, rows: list[LimitUse]) -> None:
        self.rows = rows
        table = self.query_one("#limits", DataTable)
        table.clear()
        for r in rows:
            v = r.values
            budget = "off" if v.budget_usd is None else "$" + usd_amount(v.budget_usd)
            left = r.remaining
            table.add_row(
                r.subject,
                r.scope,
                r.owner,
                _off(v.rpm),
                _off(v.tpm),
                budget,
                v.period,
                "$" + usd_amount(r.spent),
                "-" if left is None else "$" + usd_amount(left),
                used_bar(r.used),
                date_time(r.updated_at),
            )

    def selected(self) -> LimitUse | None:
        row = self.query_one("#limits", DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def action_set(self) -> None:
        """Edit the selected subject's limits (a new subject's when none is selected)."""
        current = self.selected()
        if current is None:
            self.action_new()
            return
        v = current.values
        shown = {
            "rpm": _blank(v.rpm),
            "tpm": _blank(v.tpm),
            "budget": _blank(v.budget_usd),
            "period": v.period,
        }
        if current.scope == "user":
            title = f"Limits of user {current.subject}: {limits.BINDS['user']}"
        else:
            title = f"Limits of key {current.subject} of {current.owner}: {limits.BINDS['key']}"
        self._form(title, current.subject, shown, [])

    def action_new(self) -> None:
        shown = {"rpm": "", "tpm": "", "budget": "", "period": ""}
        subject = Field("subject", "User name (this user, all keys), or a key's id (this key only)")
        self._form("Set limits", None, shown, [subject])

    def _form(self, title: str, subject: str | None, shown: dict[str, str], first: list[Field]) -> None:
        fields = [
            *first,
            Field("rpm", f"Requests per minute ({_KEEP_OR_OFF})", shown["rpm"]),
            Field("tpm", f"Tokens per minute ({_KEEP_OR_OFF})", shown["tpm"]),
            Field("budget", f"Budget in USD ({_KEEP_OR_OFF})", shown["budget"]),
            Field("period", "Budget period: day or month (empty: unchanged)", shown["period"]),
        ]

        def apply(values: dict[str, str]) -> str:
            changes = limit_changes(shown, values)  # InvalidAccountInput: shown in the form
            ref = subject if subject is not None else values["subject"].strip()
            self.backend.set_limits(ref, **changes)
            return ref

        def applied(ref: str | None) -> None:
            if ref is not None:
                self.changed(ref)

        self.app.push_screen(FormDialog(title, fields, "Set", action=apply), applied)

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

        self.app.push_screen(
            ConfirmDialog(
                f"Clear every limit of {current.scope} {current.subject} "
                f"({limits.describe(current.values)})?",
                "Clear",
            ),
            answer,
        )
