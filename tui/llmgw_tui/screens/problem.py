"""A problem that stops the app from working (no database, a bad configuration): what happened and
what to do, instead of any screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from llmgw_tui.problems import Problem

if TYPE_CHECKING:
    from llmgw_tui.app import AdminApp


class ProblemScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("c", "create", "Create the database")]

    def __init__(self, problem: Problem, *, can_create: bool = False) -> None:
        super().__init__()
        self.problem = problem
        self.can_create = can_create

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield Static(self.problem.title, classes="title", id="problem-title")
        yield Static(self.problem.detail, classes="problem")
        yield Static(self.problem.what_to_do, classes="hint")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_create if action == "create" else True

    def action_create(self) -> None:
        cast("AdminApp", self.app).create_database()
