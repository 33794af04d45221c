"""What importing a part of llmgw loads, checked at run time in a fresh interpreter (the static
boundaries are import-linter contracts in pyproject.toml, run by scripts/check)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils

from llmgw.storage import Store, schema
from llmgw.storage.migrations import migrations
from tests.support.gateway_process import free_port

HEAVY = ("keyring", "secretstorage", "jeepney", "textual", "tui", "llmgw_tui", "llmgw.services.credentials")


def loaded_after(*modules: str) -> list[str]:
    """Every module loaded after importing `modules` (a package: with all its submodules)."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    m = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(getattr(m, '__path__', []), name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return list(json.loads(out))


def heavy(loaded: list[str]) -> list[str]:
    return [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_the_hot_path_loads_no_keyring_and_no_textual() -> None:
    loaded = loaded_after("llmgw.server", "llmgw.relay.handler")
    assert "llmgw.relay.forward" in loaded  # the check looked at the real hot path
    assert "llmgw.server.listeners" in loaded  # and at what `llmgw serve` starts
    assert heavy(loaded) == []


def test_the_relay_loads_no_portal_and_no_jinja2() -> None:
    """The server package mounts the portal; the relay alone never brings it (or Jinja2) in."""
    loaded = loaded_after("llmgw.relay")
    assert "llmgw.relay.handler" in loaded
    assert [m for m in loaded if m.split(".")[0] == "jinja2" or m.startswith("llmgw.portal")] == []


@pytest.mark.parametrize("package", ["llmgw.translate", "llmgw.providers"])
def test_pure_packages_load_no_http_and_no_sql(package: str) -> None:
    loaded = loaded_after(package)
    assert f"{package}.{'usage' if package.endswith('translate') else 'gemini'}" in loaded
    assert [m for m in loaded if m.split(".")[0] in {"httpx", "starlette", "sqlite3", "sqlite_utils"}] == []


def test_the_cli_loads_no_textual() -> None:
    loaded = loaded_after("llmgw.cli")
    assert "llmgw.cli.serve" in loaded
    assert [m for m in loaded if m.split(".")[0] in {"textual", "tui", "llmgw_tui"}] == []


def test_the_terminal_admin_does_load_textual() -> None:
    """The other side of the checks above: loading `llmgw tui`'s package does bring Textual in, so
    their finding none is not a blind spot (the package is in tui/, imported as llmgw_tui)."""
    root = Path(__file__).resolve().parents[2]
    code = (
        "import importlib, json, sys\n"
        "importlib.import_module('llmgw_tui.main')\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "tui"), str(root)])}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    loaded = json.loads(out.stdout)
    assert "textual.app" in loaded
    assert "llmgw.cli" not in loaded  # the TUI calls the services, not the command line


def test_errors_and_wire_import_nothing_of_the_server() -> None:
    # The pure translators and providers import them: they must not pull in the relay or I/O.
    loaded = loaded_after("llmgw.errors", "llmgw.wire")
    assert "llmgw.wire.upstream_errors" in loaded  # the check looked at the wire package
    assert [
        m
        for m in loaded
        if m.split(".")[0] in ("httpx", "starlette", "sqlite3", "keyring")
        or m.startswith(("llmgw.relay", "llmgw.storage", "llmgw.services", "llmgw.cli"))
    ] == []


# What an account listing must never load: the server, the portal, the HTTP stack, the keyring, the
# password hasher, the tokenizer, Textual; nor the configuration's models (pydantic: it reads only the
# database's location) or sqlite-utils (an up-to-date file is read with sqlite3 alone). Each is import
# time a user waits for (scripts/bench-cli).
NOT_FOR_A_LISTING = (
    "pydantic",
    "pydantic_core",
    "sqlite_utils",
    "click",
    "pluggy",
    "dateutil",
    "subprocess",
    "llmgw.settings.config",
    "llmgw.settings.loader",
    "llmgw.settings.server",
    "llmgw.storage.migrations",
    "llmgw.storage.writer",
    "llmgw.storage.response_writer",
    "llmgw.storage.spool",
    "aiohttp",
    "argon2",
    "asyncio",
    "httpx",
    "hypercorn",
    "jinja2",
    "keyring",
    "prometheus_client",
    "starlette",
    "textual",
    "tiktoken",
    "llmgw_tui",
    "llmgw.server",
    "llmgw.relay",
    "llmgw.portal",
    "llmgw.services.credentials",
    "llmgw.services.passwords",
)


def loaded_by_command(*argv: str, config: Path) -> list[str]:
    """Every module loaded once `llmgw ARGV --config CONFIG` has run, in a fresh interpreter."""
    code = (
        "import contextlib, io, json, sys\n"
        "from llmgw.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({[*argv, '--config', str(config)]!r})\n"
        "assert code == 0, code\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("command", [("user", "list"), ("key", "list"), ("limit", "list")])
def test_an_account_listing_loads_only_what_it_needs(tmp_path: Path, command: tuple[str, ...]) -> None:
    config = tmp_path / "llmgw.toml"
    config.write_text(f"[server]\ndatabase = '{tmp_path / 'llmgw.db'}'\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
    for setup in (["user", "add", "ada", "--password-stdin"], ["key", "create", "ada"]):
        subprocess.run(
            [sys.executable, "-m", "llmgw", *setup, "--config", str(config)],
            input="a long enough password\n",
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
    loaded = loaded_by_command(*command, config=config)
    assert f"llmgw.cli.{ {'user': 'users', 'key': 'keys', 'limit': 'limits'}[command[0]] }" in loaded
    assert "llmgw.storage.accounts" in loaded  # it did read the database
    assert "llmgw.settings.locations" in loaded  # found by the configuration
    found = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in NOT_FOR_A_LISTING)]
    assert found == []
    others = {"serve", "healthcheck", "config", "secret", "usage", "access", "audit", "db", "tui", "run"}
    assert [m for m in loaded if m.startswith("llmgw.cli.") and m.split(".")[2] in others] == []


def test_the_health_check_loads_no_server_keyring_or_http_stack(tmp_path: Path) -> None:
    """A container runs `llmgw healthcheck` every 30 s: it reads the configuration and makes one request."""
    config = tmp_path / "llmgw.toml"
    config.write_text(f"[server]\nport = {free_port()}\n", encoding="utf-8")  # nothing listens there
    code = (
        "import contextlib, io, json, sys\n"
        "from llmgw.cli import main\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        f"    code = main(['healthcheck', '--config', {str(config)!r}])\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    found = json.loads(out.stdout)
    assert found["code"] == 1  # it did ask, and nothing answered
    heavy = ("httpx", "aiohttp", "asyncio", "keyring", "starlette", "hypercorn", "sqlite_utils", "argon2")
    heavy += ("sqlite3", "llmgw.server", "llmgw.relay", "llmgw.portal", "llmgw.services.credentials")
    assert [m for m in found["modules"] if any(m == h or m.startswith(h + ".") for h in heavy)] == []


def run_alone(code: str) -> dict[str, object]:
    """What `code` printed as JSON, run in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_an_up_to_date_file_opens_without_sqlite_utils_and_still_writes(tmp_path: Path) -> None:
    path = tmp_path / "llmgw.db"
    Store.open(path).close()  # created and migrated
    found = run_alone(
        "import json, sys\n"
        "from llmgw.storage import Store\n"
        f"store = Store.open({str(path)!r})\n"
        "with store.accounts(write=False) as accounts:\n"
        "    users = accounts.users()\n"
        "opened = 'sqlite_utils' in sys.modules\n"
        "store.add_auth_failures('run-1', [(1, 2)])\n"  # a method on sqlite-utils' wrapper
        "count = store.auth_failure_count()\n"
        "store.close()\n"
        "print(json.dumps({'opened': opened, 'users': len(users), 'count': count,\n"
        "                  'later': 'sqlite_utils' in sys.modules}))\n"
    )
    assert found == {"opened": False, "users": 0, "count": 2, "later": True}


def test_a_file_with_a_step_pending_loads_the_migrations(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn:
        migrations.apply(sqlite_utils.Database(conn), stop_before=schema.MIGRATION_NAMES[-1])
    found = run_alone(
        "import json, sys\n"
        "from llmgw.storage import Store\n"
        f"Store.open({str(path)!r}).close()\n"
        "print(json.dumps({'migrations': 'llmgw.storage.migrations' in sys.modules}))\n"
    )
    assert found == {"migrations": True}
