"""Personal API keys, per user: create (the token shown once, with a copy action; its models optional),
the models a key may call, and revoke. A running gateway sees a change within a quarter of a second (its
key index polls the database's data_version)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Select

from llmgw.errors import InvalidAccountInput
from llmgw.services.keys import Key, NewKey
from llmgw.services.model_access import AccessChange
from llmgw.services.users import User
from llmgw_tui.formatting import date_time
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import ConfirmDialog, Field, FormDialog, TokenDialog
from llmgw_tui.screens.users import MODELS_LABEL, said

EVERYONE = ""


class KeysScreen(AdminScreen):
    SUB_TITLE = "Keys"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New key"),
        Binding("delete,x", "revoke", "Revoke"),
        Binding("m", "models", "Models"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[Key] = []
        self.owners: list[str] = []

    def body(self) -> Iterable[Any]:
        yield Select[str]([("all users", EVERYONE)], value=EVERYONE, allow_blank=False, id="owner")
        table: DataTable[str] = DataTable(id="keys", cursor_type="row", zebra_stripes=True)
        table.add_columns("id", "name", "owner", "state", "created (UTC)", "last used", "expires", "models")
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#keys", DataTable).focus()

    @property
    def owner(self) -> str | None:
        value = self.query_one("#owner", Select).value
        return value if isinstance(value, str) and value != EVERYONE else None

    def refresh_data(self) -> None:
        owner = self.owner
        self.call(lambda b: (b.users(), b.keys(owner)), self.show)

    def show(self, found: tuple[list[User], list[Key]]) -> None:
        people, keys = found
        names = [u.name for u in people]
        if names != self.owners:
            self.owners = names
            select = self.query_one("#owner", Select)
            current = select.value
            with self.prevent(Select.Changed):
                select.set_options([("all users", EVERYONE), *((n, n) for n in names)])
                select.value = current if current in names else EVERYONE
        self.shown = keys
        table = self.query_one("#keys", DataTable)
        row = table.cursor_row
        table.clear()
        for k in keys:
            table.add_row(
                k.public_id,
                k.name,
                k.owner,
                k.state,
                date_time(k.created_at),
                date_time(k.last_used_at),
                date_time(k.expires_at),
                "any" if k.model_access is None else " ".join(k.model_access),
            )
        if keys:
            table.move_cursor(row=min(row, len(keys) - 1))

    def on_select_changed(self, event: Select.Changed) -> None:
        self.refresh_data()

    def selected(self) -> Key | None:
        row = self.query_one("#keys", DataTable).cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def action_new(self) -> None:
        fields = [
            Field("owner", "Owner (a user name)", self.owner or ""),
            Field("name", "Key name", "default"),
            Field("expires", "Expires after how many days (empty: never)"),
            Field("models", "Only these models, space-separated (empty: any its owner may)"),
        ]

        def create(values: dict[str, str]) -> NewKey:
            days = values["expires"].strip()
            if days and not days.isdigit():
                raise InvalidAccountInput("the expiry is a number of days")
            models = values["models"].replace(",", " ").split()
            return self.backend.create_key(
                values["owner"].strip(), values["name"].strip() or None, int(days or 0), models
            )

        def created(new: NewKey | None) -> None:
            if new is not None:
                self.created(new)

        self.app.push_screen(FormDialog("New key", fields, "Create", action=create), created)

    def created(self, new: NewKey) -> None:
        self.refresh_data()
        self.app.push_screen(TokenDialog(new.key.owner, new.token))

    def action_models(self) -> None:
        """The models the key may call (its owner's list binds it too): patterns, empty for any."""
        key = self.selected()
        if key is None:
            return
        fields = [Field("patterns", MODELS_LABEL, " ".join(key.model_access or ()))]

        def save(values: dict[str, str]) -> AccessChange:
            return self.backend.set_model_access(key.public_id, values["patterns"].replace(",", " ").split())

        def saved(change: AccessChange | None) -> None:
            if change is not None:
                self.notify(said(change))
                self.refresh_data()

        dialog = FormDialog(f"Models key {key.public_id} may call", fields, "Save", action=save)
        self.app.push_screen(dialog, saved)

    def action_revoke(self) -> None:
        key = self.selected()
        if key is None or key.state == "revoked":
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.call(lambda b: b.revoke_key(key.public_id), lambda c: self.revoked(c.key))

        question = (
            f"Revoke key {key.public_id} ({key.name}) of {key.owner}? Clients using it are refused at once."
        )
        self.app.push_screen(ConfirmDialog(question, "Revoke"), answer)

    def revoked(self, key: Key) -> None:
        self.notify(f"revoked {key.public_id}")
        self.refresh_data()
