"""Budget alerts beside real requests, in process: a receiver that takes the alert and never answers
holds up no request (the alert waits in its own task while requests keep being served)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from llmgw.storage import Spend
from tests.inprocess.test_budget_caps import set_budget
from tests.inprocess.test_limits_relay import OPENAI_BODY, PRICES, USERS, account, answer, gw_of
from tests.inprocess.test_relay_inprocess import gateway
from tests.support.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.anyio


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(600):  # 30 s
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def test_a_receiver_that_never_answers_holds_up_no_request(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 1.0)
    headers = {"authorization": f"Bearer {key.token}"}
    with webhook_receiver(hold=True) as receiver:
        server = {**USERS, "budget_alert_webhook": receiver.url, "budget_alert_thresholds": (1,)}
        async with gateway(tmp_path, answer, server=server) as running:
            gw_of(running).prices = PRICES
            r = await running.client.post("/v1/chat/completions", json=OPENAI_BODY, headers=headers)
            assert r.status_code == 200
            # Past 1% of the budget (the request cost less: the spend is set as if it had cost more).
            gw_of(running).limits.load_spend(Spend({key.user_id: 0.5}, {}), Spend({key.user_id: 0.5}, {}))
            await until(lambda: receiver.waiting == 1)  # the alert's POST arrives and is held unanswered
            for _ in range(5):
                r = await running.client.post("/v1/chat/completions", json=OPENAI_BODY, headers=headers)
                assert r.status_code == 200
            assert receiver.waiting == 1 and receiver.received == []  # still held, requests served
            receiver.release()
            await until(lambda: bool(receiver.received))
    assert receiver.received[0].body["threshold"] == 1
