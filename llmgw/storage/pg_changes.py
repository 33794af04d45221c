"""Other instances' changes, as PostgreSQL announces them: `LISTEN llmgw_changes` on a connection of its
own, in a daemon thread.

pg_schema's triggers `pg_notify('llmgw_changes', <table>)` on every change to users, keys and limits.
Each notification calls `on_change(False)`; so does nothing else, which is why the running gateway still
polls `Store.data_version` as a fallback, less often. A notification sent while this connection was down
is lost, so every (re)connection calls `on_change(True)`: the caller reloads whatever the counter says.
The thread never raises: a lost server is retried every `RETRY` seconds, logged once per outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from llmgw.storage.pg_schema import CHANGES_CHANNEL
from llmgw.storage.postgres import connect, redacted

__all__ = ["ChangeFeed"]

log = logging.getLogger("llmgw")

RETRY = 1.0  # seconds between two connection attempts while the server is away
_WAIT = 0.5  # how long one wait for notifications lasts: the most `stop` waits for the thread


class ChangeFeed:
    """Calls `on_change(reconnected)` from its thread for each notification and after each connection."""

    def __init__(self, url: str, on_change: Callable[[bool], None], connect_timeout: float = 5.0) -> None:
        self._url = url
        self._on_change = on_change
        self._connect_timeout = connect_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llmgw-changes", daemon=True)

    def start(self) -> ChangeFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end (within `_WAIT` seconds) and wait for it a little."""
        self._stop.set()
        self._thread.join(_WAIT * 2)

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                conn = connect(self._url, connect_timeout=self._connect_timeout)
            except psycopg.Error as exc:
                if not failing:
                    log.warning("cannot listen for changes on %s (%s); retrying", redacted(self._url), exc)
                failing = True
                self._stop.wait(RETRY)
                continue
            try:
                conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                if failing:
                    log.info("listening for changes on %s again", redacted(self._url))
                failing = False
                self._on_change(True)  # what was missed while not listening
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=_WAIT):
                        self._on_change(False)
            except psycopg.Error as exc:
                if not failing:
                    log.warning(
                        "lost the change notifications of %s (%s); reconnecting", redacted(self._url), exc
                    )
                failing = True
                self._stop.wait(RETRY)
            finally:
                conn.close()
