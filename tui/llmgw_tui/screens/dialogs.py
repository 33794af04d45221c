"""Modal questions: a confirmation for destructive actions, a small form (masked where it takes a
password or a secret), and the new key's token, shown once with a copy action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Generic, TypeVar, cast, overload

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static
from textual.worker import Worker, WorkerState

from llmgw_tui.problems import from_exception

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 70; max-width: 100%; height: auto; max-height: 100%; overflow-y: auto;
    border: thick $primary; background: $surface; padding: 0 1;
}}
{name} Horizontal {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin: 0 0 0 1; }}
{name} Input {{ margin: 0; }}
"""


class ConfirmDialog(ModalScreen[bool]):
    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmDialog")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal():
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button("No (n)", id="no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    value: str = ""
    secret: bool = False  # a masked input: passwords, provider keys


T = TypeVar("T")


class FormDialog(ModalScreen[T | None], Generic[T]):
    """Fields in order; Enter moves on and submits from the last; Escape cancels (None).

    With an `action` (the use case, given the typed values; it blocks, so it runs in a worker thread)
    the dialog stays open until the action succeeds and is dismissed with its result: a refusal (a bad
    name, a weak password, a duplicate, a value that is not a number) is shown inside the dialog, what
    was typed kept for the admin to correct. Without one, it is dismissed with the typed values."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="FormDialog") + (
        "FormDialog #form-error { color: $error; display: none; height: auto; }\n"
        "FormDialog #form-error.shown { display: block; }\n"
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    @overload
    def __init__(
        self: FormDialog[dict[str, str]], title: str, fields: list[Field], submit: str = "OK"
    ) -> None: ...

    @overload
    def __init__(
        self, title: str, fields: list[Field], submit: str = "OK", *, action: Callable[[dict[str, str]], T]
    ) -> None: ...

    def __init__(
        self,
        title: str,
        fields: list[Field],
        submit: str = "OK",
        *,
        action: Callable[[dict[str, str]], T] | None = None,
    ) -> None:
        super().__init__()
        self.heading = title
        self.fields = fields
        self.submit_label = submit
        self.action = action
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.heading, classes="title")
            for field in self.fields:
                yield Label(field.label)
                yield Input(value=field.value, password=field.secret, id=f"field-{field.name}")
            yield Static("", id="form-error")
            with Horizontal():
                yield Button(self.submit_label, id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#field-{f.name}", Input).value for f in self.fields}

    @property
    def error(self) -> str:
        """The refusal shown in the dialog ("" when none)."""
        shown = self.query_one("#form-error", Static)
        return str(shown.render()) if shown.has_class("shown") else ""

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        at = inputs.index(event.input)
        if at + 1 < len(inputs):
            inputs[at + 1].focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.submit()
        else:
            self.action_cancel()

    def submit(self) -> None:
        if self.action is None:
            self.dismiss(cast("T", self.values()))
        elif not self.busy:
            self.busy = True
            self.query_one("#ok", Button).disabled = True
            self.run_worker(
                partial(self.action, self.values()), thread=True, exit_on_error=False, group="form"
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The action's outcome, once its worker has ended (so closing the dialog cancels nothing)."""
        if event.worker.group != "form":
            return
        if event.state == WorkerState.SUCCESS:
            self.dismiss(cast("T", event.worker.result))
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            # every refusal is shown in the dialog, never as a traceback
            self.refused(error if isinstance(error, Exception) else RuntimeError(str(error)))

    def refused(self, exc: Exception) -> None:
        backend = getattr(self.app, "backend", None)
        problem = from_exception(exc, getattr(backend, "config_hint", ""))
        shown = self.query_one("#form-error", Static)
        shown.update(f"{problem.title}: {problem.detail}")
        shown.add_class("shown")
        self.busy = False
        self.query_one("#ok", Button).disabled = False
        shown.scroll_visible()

    def action_cancel(self) -> None:
        if not self.busy:  # an action under way finishes first: its outcome must be seen
            self.dismiss(None)


class TokenDialog(ModalScreen[None]):
    """A new key's token: shown here once, never again; `c` copies it (OSC 52, where the terminal
    supports it)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="TokenDialog") + "TokenDialog #token { color: $success; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy"),
        Binding("escape,enter", "close", "Close"),
    ]

    def __init__(self, owner: str, token: str) -> None:
        super().__init__()
        self.owner = owner
        self.token = token

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"New key for {self.owner}: copy it now, it is shown only once.", classes="title")
            yield Static(self.token, id="token")
            with Horizontal():
                yield Button("Copy (c)", id="copy", variant="primary")
                yield Button("Close", id="close")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.token)
        self.notify("token copied to the clipboard")

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)
