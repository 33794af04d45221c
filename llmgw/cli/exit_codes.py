"""What a command's failure means to the shell: the one table of exception → exit code and message,
which `main` applies around every command. A command raises; it catches only where an exception means
something else there (`llmgw db check` reports an unreadable database as its finding, `llmgw backup`
says the backup failed, `llmgw secret list` reads no configuration when it is invalid).

Exit codes: 0 done; 1 refused (an account use case said no) or failed (a `llmgw db copy` rolled
back); 2 the setup is wrong (the configuration, no OS keyring, the database in use by another server or
upgraded by a newer llmgw, a `llmgw db copy` target that is not empty, `llmgw run` without a key or with
a gateway URL that is not http(s)); 127 `llmgw run`'s agent not on PATH (the shell's "command not
found"); 130 interrupted (Ctrl-C). `llmgw run` otherwise exits with the agent's own code (it becomes
the agent).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final

from llmgw.errors import (
    AccountError,
    AgentNotFound,
    ConfigError,
    CopyFailed,
    DatabaseInUse,
    DatabaseNotEmpty,
    DatabaseTooNew,
    DatabaseUnreadable,
    LaunchError,
    SecretBackendUnavailable,
)

__all__ = ["EXITS", "HANDLED", "Exit", "exit_code"]


@dataclass(frozen=True, slots=True)
class Exit:
    code: int
    prefix: str | None  # the message on stderr is prefix + the exception's text; None: nothing printed


EXITS: Final[dict[type[BaseException], Exit]] = {
    ConfigError: Exit(2, "llmgw: configuration error:\n"),
    AccountError: Exit(1, "error: "),  # and its subclasses: not found, denied, invalid, a broken rule
    SecretBackendUnavailable: Exit(2, "error: "),
    DatabaseInUse: Exit(2, "llmgw: "),
    DatabaseTooNew: Exit(2, "llmgw: "),
    DatabaseUnreadable: Exit(2, "llmgw: "),
    DatabaseNotEmpty: Exit(2, "llmgw db copy: "),
    CopyFailed: Exit(1, "llmgw db copy: "),
    LaunchError: Exit(2, "llmgw run: "),
    AgentNotFound: Exit(127, "llmgw run: "),
    KeyboardInterrupt: Exit(130, None),
}


HANDLED: Final = tuple(EXITS)  # what `main` catches: every class of the table


def exit_code(exc: BaseException) -> int:
    """Say `exc` on stderr as the row of its nearest class in `EXITS` says, and give that exit code."""
    exit_ = next(EXITS[cls] for cls in type(exc).__mro__ if cls in EXITS)
    if exit_.prefix is not None:
        print(f"{exit_.prefix}{exc}", file=sys.stderr)
    return exit_.code
