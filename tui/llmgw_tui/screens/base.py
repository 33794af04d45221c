"""What every screen shares: the header and footer, the backend, and running a use case in a worker
thread with its result (or its problem, as a notification) delivered back on the UI's thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from llmgw_tui.backend import Backend
from llmgw_tui.problems import from_exception

if TYPE_CHECKING:
    from llmgw_tui.app import AdminApp

T = TypeVar("T")


class AdminScreen(Screen[None]):
    """A screen of the app. Subclasses compose `body()` and load their data in `refresh_data()`."""

    SUB_TITLE = ""

    @property
    def admin(self) -> AdminApp:
        return cast("AdminApp", self.app)

    @property
    def backend(self) -> Backend:
        backend = self.admin.backend
        assert backend is not None  # screens run only once the configuration loaded
        return backend

    def compose(self) -> ComposeResult:
        yield Header(icon="")
        yield from self.body()
        yield Footer()

    def body(self) -> Iterable[Any]:
        return ()

    def on_mount(self) -> None:
        self.sub_title = self.SUB_TITLE
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        """Load what the screen shows (through `call`); called on mount and each time it is shown."""

    def call(self, job: Callable[[Backend], T], done: Callable[[T], None], *, quiet: bool = False) -> None:
        """Run `job` in a worker thread, then `done(result)` on the UI's thread; a failure becomes a
        notification saying what to do (`quiet`: not repeated for each tick of a timer)."""
        self._worker(job, done, quiet)

    @work(thread=True, exit_on_error=False, group="backend")
    def _worker(self, job: Callable[[Backend], Any], done: Callable[[Any], None], quiet: bool) -> None:
        try:
            result = job(self.backend)
        except Exception as exc:  # every failure is shown as a problem, never as a traceback
            self.app.call_from_thread(self.failed, exc, quiet)
            return
        self.app.call_from_thread(done, result)

    def failed(self, exc: Exception, quiet: bool) -> None:
        problem = from_exception(exc, self.backend.config_hint)
        if not quiet:
            self.notify(f"{problem.detail}\n{problem.what_to_do}", title=problem.title, severity="error")
