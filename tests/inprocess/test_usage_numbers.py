"""Usage numbers through the whole stack: requests through a real gateway (in process), refused by a
limit after routing, by routing (an unknown model), failed upstream and answered, then read back as
the administrator's dashboard shows them: one row per model (an alias inside the row of the model it
routes to, refusals counted there), errors split by kind with their codes, and the charts agreeing
with the tables."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from llmgw.server.app import create_app
from llmgw.services import model_access, usage, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.inprocess.test_limits_relay import USERS, Clock, account, gw_of, set_limit
from tests.inprocess.test_relay_inprocess import (
    ANT_KEYS,
    USER,
    Keys,
    anthropic_message,
    config,
    gateway,
    server_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("fast_hashes")]

SONNET = "ant/claude-sonnet-4-5"
ADMIN_PW = "admin-password-123"


async def traffic(tmp_path: Path) -> dict[str, int]:
    """Seven requests by one user with a limit of 3 a minute: what each got."""
    key = account(tmp_path)
    set_limit(tmp_path, "ada", rpm=3)
    failing = {"next": False}

    def upstream(request: httpx.Request) -> httpx.Response:
        if failing["next"]:
            return server_error(request)  # Anthropic's 529 on every key: the provider is failing
        return anthropic_message()

    got: dict[str, int] = {}
    async with gateway(tmp_path, upstream, server=USERS) as running:
        gw_of(running).limits.clock = Clock(1_800_000_000.0)

        async def ask(name: str, model: str) -> None:
            r = await running.client.post(
                "/v1/messages",
                json={"model": model, "messages": USER, "max_tokens": 50},
                headers={"x-api-key": key.token},
            )
            got[name] = r.status_code

        await ask("alias", "claude")  # the alias of ant/claude-sonnet-4-5
        await ask("direct", SONNET)
        failing["next"] = True
        await ask("failed", "claude")
        failing["next"] = False
        await ask("limited", "claude")  # the 4th within a minute: refused after routing
        await ask("limited2", SONNET)
        await ask("unknown", "ant/no-such-model")  # refused by routing, before any limit
        await ask("unknown2", "nowhere")
    return got


async def test_refusals_and_aliases_count_in_their_models_row(tmp_path: Path) -> None:
    got = await traffic(tmp_path)
    assert got == {"alias": 200, "direct": 200, "failed": 529, "limited": 429, "limited2": 429,
                   "unknown": 404, "unknown2": 404}  # fmt: skip
    with Store.open(tmp_path / "llmgw.db") as store:
        # the ledger: a request refused after routing carries the target it would have gone to
        rows = {r["model_requested"] + str(r["status"]): r for r in store.recent_requests(20)}
        refused = rows["claude429"]
        assert (refused["provider"], refused["model_upstream"], refused["error_kind"]) == (
            "ant",
            "claude-sonnet-4-5",
            "policy",
        )
        assert rows["nowhere404"]["provider"] is None  # no target: its own name is all it has

        rep = usage.report(store, Actor.cli(), since=None, until=None, by="model")
        by = {g.label: g for g in rep.groups}
        assert sorted(by) == [SONNET, "ant/no-such-model", "nowhere"]
        sonnet = by[SONNET]
        assert sonnet.aliases == ("claude",)
        s = sonnet.stats
        assert (s.requests, s.errors, s.errors_upstream, s.errors_policy, s.errors_client) == (5, 3, 1, 2, 0)
        assert [(e.kind, e.count) for e in s.error_codes] == [("upstream", 1), ("policy", 2)]
        assert s.upstream_error_rate == pytest.approx(1 / 5)
        assert by["nowhere"].stats.errors_policy == 1 and by["nowhere"].aliases == ()
        t = rep.total
        assert (t.requests, t.errors_upstream, t.errors_policy, t.errors_client, t.errors_unclassified) == (
            7,
            1,
            4,
            0,
            0,
        )


def portal(tmp_path: Path) -> TestClient:
    with Store.open(tmp_path / "llmgw.db") as store:
        users.create_user(store, Actor.cli(), "root", ADMIN_PW, role="admin")
    cfg = config(tmp_path, {**USERS, "allowed_hosts": ["testserver"]}, {})
    return TestClient(create_app(cfg, None, Keys({"ant": ANT_KEYS})), base_url="http://testserver")


def section(page: str, by: str) -> str:
    found = re.search(rf'<section class="card breakdown" data-by="{by}">(.*?)</section>', page, re.S)
    assert found, f"no breakdown by {by}"
    return found.group(1)


async def test_the_admin_dashboard_shows_one_row_per_model_and_errors_by_kind(tmp_path: Path) -> None:
    await traffic(tmp_path)
    with portal(tmp_path) as client:
        client.post(
            "/ui/login",
            data={"username": "root", "password": ADMIN_PW},
            headers={"origin": "http://testserver"},
        )
        page = client.get("/ui/admin/usage?range=24h").text
    # the totals: upstream errors apart from policy refusals and client errors
    assert re.search(r'data-total="errors_upstream">1 \(14\.3%\)', page)
    assert re.search(r'data-total="errors_policy">4 \(57\.1%\)', page)
    assert re.search(r'data-total="errors_client">0 ', page)
    codes = re.findall(
        r'<tr data-kind="(\w+)" data-code="(\w*)"><td>[^<]*</td><td><code>[^<]*</code></td><td>(\d+)', page
    )
    assert sorted(codes) == sorted(
        [
            ("upstream", "overloaded_error", "1"),
            ("policy", "gateway_rate_limit_exceeded", "2"),
            ("policy", "model_not_found", "2"),
        ]
    ), codes
    models = section(page, "model")
    table = dict(re.findall(r'<tr data-label="([^"]+)" data-requests="(\d+)">', models))
    assert table == {SONNET: "5", "ant/no-such-model": "1", "nowhere": "1"}
    assert f"{SONNET}</td>" not in models  # the alias is said inside its row
    assert re.search(rf"{re.escape(SONNET)} <span class=\"muted\">via claude</span>", models)
    # the bar chart above the table: the same rows, the same totals
    bars = dict(re.findall(r'data-label="([^"]+)" data-value="([\d.]+)"', models))
    assert {label: str(int(float(v))) for label, v in bars.items()} == table
    # the requests-by-model chart over time: the same labels, summed over its buckets, agree too
    over_time = re.search(r"<svg[^>]*>(?:(?!</svg>).)*Requests by model.*?</svg>", page, re.S)
    assert over_time
    summed: dict[str, float] = {}
    for label, value in re.findall(
        r'data-label="([^"]+)" data-bucket="[^"]+" data-value="([\d.]+)"', over_time.group(0)
    ):
        summed[label] = summed.get(label, 0.0) + float(value)
    assert {label: str(int(v)) for label, v in summed.items()} == table


async def test_a_refusal_for_model_access_counts_in_the_models_row(tmp_path: Path) -> None:
    key = account(tmp_path)
    with Store.open(tmp_path / "llmgw.db") as store:
        model_access.set_access(store, Actor.cli(), "ada", ["oai/*"])
    async with gateway(tmp_path, lambda request: anthropic_message(), server=USERS) as running:
        r = await running.client.post(
            "/v1/messages",
            json={"model": "claude", "messages": USER, "max_tokens": 50},
            headers={"x-api-key": key.token},
        )
        assert r.status_code == 403
    with Store.open(tmp_path / "llmgw.db") as store:
        (group,) = usage.report(store, Actor.cli(), since=None, until=None, by="model").groups
    assert (group.label, group.aliases, group.stats.errors_policy) == (SONNET, ("claude",), 1)
    assert [e.code for e in group.stats.error_codes] == ["model_not_allowed"]
