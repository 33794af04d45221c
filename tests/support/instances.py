"""Several real `llmgw serve` processes on one PostgreSQL database, in `users` mode, behind a round-robin
in the test: what the multi-instance process tests (tests/process/test_instances.py) and the budget race
share. Each instance has its own directory (configuration, log); they share one data directory, so their
ledger spools are on "one machine" and a dead instance's spool is replayed by another.

    with Instances(tmp_path, url, provider_toml) as gw:
        token = personal_key(url, "ada")
        r = gw.post("/v1/chat/completions", json=body, token=token)   # the next instance's turn
"""

from __future__ import annotations

import itertools
import signal
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from llmgw.services import keys, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.support.gateway_process import GatewayProcess

__all__ = ["Instances", "ledger_ids", "personal_key", "spool_files"]

PASSWORD = "correct horse battery"


def personal_key(url: str, user: str = "ada") -> str:
    """A new user (if needed) and a personal key of theirs, through the services as the CLI makes them."""
    with Store.open(url) as store:
        if user not in {u.name for u in users.list_users(store, Actor.cli())}:
            users.create_user(store, Actor.cli(), user, PASSWORD)
        return keys.create_key(store, Actor.cli(), user).token


def ledger_ids(url: str) -> list[str]:
    """Every request id in the ledger, sorted."""
    with Store.open(url) as store:
        return sorted(r["request_id"] for r in store.recent_requests(1_000_000))


def spool_files(data_home: Path) -> list[Path]:
    """The ledger spools waiting in the shared data directory (not the refused rows' `.rejected`)."""
    folder = data_home / "llmgw" / "spool"
    return (
        sorted(p for p in folder.glob("*.spool*") if not p.name.endswith(".rejected"))
        if folder.exists()
        else []
    )


class Instances:
    """`count` gateways on the database `url`, each with `config_toml` (its providers, its settings)."""

    def __init__(
        self,
        tmp: Path,
        url: str,
        config_toml: str,
        *,
        count: int = 3,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.url = url
        self.data_home = tmp / "data"
        shared = {
            "LLMGW_DATABASE_URL": url,
            "LLMGW_AUTH_MODE": "users",
            "XDG_DATA_HOME": str(self.data_home),  # the spools' directory, one for all (Linux)
            "DBUS_SESSION_BUS_ADDRESS": "",  # no keyring: keys from the environment
            **(env or {}),
        }
        self.gateways = []
        for i in range(count):
            folder = tmp / f"instance{i}"
            folder.mkdir()
            self.gateways.append(GatewayProcess(folder, config_toml, shared, args))
        self._turn = itertools.cycle(range(count))

    def start(self) -> Instances:
        for gw in self.gateways:
            gw.start()
        return self

    def next_url(self) -> str:
        """The next instance's base URL, round-robin."""
        return self.gateways[next(self._turn)].base_url

    def post(self, path: str, *, token: str, timeout: float = 30, **kwargs: Any) -> httpx.Response:
        """One request to the next instance, on a connection of its own."""
        headers = {"authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return httpx.post(self.next_url() + path, headers=headers, timeout=timeout, **kwargs)

    def kill(self, index: int) -> None:
        """SIGKILL one instance: no shutdown, nothing flushed."""
        self.gateways[index].stop(signal.SIGKILL)

    def stop(self) -> list[int]:
        """SIGTERM every instance still running (their ledgers flushed); their exit codes."""
        return [gw.stop() for gw in self.gateways if gw.proc is not None]

    def logs(self) -> str:
        return "\n".join(f"--- instance {i}\n{gw.log()}" for i, gw in enumerate(self.gateways))

    def wait_for_no_spool(self, timeout: float = 30.0) -> None:
        """Until every spool in the shared directory has been replayed (a bound on a hang, not a timing)."""
        deadline = time.monotonic() + timeout
        while spool_files(self.data_home):
            if time.monotonic() > deadline:
                raise AssertionError(f"spools left: {spool_files(self.data_home)}\n{self.logs()}")
            time.sleep(0.1)

    def __enter__(self) -> Instances:
        try:
            return self.start()
        except BaseException:
            for gw in self.gateways:
                if gw.proc is not None:
                    gw.stop()
            raise

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
