"""`llmgw tui`'s entry point (loaded by name from `llmgw.cli.tui`)."""

from __future__ import annotations

from llmgw.errors import ConfigError
from llmgw.services.database import check_known
from llmgw.settings import load
from llmgw_tui.app import AdminApp
from llmgw_tui.backend import Backend
from llmgw_tui.problems import from_exception


def build(config_path: str | None) -> AdminApp:
    """The app on the configuration at `config_path` (or the default one), or on the problem loading it;
    raises DatabaseTooNew for a database a newer llmgw upgraded."""
    try:
        config = load(config_path).config
    except ConfigError as exc:
        return AdminApp(None, from_exception(exc))
    # A database a newer llmgw upgraded: refused before the screen starts (DatabaseTooNew, exit 2).
    check_known(config)
    return AdminApp(Backend(config, config_path=config_path))


def run(config_path: str | None) -> int:
    """Run the app until the user quits; the exit code."""
    app = build(config_path)
    app.run()
    return app.return_code or 0
