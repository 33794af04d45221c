"""Users: the list with a search; create, disable / enable, reset a password, change the role, allow
or refuse creating their own keys, the models they may call, delete (disabling and deleting ask
first)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input

from llmgw.errors import InvalidAccountInput
from llmgw.services.model_access import AccessChange
from llmgw.services.users import Role, User
from llmgw_tui.formatting import date_time
from llmgw_tui.screens.base import AdminScreen
from llmgw_tui.screens.dialogs import ConfirmDialog, Field, FormDialog

MODELS_LABEL = "Allowed models, space-separated: provider/model, alias, openai/* (empty: any)"


def said(change: AccessChange) -> str:
    """A model access change in one line, for a notification."""
    a = change.access
    who = a.subject if a.scope == "user" else f"key {a.subject}"
    if not change.changed:
        return f"{who}: unchanged"
    return f"{who} may call: {a.shown}"


class UsersScreen(AdminScreen):
    SUB_TITLE = "Users"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New"),
        Binding("e", "toggle_enabled", "Disable/enable"),
        Binding("p", "password", "Reset password"),
        Binding("r", "role", "Admin/user"),
        Binding("delete,x", "delete", "Delete"),
        Binding("k", "key_creation", "Own keys"),  # after Delete: a narrow footer keeps Delete
        Binding("m", "models", "Models"),
        Binding("slash", "search", "Search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.all_users: list[User] = []
        self.shown: list[User] = []

    def body(self) -> Iterable[Any]:
        yield Input(placeholder="search users (/)", id="search")
        table: DataTable[str] = DataTable(id="users", cursor_type="row", zebra_stripes=True)
        table.add_columns("name", "role", "state", "keys", "own keys", "created (UTC)", "models")
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#users", DataTable).focus()

    def refresh_data(self) -> None:
        self.call(lambda b: b.users(), self.show)

    def show(self, found: list[User]) -> None:
        self.all_users = found
        self.render_rows()

    def render_rows(self) -> None:
        needle = self.query_one("#search", Input).value.strip().lower()
        self.shown = [u for u in self.all_users if needle in u.name.lower()]
        table = self.query_one("#users", DataTable)
        row = table.cursor_row
        table.clear()
        for u in self.shown:
            own_keys = "on" if u.may_create_keys else "off"
            models = "any" if u.model_access is None else " ".join(u.model_access)
            table.add_row(u.name, u.role, u.state, str(u.keys), own_keys, date_time(u.created_at), models)
        if self.shown:
            table.move_cursor(row=min(row, len(self.shown) - 1))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.render_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#users", DataTable).focus()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def selected(self) -> User | None:
        row = self.query_one("#users", DataTable).cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def done(self, message: str) -> None:
        self.notify(message)
        self.refresh_data()

    def action_new(self) -> None:
        fields = [
            Field("name", "Name"),
            Field("password", "Password (12 characters or more)", secret=True),
            Field("role", "Role: user or admin", "user"),
        ]

        def create(values: dict[str, str]) -> User:
            typed = values["role"].strip().lower() or "user"
            if typed not in ("user", "admin"):
                raise InvalidAccountInput(f"the role is user or admin, not {values['role'].strip()!r}")
            role: Role = "admin" if typed == "admin" else "user"
            return self.backend.create_user(values["name"].strip(), values["password"], role)

        def created(user: User | None) -> None:
            if user is not None:
                self.done(f"created {user.name} ({user.role})")

        self.app.push_screen(FormDialog("New user", fields, "Create", action=create), created)

    def action_toggle_enabled(self) -> None:
        user = self.selected()
        if user is None:
            return
        if user.disabled:
            self.call(
                lambda b: b.set_disabled(user.name, False), lambda c: self.done(f"enabled {c.user.name}")
            )
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.call(
                    lambda b: b.set_disabled(user.name, True), lambda c: self.done(f"disabled {c.user.name}")
                )

        question = f"Disable {user.name}? Their keys stop working and their portal sessions end."
        self.app.push_screen(ConfirmDialog(question, "Disable"), answer)

    def action_password(self) -> None:
        user = self.selected()
        if user is None:
            return

        def reset(values: dict[str, str]) -> User:
            return self.backend.reset_password(user.name, values["password"])

        def done(changed: User | None) -> None:
            if changed is not None:
                self.done(f"password of {changed.name} set; their portal sessions ended")

        field = Field("password", "New password (12 characters or more)", secret=True)
        dialog = FormDialog(f"Reset the password of {user.name}", [field], "Set", action=reset)
        self.app.push_screen(dialog, done)

    def action_role(self) -> None:
        user = self.selected()
        if user is None:
            return
        role: Role = "user" if user.role == "admin" else "admin"

        def answer(yes: bool | None) -> None:
            if yes:
                self.call(
                    lambda b: b.set_role(user.name, role), lambda c: self.done(f"{c.user.name} is now {role}")
                )

        self.app.push_screen(
            ConfirmDialog(f"Make {user.name} {'an' if role == 'admin' else 'a'} {role}?", "Change"), answer
        )

    def action_key_creation(self) -> None:
        """Flip whether the user may create their own keys (administrators, this one included, still
        can for them; their existing keys keep working)."""
        user = self.selected()
        if user is None:
            return
        allowed = not user.may_create_keys
        said = "may create their own keys again" if allowed else "may no longer create their own keys"
        self.call(
            lambda b: b.set_key_creation(user.name, allowed), lambda c: self.done(f"{c.user.name} {said}")
        )

    def action_models(self) -> None:
        """The models the user, with every key of theirs, may call: patterns, empty for any."""
        user = self.selected()
        if user is None:
            return
        shown = " ".join(user.model_access or ())
        fields = [Field("patterns", MODELS_LABEL, shown)]

        def save(values: dict[str, str]) -> AccessChange:
            return self.backend.set_model_access(user.name, values["patterns"].replace(",", " ").split())

        def saved(change: AccessChange | None) -> None:
            if change is not None:
                self.done(said(change))

        self.app.push_screen(FormDialog(f"Models {user.name} may call", fields, "Save", action=save), saved)

    def action_delete(self) -> None:
        user = self.selected()
        if user is None:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.call(
                    lambda b: b.delete_user(user.name),
                    lambda d: self.done(f"deleted {d.name} and their {d.keys} key(s)"),
                )

        question = f"Delete {user.name} and their {user.keys} key(s)? This cannot be undone."
        self.app.push_screen(ConfirmDialog(question, "Delete"), answer)
