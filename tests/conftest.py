"""Shared fixtures: the fake OpenAI upstream, and a real `llmgw serve` in front of it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess, free_port
from tests.support.platform_limits import apply_limits
from tests.support.postgres import PgServer, running_server

# Fails the run if the test process reads anything beside the checkout (a fresh clone has nothing there).
pytest_plugins = ("tests.support.checkout_guard",)

# The payload helpers assert inside them: keep pytest's detailed assertion messages there too.
pytest.register_assert_rewrite("tests.support.gemini_payloads", "tests.support.openai_anthropic_payloads")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """What cannot run on this OS is skipped with its reason (tests/support/platform_limits.py)."""
    apply_limits(items)


PROXY_KEY = "llmgw-test-proxy-key-0123456789"
UPSTREAM_KEY = "sk-upstream-1"
ALLOW = 'models = ["gpt-4o-mini"]'
KEY_BEHAVIORS = {"sk-key-429": "429:7", "sk-key-401": "401", "sk-key-500": "500"}


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its real parameters is slow on a shared runner: cheaper ones, same code paths.
    A module takes it with `pytestmark = pytest.mark.usefixtures("fast_hashes")`."""
    from argon2 import PasswordHasher

    from llmgw.services import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    passwords._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL cluster per test process (tests/support/postgres.py)."""
    with running_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a storage or service test's store lives, once per engine: a new SQLite file, or a new
    database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "llmgw.db")
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(accepted_keys=(UPSTREAM_KEY,), key_behaviors=KEY_BEHAVIORS) as server:
        yield server


def provider(name: str, base_url: str, extra: str = "", type_: str = "openai-compatible") -> str:
    return f'\n[providers.{name}]\ntype = "{type_}"\nbase_url = "{base_url}"\n{extra}\n'


@pytest.fixture(scope="module")
def gateway(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway per test module, with a provider for every scenario the tests need."""
    url = fake.base_url
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    config = (
        "max_body_bytes = 200000\nretry_deadline = 20\nshutdown_grace = 5\n"
        + provider("up", url)
        # allow-lists keep /v1/models from using (and rotating) these providers' keys
        + provider("rot", url, ALLOW)
        + provider("cool", url, ALLOW)
        + provider("rejected", url, ALLOW)
        + provider("flaky", url, ALLOW)
        + provider("dead", dead, "connect_timeout = 2")
        + provider("slow", url, "first_byte_timeout = 1\nchunk_timeout = 1")
        + provider("listed", url, 'models = ["m1", "m2"]')
        + provider(
            "orouter", url, 'http_referer = "https://example.test"\nx_title = "llmgw tests"', "openrouter"
        )
        + '\n[models]\nfast = "up/gpt-4o-mini"\n'
        + 'resilient = { model = "dead/gpt-4o-mini", fallbacks = ["up/gpt-4o-mini"] }\n'
    )
    env = {
        "LLMGW_PROXY_KEY": PROXY_KEY,
        "LLMGW_UP_API_KEY": UPSTREAM_KEY,
        "LLMGW_ROT_API_KEY": "sk-key-429",
        "LLMGW_ROT_API_KEY_2": UPSTREAM_KEY,
        "LLMGW_COOL_API_KEY": "sk-key-429",
        "LLMGW_REJECTED_API_KEY": "sk-key-401",
        "LLMGW_FLAKY_API_KEY": "sk-key-500",
        "LLMGW_FLAKY_API_KEY_2": UPSTREAM_KEY,
        "LLMGW_DEAD_API_KEY": UPSTREAM_KEY,
        "LLMGW_SLOW_API_KEY": UPSTREAM_KEY,
        "LLMGW_LISTED_API_KEY": UPSTREAM_KEY,
        "LLMGW_ORouter_API_KEY".upper(): UPSTREAM_KEY,
        "DBUS_SESSION_BUS_ADDRESS": "",  # env fallback here; the keyring has its own tests
    }
    with GatewayProcess(tmp_path_factory.mktemp("gw"), config, env) as gw:
        yield gw


def ledger_row(db: Path, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """The ledger row of a request, waiting for the batched writer to flush it."""
    deadline = time.monotonic() + timeout
    while True:
        if db.exists():
            with sqlite3.connect(db) as conn:
                conn.row_factory = sqlite3.Row
                try:
                    found = conn.execute(
                        "SELECT * FROM requests WHERE request_id = ?", (request_id,)
                    ).fetchone()
                except sqlite3.OperationalError:
                    found = None
            if found is not None:
                return dict(found)
        if time.monotonic() > deadline:
            raise AssertionError(f"no ledger row for {request_id}")
        time.sleep(0.05)
