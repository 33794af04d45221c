"""Budget alerts with a real `llmgw serve` and a real receiver on 127.0.0.1: requests spend, the webhook
is called once per threshold (retried after a 500), a restart sends nothing again, and the log never
holds the webhook's secret path."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import UPSTREAM_KEY, provider
from tests.process.test_cli import llmgw
from tests.process.test_cli_accounts import Cli
from tests.process.test_limits_accounts import ok
from tests.support.accounts_rows import add_key, add_user, create_schema
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess
from tests.support.required import unavailable
from tests.support.webhook_receiver import webhook_receiver

PRICES = '\n[prices."up/m"]\ninput = 1000000.0\noutput = 1000000.0\n'  # 1 USD a token: spend is visible


def test_alerts_fire_once_per_threshold_retried_and_not_again_after_a_restart(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "llmgw.db"
    create_schema(db)
    key = add_key(db, add_user(db, "ada"))
    body = {"model": "up/m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20}
    headers = {"authorization": f"Bearer {key.token}"}
    with webhook_receiver([500]) as receiver:
        env = {
            "LLMGW_AUTH_MODE": "users",
            "LLMGW_UP_API_KEY": UPSTREAM_KEY,
            "DBUS_SESSION_BUS_ADDRESS": "",
            "LLMGW_BUDGET_ALERT_WEBHOOK": receiver.url,
            "LLMGW_BUDGET_ALERT_THRESHOLDS": "5,10,15",
        }
        gateway = GatewayProcess(tmp_path, provider("up", fake.base_url, 'models = ["m"]') + PRICES, env)
        with gateway as gw, httpx.Client(base_url=gw.base_url, headers=headers, timeout=30) as client:
            first = client.post("/v1/chat/completions", json=body)
            assert first.status_code == 200
            cost = float(first.json()["usage"]["total_tokens"])  # USD, at 1 USD a token
            # A budget of 19 requests' cost: one request is 5.3% of it, two 10.5%, three 15.8%.
            ok(
                Cli(gw.config_path)(
                    "limit", "set", "ada", "--budget-usd", str(19 * cost), "--period", "month"
                )
            )
            got = receiver.wait_for(2)  # the 5% alert: a 500, then retried
            assert [(r.body["threshold"], r.status) for r in got] == [(5, 500), (5, 200)]
            assert client.post("/v1/chat/completions", json=body).status_code == 200
            got = receiver.wait_for(3)
            assert [r.body["threshold"] for r in got] == [5, 5, 10]
        # A restart: 5% and 10% were delivered (m014 kept them); only the next threshold goes.
        with gateway as gw, httpx.Client(base_url=gw.base_url, headers=headers, timeout=30) as client:
            assert client.post("/v1/chat/completions", json=body).status_code == 200
            got = receiver.wait_for(4)
        assert [r.body["threshold"] for r in got] == [5, 5, 10, 15]
    last = got[-1].body
    assert (last["scope"], last["user"], last["key"], last["period"]) == ("user", "ada", None, "month")
    assert last["spent_usd"] == pytest.approx(3 * cost)
    assert last["budget_usd"] == pytest.approx(19 * cost)
    assert "user ada has spent" in last["text"]
    log = gateway.log()
    assert "budget alert to 127.0.0.1" in log and "retrying" in log
    assert "SECRETPART" not in log


@pytest.mark.keyring
def test_the_webhook_from_the_real_keyring(fake: FakeOpenAI, tmp_path: Path) -> None:
    """`llmgw secret set budget-alert-webhook`, then `serve` sends its alerts there (nothing in the
    environment), and `config check` shows it masked."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        unavailable("LLMGW_REQUIRE_KEYRING", "no D-Bus session (run under scripts/with-keyring)")
    db = tmp_path / "llmgw.db"
    create_schema(db)
    key = add_key(db, add_user(db, "ada"))
    keyring_env = {"DBUS_SESSION_BUS_ADDRESS": os.environ["DBUS_SESSION_BUS_ADDRESS"]}
    (tmp_path / "audit.toml").write_text(f'[server]\ndatabase = "{db}"\n')
    audit_env = {**keyring_env, "LLMGW_CONFIG": str(tmp_path / "audit.toml")}
    body = {"model": "up/m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20}
    with webhook_receiver() as receiver:
        assert (
            llmgw(
                "secret", "set", "budget-alert-webhook", stdin=receiver.url + "\n", env=audit_env
            ).returncode
            == 0
        )
        try:
            checked = llmgw("config", "check", env=audit_env)
            assert "budget_alert_webhook: from the keyring" in checked.stdout
            assert "SECRETPART" not in checked.stdout + checked.stderr
            env = {"LLMGW_AUTH_MODE": "users", "LLMGW_UP_API_KEY": UPSTREAM_KEY,
                   "LLMGW_BUDGET_ALERT_THRESHOLDS": "1", **keyring_env}  # fmt: skip
            gateway = GatewayProcess(tmp_path, provider("up", fake.base_url, 'models = ["m"]') + PRICES, env)
            with gateway as gw:
                ok(Cli(gw.config_path)("limit", "set", "ada", "--budget-usd", "300"))
                headers = {"authorization": f"Bearer {key.token}"}
                r = httpx.post(f"{gw.base_url}/v1/chat/completions", json=body, headers=headers, timeout=30)
                assert r.status_code == 200
                got = receiver.wait_for(1)
            # 1 USD a token: one request (about 9 tokens) is over 1% of 300 USD.
            assert got[0].body["threshold"] == 1 and got[0].path == "/hooks/T000/SECRETPART"
            assert "SECRETPART" not in gateway.log()
        finally:
            assert llmgw("secret", "delete", "budget-alert-webhook", env=audit_env).returncode == 0
