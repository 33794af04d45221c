"""The team path end to end, as the accounts issue's "done when" reads: an admin onboards a user from
the CLI; the user's key calls a running `llmgw serve` (auth_mode = users) with the OpenAI and the
Anthropic SDKs; every ledger row names the user and the key; the key is revoked from the CLI (another
process) and the next call is refused."""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import openai
import pytest

from tests.conftest import UPSTREAM_KEY, ledger_row, provider
from tests.process.test_cli_accounts import PW, TOKEN, Cli, ok
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess


def test_an_admin_onboards_a_user_who_calls_the_gateway_and_loses_access_on_revoke(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "gw" / "llmgw.db"
    (tmp_path / "gw").mkdir()
    cli_config = tmp_path / "cli.toml"
    cli_config.write_text(f'[server]\ndatabase = "{db}"\n', encoding="utf-8")
    cli = Cli(cli_config)
    ok(cli("user", "add", "root", "--admin", "--password-stdin", stdin=PW + "\n"))
    ok(cli("user", "add", "ada", "--password-stdin", stdin=PW + "\n"))
    match = TOKEN.fullmatch(ok(cli("key", "create", "ada", "--name", "laptop")))
    assert match is not None
    token, public_id = match.group(0).strip(), match.group(1)

    config = 'auth_mode = "users"\n' + provider("up", fake.base_url)
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    with GatewayProcess(tmp_path / "gw", config, env) as gw:
        oa = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=token, max_retries=0)
        chat = oa.chat.completions.with_raw_response.create(
            model="up/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
        )
        an = anthropic.Anthropic(base_url=gw.base_url, api_key=token, max_retries=0)
        message = an.messages.with_raw_response.create(
            model="up/gpt-4o-mini", max_tokens=32, messages=[{"role": "user", "content": "Hi"}]
        )
        for raw in (chat, message):
            row = ledger_row(gw.db_path, raw.headers["x-request-id"])
            assert row["status"] == 200
            assert row["user_id"] is not None and row["api_key_id"] is not None
        listed = ok(cli("key", "list", "ada", "--json"))
        assert public_id in listed and token not in listed

        ok(cli("key", "revoke", public_id))  # another process, on the running server's database
        for _ in range(20):
            try:
                oa.chat.completions.create(
                    model="up/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
                )
            except openai.AuthenticationError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the revoked key was still accepted after 20 tries 100 ms apart")
        with pytest.raises(anthropic.AuthenticationError):
            an.messages.create(
                model="up/gpt-4o-mini", max_tokens=32, messages=[{"role": "user", "content": "Hi"}]
            )
    assert "ada" in ok(cli("audit", "--json")) and token not in ok(cli("audit", "--json"))
