"""`llmgw user …`, `llmgw key …`, `llmgw audit` as an administrator scripts them: subprocesses, a real
database file, exit codes, JSON shapes; and the same commands while a real `llmgw serve` runs."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmgw import cli
from tests.conftest import PROXY_KEY, UPSTREAM_KEY, ledger_row, provider
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

PW = "correct horse battery"
TOKEN = re.compile(r"llmgw-([0-9a-f]{16})-([A-Za-z0-9_-]{43})\n")


class Cli:
    """`llmgw` in a subprocess on one config file (through $LLMGW_CONFIG or --config)."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def __call__(
        self, *args: str, stdin: str | None = None, via_env: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMGW_")}
        env.update(LOGNAME="tester", DBUS_SESSION_BUS_ADDRESS="")
        if via_env:
            env["LLMGW_CONFIG"] = str(self.config)
        else:
            args = (*args, "--config", str(self.config))
        return subprocess.run(
            [sys.executable, "-m", "llmgw", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    config = tmp_path / "llmgw.toml"
    config.write_text(f'[server]\ndatabase = "{tmp_path / "llmgw.db"}"\n', encoding="utf-8")
    return Cli(config)


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


def refused(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_user_commands(run: Cli) -> None:
    assert ok(run("user", "list")).startswith("no users")
    assert (
        ok(run("user", "add", "ada", "--admin", "--password-stdin", stdin=PW + "\n"))
        == "created user 'ada' (admin)\n"
    )
    ok(run("user", "add", "bob", "--password-stdin", stdin=PW + "\r\n", via_env=True))
    refused(run("user", "add", "eve", "--password-stdin", stdin="too short\n"), "at least 12 characters")
    refused(run("user", "add", "BOB", "--password-stdin", stdin=PW), "a user 'BOB' already exists")
    refused(run("user", "add", "no spaces", "--password-stdin", stdin=PW), "invalid user name")
    listed = json.loads(ok(run("user", "list", "--json", via_env=True)))
    assert [{k: v for k, v in u.items() if k != "created"} for u in listed] == [
        {"id": 1, "name": "ada", "role": "admin", "state": "active", "keys": 0, "may_create_keys": True},
        {"id": 2, "name": "bob", "role": "user", "state": "active", "keys": 0, "may_create_keys": True},
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", u["created"]) for u in listed)
    table = ok(run("user", "list")).splitlines()
    assert re.split(r"\s{2,}", table[0].strip()) == ["name", "role", "state", "keys", "own keys", "created"]
    assert table[2].startswith("bob ")

    # The last active admin stays: not disabled, deleted or demoted.
    refused(run("user", "disable", "ada"), "the last active administrator")
    refused(run("user", "delete", "ada"), "the last active administrator")
    refused(run("user", "role", "ada", "user"), "the last active administrator")
    assert ok(run("user", "role", "bob", "admin")) == "'bob' is now admin\n"
    assert ok(run("user", "role", "bob", "admin")) == "'bob' is already admin\n"
    assert ok(run("user", "role", "ada", "user")) == "'ada' is now user\n"
    assert run("user", "role", "ada", "root").returncode == 2  # argparse: not a choice

    assert ok(run("user", "disable", "ada")) == "disabled user 'ada'\n"
    assert ok(run("user", "disable", "ada")) == "user 'ada' is already disabled\n"
    assert ok(run("user", "enable", "ada")) == "enabled user 'ada'\n"
    assert "password of 'ada' set" in ok(
        run("user", "passwd", "ada", "--password-stdin", stdin="a new password!\n")
    )
    refused(run("user", "passwd", "ada", "--password-stdin", stdin="short\n"), "too short")
    for args in (("disable",), ("enable",), ("delete",), ("role", "nobody", "user")):
        refused(run("user", *args[:1], "nobody", *args[2:]), "no user 'nobody'")
    refused(run("user", "passwd", "nobody", "--password-stdin", stdin=PW), "no user 'nobody'")
    assert ok(run("user", "delete", "ada")) == "deleted user 'ada' and their 0 key(s)\n"
    assert [u["name"] for u in json.loads(ok(run("user", "list", "--json")))] == ["bob"]


@pytest.mark.parametrize("listing", [("user", "list"), ("key", "list"), ("limit", "list")])
def test_a_listing_reports_a_bad_database_setting_as_every_command_does(
    tmp_path: Path, listing: tuple[str, ...]
) -> None:
    """A listing reads only `[server] database` (no pydantic, settings/locations.py); whenever that
    reading is unsure the whole configuration is loaded, so the message and exit code are the ones a
    writing command gives. Other settings are not a listing's to check."""
    for text in ("[server]\ndatabase = 5\n", "[server\n", "server = 3\n"):
        config = tmp_path / "llmgw.toml"
        config.write_text(text, encoding="utf-8")
        listed, written = (
            Cli(config)(*listing),
            Cli(config)("user", "add", "ada", "--password-stdin", stdin=PW),
        )
        assert listed.returncode == written.returncode == 2, (listed.stderr, written.stderr)
        assert listed.stderr == written.stderr and str(config) in listed.stderr
    missing = Cli(tmp_path / "nowhere.toml")(*listing)
    assert missing.returncode == 2 and "config file not found" in missing.stderr
    config.write_text(f'[server]\ndatabase = "{tmp_path / "x.db"}"\nport = 99999\n', encoding="utf-8")
    assert ok(Cli(config)(*listing)).startswith("no ")
    assert Cli(config)("user", "add", "ada", "--password-stdin", stdin=PW).returncode == 2


def test_key_commands(run: Cli, tmp_path: Path) -> None:
    ok(run("user", "add", "bob", "--password-stdin", stdin=PW))
    created = run("key", "create", "bob", "--name", "laptop", "--expires-in", "30")
    match = TOKEN.fullmatch(ok(created))  # the token, alone, on stdout
    assert match, created.stdout
    public_id, secret = match[1], match[2]
    assert public_id in created.stderr and "shown only this once" in created.stderr
    token = created.stdout.strip()
    other = TOKEN.fullmatch(ok(run("key", "create", "bob", via_env=True)))
    assert other

    raw = b"".join(f.read_bytes() for f in tmp_path.glob("llmgw.db*"))
    assert secret.encode() not in raw and token.encode() not in raw and public_id.encode() in raw

    listed = json.loads(ok(run("key", "list", "--json")))
    assert [sorted(k) for k in listed] == [
        ["created", "expires", "id", "last_used", "models", "name", "owner", "public_id", "revoked", "state"]
    ] * 2
    first = listed[0]
    summary = (first["id"], first["public_id"], first["name"], first["owner"], first["state"])
    assert summary == (1, public_id, "laptop", "bob", "active")
    assert first["expires"] is not None and first["last_used"] is None and first["revoked"] is None
    assert listed[1]["name"] == "default" and listed[1]["expires"] is None
    assert first["models"] is None  # any model (`llmgw access`, `key create --models`)
    assert secret not in json.dumps(listed)
    table = ok(run("key", "list", "bob")).splitlines()
    assert table[0].split() == ["id", "name", "owner", "created", "last", "used", "expires", "state"]
    assert table[1].split()[:3] == [public_id, "laptop", "bob"] and table[1].endswith("active")
    refused(run("key", "list", "nobody"), "no user 'nobody'")
    refused(run("key", "create", "nobody"), "no user 'nobody'")
    assert run("key", "create", "bob", "--expires-in", "0").returncode == 2

    assert ok(run("key", "revoke", public_id)) == f"revoked key {public_id} ('laptop' of 'bob')\n"
    assert "was already revoked" in ok(run("key", "revoke", public_id))  # twice: nothing to do
    assert ok(run("key", "revoke", "2")).startswith("revoked key ")  # its number works too
    refused(run("key", "revoke", "0123456789abcdef"), "no key '0123456789abcdef'")
    refused(run("key", "revoke", "nonsense"), "a key is named by its id")
    assert [k["state"] for k in json.loads(ok(run("key", "list", "--json")))] == ["revoked", "revoked"]

    ok(run("user", "disable", "bob"))
    refused(run("key", "create", "bob"), "user 'bob' is disabled")
    assert ok(run("key", "list", "bob", "--json")) != "[]\n"


def test_audit_command(run: Cli) -> None:
    assert ok(run("audit")) == "no audit entries\n"
    ok(run("user", "add", "ada", "--admin", "--password-stdin", stdin=PW))
    ok(run("user", "add", "bob", "--password-stdin", stdin=PW))
    token = ok(run("key", "create", "bob", "--name", "ci")).strip()
    ok(run("key", "revoke", token))
    ok(run("user", "passwd", "bob", "--password-stdin", stdin="bob's new password"))
    ok(run("user", "disable", "bob"))
    ok(run("user", "enable", "bob"))
    ok(run("user", "role", "bob", "admin"))
    ok(run("user", "delete", "bob"))
    entries = json.loads(ok(run("audit", "--json", via_env=True)))
    assert [e["action"] for e in entries] == [
        "user.created",
        "user.created",
        "key.created",
        "key.revoked",
        "user.password_reset",
        "user.disabled",
        "user.enabled",
        "user.role_changed",
        "user.deleted",
    ]
    assert {e["actor"] for e in entries} == {"cli:tester"}
    assert {e["client_address"] for e in entries} == {None}  # the CLI has none
    assert [e["target"] for e in entries] == ["ada", "bob", "ci", "ci", "bob", "bob", "bob", "bob", "bob"]
    assert sorted(entries[0]) == sorted(
        ["at", "actor", "action", "target_type", "target_id", "target", "client_address", "detail"]
    )
    text = ok(run("audit"))
    assert (
        PW not in text
        and "new password" not in text
        and token not in text
        and token.split("-")[2] not in text
    )
    assert "cli:tester  user.deleted" in text
    assert json.loads(ok(run("audit", "--json", "--since", "2999-01-01"))) == []
    assert run("audit", "--since", "soon").returncode == 2


def test_password_prompt_asks_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[server]\ndatabase = "{tmp_path / "llmgw.db"}"\n', encoding="utf-8")
    answers: Iterator[str] = iter([PW, PW, PW, "something else"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    monkeypatch.setattr(sys, "stdin", Tty(""))
    assert cli.main(["user", "add", "ada", "--config", str(config)]) == 0
    assert prompts == ["New password (input hidden): ", "The same again: "]
    assert cli.main(["user", "passwd", "ada", "--config", str(config)]) == 1
    assert "the two passwords differ" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO(PW))  # not a terminal, no --password-stdin
    assert cli.main(["user", "add", "bob", "--config", str(config)]) == 1
    assert "pass --password-stdin" in capsys.readouterr().err


def test_commands_work_while_serve_runs(fake: FakeOpenAI, tmp_path: Path) -> None:
    env = {"LLMGW_PROXY_KEY": PROXY_KEY, "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path, provider("up", fake.base_url), env) as gw:
        run = Cli(gw.config_path)
        headers = {"authorization": f"Bearer {PROXY_KEY}"}
        body = {"model": "up/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
        with httpx.Client(base_url=gw.base_url, headers=headers, timeout=30) as client:
            first = client.post("/v1/chat/completions", json=body)
            ok(run("user", "add", "ada", "--admin", "--password-stdin", stdin=PW))
            token = ok(run("key", "create", "ada")).strip()
            assert json.loads(ok(run("key", "list", "--json")))[0]["state"] == "active"
            ok(run("key", "revoke", token))
            second = client.post("/v1/chat/completions", json=body)
            assert [e["action"] for e in json.loads(ok(run("audit", "--json")))] == [
                "user.created",
                "key.created",
                "key.revoked",
            ]
        assert first.status_code == second.status_code == 200
        for r in (first, second):  # the gateway's ledger kept writing meanwhile
            assert ledger_row(gw.db_path, r.headers["x-request-id"])["status"] == 200
    with sqlite3.connect(gw.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NOT NULL").fetchone() == (1,)


class MemoryKeyring:
    """A keyring backend in a dict, for `llmgw secret set/delete` in process."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.entries[(service, username)]


def test_provider_secret_changes_are_audited_never_their_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmgw.services import credentials

    backend = MemoryKeyring()
    monkeypatch.setattr(credentials, "_keyring", lambda: backend)
    monkeypatch.setattr("getpass.getuser", lambda: "tester")
    config = tmp_path / "c.toml"
    config.write_text(f'[server]\ndatabase = "{tmp_path / "llmgw.db"}"\n', encoding="utf-8")
    value = "sk-provider-secret-value-123"
    monkeypatch.setattr(sys, "stdin", io.StringIO(value + "\n"))
    assert cli.main(["secret", "set", "openai", "--config", str(config)]) == 0
    assert backend.entries[("llmgw", "openai")] == value
    monkeypatch.setenv("LLMGW_CONFIG", str(config))
    assert cli.main(["secret", "delete", "openai"]) == 0
    assert cli.main(["secret", "delete", "openai"]) == 1  # nothing deleted: nothing audited
    capsys.readouterr()
    assert cli.main(["audit", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["actor"], e["action"], e["target_type"], e["target"]) for e in entries] == [
        ("cli:tester", "provider_secret.set", "secret", "openai"),
        ("cli:tester", "provider_secret.deleted", "secret", "openai"),
    ]
    raw = b"".join(f.read_bytes() for f in tmp_path.glob("llmgw.db*"))
    assert value.encode() not in raw

    # The keyring change stands even when the audit log cannot take it: a warning, exit code 0.
    monkeypatch.setenv("LLMGW_CONFIG", str(tmp_path / "broken.toml"))
    (tmp_path / "broken.toml").write_text("[server\n", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.StringIO(value + "\n"))
    assert cli.main(["secret", "set", "openai"]) == 0
    err = capsys.readouterr().err
    assert "not written to the audit log" in err and value not in err
