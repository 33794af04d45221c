"""Providers and their upstream keys: the configured (and built-in) providers with their models, the
keys in effect (masked: the OS keyring's, or the environment's), and setting, rotating and deleting a
key in the keyring through a masked input. Each change is audited by name, never by value."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from llmgw.errors import SecretBackendUnavailable
from llmgw.services.credentials import SecretInfo
from llmgw.settings import with_implicit_providers
from llmgw_tui.problems import from_exception
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import ConfirmDialog, Field, FormDialog

KEY_STATE_NOTE = (
    "Key state (cooling, rejected) lives in the running server's memory; it does not publish it yet."
)


class ProvidersScreen(AdminScreen):
    SUB_TITLE = "Providers"
    DEFAULT_CSS = """
    ProvidersScreen #providers { height: 1fr; }
    ProvidersScreen #secrets { height: 1fr; }
    ProvidersScreen #keyring-problem { display: none; }
    ProvidersScreen #keyring-problem.shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "set", "Set key"),
        Binding("r", "rotate", "Rotate"),
        Binding("delete,x", "delete", "Delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[SecretInfo] = []

    def body(self) -> Iterable[Any]:
        providers: DataTable[str] = DataTable(id="providers", cursor_type="row", zebra_stripes=True)
        providers.add_columns("provider", "type", "models", "base URL")
        yield providers
        yield Label("Upstream keys", classes="title")
        yield Static("", id="keyring-problem", classes="problem")
        secrets: DataTable[str] = DataTable(id="secrets", cursor_type="row", zebra_stripes=True)
        secrets.add_columns("name", "source", "value")
        yield secrets
        yield Static(KEY_STATE_NOTE, classes="hint")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#providers", DataTable)
        table.clear()
        config = with_implicit_providers(self.backend.config)
        for name, p in config.providers.items():
            models = ", ".join(p.models) if p.models else "any"
            table.add_row(name, p.type, models, p.base_url or "(built-in)")
        self.query_one("#secrets", DataTable).focus()

    def refresh_data(self) -> None:
        self.call(lambda b: b.secrets(), self.show)

    def failed(self, exc: Exception, quiet: bool) -> None:
        if isinstance(exc, SecretBackendUnavailable):
            problem = from_exception(exc)
            banner = self.query_one("#keyring-problem", Static)
            banner.update(f"{problem.title}: {problem.detail}\n{problem.what_to_do}")
            banner.add_class("shown")
            return
        super().failed(exc, quiet)

    def show(self, secrets: list[SecretInfo]) -> None:
        self.query_one("#keyring-problem", Static).remove_class("shown")
        self.secrets = secrets
        table = self.query_one("#secrets", DataTable)
        table.clear()
        for s in secrets:
            table.add_row(s.name, "OS keyring" if s.source == "keyring" else "environment", s.masked)

    def selected(self) -> SecretInfo | None:
        row = self.query_one("#secrets", DataTable).cursor_row
        return self.secrets[row] if 0 <= row < len(self.secrets) else None

    def changed(self, message: str) -> None:
        self.notify(message)
        self.refresh_data()

    def ask_value(self, name: str | None) -> None:
        fields = [] if name else [Field("name", "Name: PROVIDER, PROVIDER.2 … for more keys, or proxy-key")]
        fields.append(Field("value", "Value (hidden)", secret=True))
        title = f"Rotate {name}: the new value replaces the old" if name else "Set an upstream key"

        def store(values: dict[str, str] | None) -> None:
            if values is None:
                return
            key_name = name or values["name"].strip()
            value = values["value"]
            self.call(
                lambda b: b.set_secret(key_name, value),
                lambda _: self.changed(f"stored {key_name} in the OS keyring"),
            )

        self.app.push_screen(FormDialog(title, fields, "Store"), store)

    def action_set(self) -> None:
        self.ask_value(None)

    def action_rotate(self) -> None:
        secret = self.selected()
        if secret is not None:
            self.ask_value(secret.name)

    def action_delete(self) -> None:
        secret = self.selected()
        if secret is None or secret.source != "keyring":
            if secret is not None:
                self.notify(
                    "that key comes from the environment: unset the variable instead", severity="warning"
                )
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.call(
                    lambda b: b.delete_secret(secret.name), lambda _: self.changed(f"deleted {secret.name}")
                )

        self.app.push_screen(ConfirmDialog(f"Delete {secret.name} from the OS keyring?", "Delete"), answer)
