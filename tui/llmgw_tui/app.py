"""The app: one mode per screen (Dashboard first), each reachable from the command palette (ctrl+p) by
its name and by a digit; a dark/light theme toggle; ctrl+q quits. A problem that stops everything (no
database, a bad configuration) replaces the screens with what to do about it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from llmgw_tui.backend import Backend
from llmgw_tui.problems import Problem, from_exception, no_database
from llmgw_tui.screens.audit import AuditScreen
from llmgw_tui.screens.dashboard import DashboardScreen
from llmgw_tui.screens.keys import KeysScreen
from llmgw_tui.screens.limits import LimitsScreen
from llmgw_tui.screens.problem import ProblemScreen
from llmgw_tui.screens.providers import ProvidersScreen
from llmgw_tui.screens.requests import RequestsScreen
from llmgw_tui.screens.usage import UsageScreen
from llmgw_tui.screens.users import UsersScreen

# (mode, title, what it is for): the order of the digit keys and of the palette.
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("dashboard", "Dashboard", "live charts, today's totals and the newest requests"),
    ("users", "Users", "create, disable, enable, reset passwords, change roles, delete"),
    ("keys", "Keys", "personal API keys per user: create (token shown once) and revoke"),
    ("usage", "Usage", "by user, key, model or provider over a range, with a chart; CSV export"),
    (
        "providers",
        "Providers",
        "configured providers and models; upstream keys and their state on the server",
    ),
    ("limits", "Limits", "rate limits and spend budgets per user and per key"),
    ("audit", "Audit", "the audit log, filterable"),
    ("requests", "Requests", "the request log: filter, find by request id, every column; CSV export"),
)
LIGHT, DARK = "textual-light", "textual-dark"


class AdminApp(App[int]):
    """`llmgw tui`. Give it a Backend (the configuration, loaded) or the problem that prevented one."""

    TITLE = "llmgw admin"
    CSS = """
    .title { text-style: bold; padding: 0 1; }
    .hint { color: $text-muted; padding: 0 1; }
    .problem { border: round $warning; padding: 0 1; margin: 0 1; height: auto; }
    DataTable { height: 1fr; }
    """
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "dashboard": DashboardScreen,
        "users": UsersScreen,
        "keys": KeysScreen,
        "usage": UsageScreen,
        "providers": ProvidersScreen,
        "limits": LimitsScreen,
        "audit": AuditScreen,
        "requests": RequestsScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(i), f"switch_mode('{mode}')", title, show=False)
            for i, (mode, title, _) in enumerate(SCREENS, 1)
        ),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        # Textual's own ctrl+q is hidden from the footer; this one shows it (the footer lists the keys).
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, backend: Backend | None, problem: Problem | None = None, *, live: bool = True) -> None:
        super().__init__()
        self.backend = backend
        self.startup_problem = problem
        self.live = live  # False in tests: no refresh timers, the screen shows one reading

    def on_mount(self) -> None:
        self.theme = DARK
        if self.startup_problem is not None:
            self.push_screen(ProblemScreen(self.startup_problem))
        elif self.backend is not None and not self.backend.database_exists():
            self.push_screen(
                ProblemScreen(no_database(self.backend.database, self.backend.config_hint), can_create=True)
            )
        else:
            self.switch_mode("dashboard")

    @work(thread=True, exit_on_error=False)
    def create_database(self) -> None:
        """Open (create and migrate) the configured database, then show the dashboard."""
        assert self.backend is not None
        try:
            self.backend.store()
        except Exception as exc:  # shown, never a traceback
            self.call_from_thread(
                self.push_screen, ProblemScreen(from_exception(exc, self.backend.config_hint))
            )
            return
        self.call_from_thread(self._after_create)

    def _after_create(self) -> None:
        self.pop_screen()
        self.switch_mode("dashboard")

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        if self.backend is not None and self.startup_problem is None:
            for mode, title, help_ in SCREENS:
                yield SystemCommand(title, help_, lambda m=mode: self.switch_mode(m))
        yield SystemCommand(
            "Toggle dark/light", "switch between the dark and the light theme", self.action_toggle_theme
        )
        yield from super().get_system_commands(screen)

    def on_unmount(self) -> None:
        if self.backend is not None:
            self.backend.close()
