"""What the TUI's tests share: a configuration on a temporary database, seeded users, keys and ledger
rows at fixed times, the app on a frozen clock without its refresh timer, and waiting for its workers."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from llmgw_tui.app import AdminApp
from llmgw_tui.backend import Backend
from textual.pilot import Pilot

from llmgw.services import keys, tokens, users
from llmgw.services.audit import Actor
from llmgw.settings import load
from llmgw.storage import Store, UsageRow

NOW = 1_796_128_830.0  # 2026-12-01 12:40:30 UTC: the frozen clock of every TUI test
PASSWORD = "a long enough password"
# A fixed actor name: snapshots must not show the login of whoever runs the tests.
ADMIN = Actor("cli:admin")


def write_config(tmp: Path, extra: str = "") -> Path:
    path = tmp / "llmgw.toml"
    path.write_text(
        f"[server]\ndatabase = '{tmp / 'llmgw.db'}'\n"
        '[providers.up]\ntype = "openai-compatible"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'models = ["gpt-4o-mini"]\n' + extra,
        encoding="utf-8",
    )
    return path


def backend(config_path: Path) -> Backend:
    return Backend(
        load(str(config_path)).config, config_path=str(config_path), actor=ADMIN, clock=lambda: NOW
    )


def app(config_path: Path) -> AdminApp:
    return AdminApp(backend(config_path), live=False)


def seed(db: str | Path) -> None:
    """Three users (an admin; alice, with a key; bob), and ledger rows over the last hour and more, all
    at fixed times and with a fixed key id (snapshots must be the same on every run)."""
    fixed_time = mock.patch("time.time", return_value=NOW - 7200)
    fixed_id = mock.patch.object(tokens.secrets, "token_hex", return_value="0123456789abcdef")
    with Store.open(db) as store, fixed_time, fixed_id:
        root = users.create_user(store, ADMIN, "root", PASSWORD, role="admin")
        alice = users.create_user(store, ADMIN, "alice", PASSWORD)
        users.create_user(store, ADMIN, "bob", PASSWORD)
        key = keys.create_key(store, ADMIN, "alice", "laptop").key
        rows = []
        for i in range(40):
            at = NOW - 30 - i * 97  # one every 97 s: across the hour and beyond
            # an upstream failure every 7th, a refusal by a rate limit every 11th from the 5th
            status, kind, code = (
                (500, "upstream", "upstream_error")
                if i % 7 == 0
                else (429, "policy", "gateway_rate_limit_exceeded")
                if i % 11 == 5
                else (200, None, None)
            )
            rows.append(
                UsageRow(
                    request_id=f"req_{i:03d}",
                    created_at=at,
                    endpoint="/v1/chat/completions",
                    provider="up",
                    model_requested="fast" if i % 3 else "up/gpt-4o-mini",  # `fast`: an alias of it
                    model_upstream="gpt-4o-mini",
                    status=status,
                    error_kind=kind,
                    error_type=code,
                    total_tokens=100 + i,
                    cost_usd=0.001 * (i % 5),
                    latency_ms=200.0 + i,
                    user_id=alice.id if i % 2 else root.id,
                    api_key_id=key.id if i % 2 else None,
                )
            )
        store.insert_requests(rows)


async def settle(pilot: Pilot[object]) -> None:
    """Wait until the workers are done and what they handed back is on screen."""
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


class MemoryKeyring:
    """A keyring backend in a dict: what the Providers screen shows, the same on every machine."""

    def __init__(self, entries: dict[str, str] | None = None) -> None:
        self.entries = dict(entries or {})

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[f"{service}/{username}"] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.entries[f"{service}/{username}"]
