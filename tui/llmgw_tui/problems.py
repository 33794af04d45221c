"""What can stop the terminal admin, said as a person needs it: what happened and what to do. Never a
traceback on the screen."""

from __future__ import annotations

from dataclasses import dataclass

from llmgw.errors import AccountError, ConfigError, DatabaseUnreadable, SecretBackendUnavailable


@dataclass(frozen=True, slots=True)
class Problem:
    title: str
    detail: str
    what_to_do: str


def no_database(path: str, config_hint: str) -> Problem:
    return Problem(
        "No database yet",
        f"There is no llmgw database at {path}.",
        f"Start the gateway once (llmgw serve{config_hint}), or create the first administrator "
        f"(llmgw user add NAME --admin{config_hint}); or press c here to create it now.",
    )


def no_admin(config_hint: str) -> Problem:
    return Problem(
        "No administrator yet",
        "Nobody can log in to the web portal as an administrator.",
        f"Create one on the Users screen (n, then make them an admin with r), or run "
        f"llmgw user add NAME --admin{config_hint}.",
    )


def from_exception(exc: BaseException, config_hint: str = "") -> Problem:
    """The problem an exception from a use case stands for."""
    if isinstance(exc, ConfigError):
        return Problem(
            "Configuration error", str(exc), "Fix the configuration file, then start llmgw tui again."
        )
    if isinstance(exc, SecretBackendUnavailable):
        return Problem(
            "OS keyring unavailable",
            exc.reason,
            "Provider secrets live in the OS keyring: start a Secret Service (e.g. gnome-keyring) in this "
            "session, or give the gateway its keys in LLMGW_<PROVIDER>_API_KEY variables.",
        )
    if isinstance(exc, DatabaseUnreadable):  # its message names the database, a URL without its password
        return Problem(
            "Database unavailable",
            str(exc),
            f"Check the database setting (a file, or a server that is up) (llmgw db check{config_hint}).",
        )
    if isinstance(exc, AccountError | ValueError):  # ValueError: the secrets' checks (a bad name)
        return Problem("Refused", str(exc), "Nothing was changed.")
    message = str(exc)
    # sqlite3's errors arrive here by message: this package never imports sqlite3 (it holds no SQL).
    if "database is locked" in message or "database is busy" in message:
        return Problem(
            "Database busy",
            "Another process held the database's write lock for longer than the wait allows.",
            "Try again in a moment; if it persists, look for a stuck llmgw or sqlite3 process.",
        )
    if "unable to open database" in message or isinstance(exc, PermissionError):
        return Problem(
            "Database unreadable",
            message,
            f"Check the path and its permissions (llmgw config check{config_hint} shows the path).",
        )
    return Problem(
        "Unexpected error", f"{type(exc).__name__}: {message}", "Try again; if it persists, report it."
    )
