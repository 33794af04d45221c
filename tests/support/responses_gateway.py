"""A real `llmgw serve` in front of every provider type's fake, for the Responses API's real clients
(Codex CLI, the OpenAI Agents SDK, the openai SDK): personal keys (`auth_mode = "users"`), one provider
per type, and the ledger rows a client's run left.

The openai type passes `/v1/responses` through to the fake OpenAI's own Responses API; anthropic and gemini
are translated to Messages and generateContent; openai-compatible and openrouter to chat completions.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import UPSTREAM_KEY
from tests.support.accounts_rows import add_key, add_user, create_schema
from tests.support.fakes.anthropic_upstream import FakeAnthropic
from tests.support.fakes.gemini_upstream import FakeGemini
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

__all__ = ["PROVIDER_TYPES", "ResponsesGateway", "responses_gateway"]

ANTHROPIC_KEY, GEMINI_KEY = "sk-ant-upstream-responses", "gem-upstream-responses"

# provider type → the name of its provider in the gateway's configuration
PROVIDER_TYPES = {
    "openai": "oai",
    "anthropic": "ant",
    "gemini": "gem",
    "openai-compatible": "compat",
    "openrouter": "orouter",
}


@dataclass(frozen=True, slots=True)
class ResponsesGateway:
    """The running gateway, the personal key a client presents and who it belongs to."""

    process: GatewayProcess
    token: str
    user_id: int
    key_id: int
    openai: FakeOpenAI
    anthropic: FakeAnthropic
    gemini: FakeGemini

    @property
    def base_url(self) -> str:
        """The OpenAI SDKs' base URL: the gateway's `/v1`."""
        return f"{self.process.base_url}/v1"

    def last_row(self) -> int:
        """The newest ledger rowid (0 for none): a run's rows are those after it."""
        if not self.process.db_path.exists():
            return 0
        with sqlite3.connect(self.process.db_path) as conn:
            (rowid,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM requests").fetchone()
        return int(rowid)

    def rows(self, after: int, model: str, at_least: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The ledger rows of `model` (as requested) past rowid `after`, once there are `at_least` (the
        writer thread batches: an earlier test's last row may land after this one's `last_row`)."""
        deadline = time.monotonic() + timeout
        query = "SELECT * FROM requests WHERE rowid > ? AND model_requested = ? ORDER BY rowid"
        while True:
            with sqlite3.connect(self.process.db_path) as conn:
                conn.row_factory = sqlite3.Row
                found = [dict(row) for row in conn.execute(query, (after, model))]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def log(self) -> str:
        return self.process.log()


def _config(
    openai: FakeOpenAI, anthropic: FakeAnthropic, gemini: FakeGemini, aliases: Mapping[str, str]
) -> str:
    models = "".join(f'"{alias}" = "{route}"\n' for alias, route in aliases.items())
    return (
        'log_level = "debug"\nauth_mode = "users"\n'
        # the Agents SDK strips `openai/` off a model name: a bare name goes to the openai provider
        'default_provider = "oai"\n'
        f'\n[providers.oai]\ntype = "openai"\nbase_url = "{openai.base_url}"\n'
        f'\n[providers.ant]\ntype = "anthropic"\nbase_url = "{anthropic.base_url}/v1"\n'
        f'\n[providers.gem]\ntype = "gemini"\nbase_url = "{gemini.base_url}/v1beta"\n'
        f'\n[providers.compat]\ntype = "openai-compatible"\nbase_url = "{openai.base_url}"\n'
        f'\n[providers.orouter]\ntype = "openrouter"\nbase_url = "{openai.base_url}"\n'
        f"\n[models]\n{models}"
    )


@contextmanager
def responses_gateway(tmp: Path, aliases: Mapping[str, str] | None = None) -> Iterator[ResponsesGateway]:
    """The fakes, then a gateway in `tmp` whose database holds one user with one personal key."""
    with ExitStack() as stack:
        openai = stack.enter_context(FakeOpenAI(accepted_keys=(UPSTREAM_KEY,)))
        anthropic = stack.enter_context(FakeAnthropic(accepted_keys=(ANTHROPIC_KEY,), bearer_keys=False))
        gemini = stack.enter_context(FakeGemini(accepted_keys=(GEMINI_KEY,)))
        db = tmp / "llmgw.db"
        create_schema(db)
        user_id = add_user(db, "ada")
        key = add_key(db, user_id, name="responses-clients")
        env = {
            "LLMGW_OAI_API_KEY": UPSTREAM_KEY,
            "LLMGW_COMPAT_API_KEY": UPSTREAM_KEY,
            "LLMGW_OROUTER_API_KEY": UPSTREAM_KEY,
            "LLMGW_ANT_API_KEY": ANTHROPIC_KEY,
            "LLMGW_GEM_API_KEY": GEMINI_KEY,
            "DBUS_SESSION_BUS_ADDRESS": "",
        }
        gw = stack.enter_context(GatewayProcess(tmp, _config(openai, anthropic, gemini, aliases or {}), env))
        yield ResponsesGateway(gw, key.token, user_id, key.key_id, openai, anthropic, gemini)
