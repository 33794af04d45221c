"""Providers and their upstream keys: the configured (and built-in) providers with their models, the
keys in effect (masked: the OS keyring's, or the environment's) with each key's state as the running
server last published it (ok, cooling, rejected: `services/key_states.py`), and setting, rotating and
deleting a key in the keyring through a masked input. Each change is audited by name, never by value.

The server's keys need not be the ones this terminal sees: a server started with its keys in its own
environment (a service's `LLMGW_<PROVIDER>_API_KEY`), or on a machine whose keyring this session cannot
open. Each key the server published that no key seen here matches gets a row of its own, source
"server", with its mask and state; an unreadable keyring is said above the table, and the rest is
still shown."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from llmgw.errors import SecretBackendUnavailable
from llmgw.services.credentials import (
    NOT_PROVIDER_SECRETS,
    SecretInfo,
    parse_secret_name,
    secret_name,
)
from llmgw.services.key_states import KeyStateRow, PublishedStates, match
from llmgw.settings import with_implicit_providers
from llmgw_tui.backend import ProviderKeys
from llmgw_tui.formatting import ago, duration
from llmgw_tui.problems import from_exception
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import ConfirmDialog, Field, FormDialog

NO_STATES = "Server not running, or no key state published yet: `llmgw serve` publishes it every few seconds."
SOURCES = {"keyring": "OS keyring", "env": "environment", "file": "file (LLMGW_*_FILE)"}
SERVER_ONLY = (
    ' "server": a key of the running server that this terminal does not see (its environment, or a '
    "keyring this session cannot open)."
)


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One row of the upstream keys' table."""

    name: str
    source: str
    masked: str
    state: str
    secret: SecretInfo | None  # None: the server's key only


def key_rows(secrets: list[SecretInfo], states: PublishedStates, now: float) -> list[KeyRow]:
    """The keys seen here, each with the state the server published for it, then the published keys
    none of them matches (the server's own: its environment's, say), by provider and slot."""
    live = states.live(now)
    rows: list[KeyRow] = []
    matched: set[tuple[str, int]] = set()
    for s in secrets:
        if s.name in NOT_PROVIDER_SECRETS:
            state = ""  # the gateway's own (the clients' proxy key, the alerts' webhook), not an upstream's
        else:
            provider, slot = parse_secret_name(s.name)
            published = match(states.rows, provider, slot, s.masked)
            if published is not None:
                matched.add((published.provider, published.slot))
            state = state_cell(published, now, live)
        rows.append(KeyRow(s.name, SOURCES[s.source], s.masked, state, s))
    for r in states.rows:
        if (r.provider, r.slot) not in matched:
            name = secret_name(r.provider, r.slot)
            rows.append(KeyRow(name, "server", r.mask, state_cell(r, now, live), None))
    return rows


def state_cell(row: KeyStateRow | None, now: float, live: bool) -> str:
    """One key's state as the server last saw it: ok, cooling (for which models, how much longer, why)
    or rejected (why)."""
    if row is None:
        return "not read by the server yet" if live else "-"
    if row.state == "rejected":
        return f"rejected: {row.reason}" if row.reason else "rejected"
    if row.state == "cooling" and row.cooling_until is not None and row.cooling_until > now:
        scope = "all models" if row.key_wide or not row.cooling_models else ", ".join(row.cooling_models)
        text = f"cooling {duration(row.cooling_until - now)} ({scope})"
        return f"{text}: {row.reason}" if row.reason else text
    return "ok"


def states_note(states: PublishedStates, now: float) -> str:
    """How fresh the states are, or that no server publishes them."""
    age = states.age(now)
    if age is None:
        return NO_STATES
    if states.live(now):
        return f"Key states as the running server last saw them, {ago(age)}."
    return f"Server not running: key states as it last published them, {ago(age)}."


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
        self.rows: list[KeyRow] = []

    def body(self) -> Iterable[Any]:
        providers: DataTable[str] = DataTable(id="providers", cursor_type="row", zebra_stripes=True)
        providers.add_columns("provider", "type", "models", "base URL")
        yield providers
        yield Label("Upstream keys", classes="title")
        yield Static("", id="keyring-problem", classes="problem")
        secrets: DataTable[str] = DataTable(id="secrets", cursor_type="row", zebra_stripes=True)
        secrets.add_columns("name", "source", "value", "server state")
        yield secrets
        yield Static(NO_STATES, id="key-state-note", classes="hint")

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
        self.call(lambda b: b.provider_keys(), self.show)

    def failed(self, exc: Exception, quiet: bool) -> None:
        if isinstance(exc, SecretBackendUnavailable):
            self.keyring_problem(exc)
            return
        super().failed(exc, quiet)

    def keyring_problem(self, exc: SecretBackendUnavailable | None) -> None:
        banner = self.query_one("#keyring-problem", Static)
        if exc is None:
            banner.remove_class("shown")
            return
        problem = from_exception(exc)
        banner.update(f"{problem.title}: {problem.detail}\n{problem.what_to_do}")
        banner.add_class("shown")

    def show(self, found: ProviderKeys) -> None:
        self.keyring_problem(found.keyring_problem)
        now = self.backend.clock()
        self.rows = key_rows(found.secrets, found.states, now)
        table = self.query_one("#secrets", DataTable)
        table.clear()
        for r in self.rows:
            table.add_row(r.name, r.source, r.masked, r.state)
        note = states_note(found.states, now)
        if any(r.secret is None for r in self.rows):
            note += SERVER_ONLY
        self.query_one("#key-state-note", Static).update(note)

    def selected(self) -> KeyRow | None:
        row = self.query_one("#secrets", DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def changed(self, message: str) -> None:
        self.notify(message)
        self.refresh_data()

    def ask_value(self, name: str | None) -> None:
        fields = [] if name else [Field("name", "Name: PROVIDER, PROVIDER.2 … for more keys, or proxy-key")]
        fields.append(Field("value", "Value (hidden)", secret=True))
        title = f"Rotate {name}: the new value replaces the old" if name else "Set an upstream key"

        def store(values: dict[str, str]) -> str:
            key_name = name or values["name"].strip()
            self.backend.set_secret(key_name, values["value"])
            return key_name

        def stored(key_name: str | None) -> None:
            if key_name is not None:
                self.changed(f"stored {key_name} in the OS keyring")

        self.app.push_screen(FormDialog(title, fields, "Store", action=store), stored)

    def action_set(self) -> None:
        self.ask_value(None)

    def action_rotate(self) -> None:
        row = self.selected()
        if row is not None:
            self.ask_value(row.name)  # a server-only key: its value goes in the keyring, which wins

    def action_delete(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.secret is None or row.secret.source != "keyring":
            where = "the server's environment" if row.secret is None else "the environment"
            self.notify(f"that key comes from {where}: unset the variable instead", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.call(lambda b: b.delete_secret(row.name), lambda _: self.changed(f"deleted {row.name}"))

        self.app.push_screen(ConfirmDialog(f"Delete {row.name} from the OS keyring?", "Delete"), answer)
