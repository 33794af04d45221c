"""/metrics: the numbers equal the traffic sent (requests, tokens, histogram counts, upstream errors,
cool-downs, key states, rejected authentications), labels bounded whatever clients send, and who may
read them on the main listener."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from llmgw.relay.metrics import MAX_LABEL_VALUES, OTHER
from llmgw.services.pricing import PriceTable
from llmgw.settings import Config
from tests.conftest import PROXY_KEY as CONF_PROXY_KEY
from tests.conftest import UPSTREAM_KEY, provider
from tests.inprocess.test_relay_inprocess import (
    PROXY_KEY,
    USER,
    gateway,
    key_of,
    key_refused,
    openai_chat,
    rate_limited,
    server_error,
)
from tests.support.accounts_rows import add_key, add_user, create_schema
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess, free_port

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
ADMIN = {"authorization": f"Bearer {PROXY_KEY}"}
# The proxy key reads /metrics in `legacy` mode only (in `both`, the default, it is a client's key).
LEGACY = {"auth_mode": "legacy"}


def parse(text: str) -> Samples:
    """Every sample by (name, labels)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def sse(events: list[dict[str, object]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"


STREAM = sse(
    [
        {"choices": [{"index": 0, "delta": {"content": "Paris"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": 2, "total_tokens": 16}},
    ]
)


async def test_numbers_equal_the_traffic(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        key = key_of(request)
        if key == "oai-first":
            return rate_limited(request, "30")
        if key == "oai-second":
            return server_error(request)
        if orjson.loads(request.content).get("stream"):
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM)
        return openai_chat()  # 14 prompt, 8 completion tokens

    async with gateway(tmp_path, answer, server=LEGACY) as gw:
        plain = [await gw.chat("oai/gpt-4o-mini") for _ in range(3)]
        streamed = await gw.chat("oai/gpt-4o-mini", stream=True)
        unrouted = await gw.chat("nowhere/at-all")
        refused = await gw.client.post("/v1/chat/completions", json={"model": "oai/x", "messages": USER})
        scrape = await gw.client.get("/metrics", headers=ADMIN)
    assert [r.status_code for r in plain] + [streamed.status_code] == [200] * 4
    assert (unrouted.status_code, refused.status_code) == (404, 401)
    assert scrape.status_code == 200 and scrape.headers["cache-control"] == "no-store"
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    m = parse(scrape.text)
    oai = {"provider": "oai", "model": "gpt-4o-mini"}
    assert value(m, "llmgw_requests_total", **oai, status="200") == 4
    assert value(m, "llmgw_requests_total", provider="", model="", status="404") == 1
    assert value(m, "llmgw_tokens_total", **oai, type="prompt") == 3 * 14 + 14
    assert value(m, "llmgw_tokens_total", **oai, type="completion") == 3 * 8 + 2
    assert value(m, "llmgw_request_latency_seconds_count", **oai) == 4
    assert value(m, "llmgw_request_latency_seconds_bucket", **oai, le="+Inf") == 4
    assert value(m, "llmgw_time_to_first_token_seconds_count", **oai) == 1  # the streamed one
    # The first request tried oai-first (429, cooled 30 s) then oai-second (500); later ones skip the
    # cooling key, so the 5xx key is tried first by each of the other three.
    assert value(m, "llmgw_upstream_errors_total", **oai, error_type="rate_limit_exceeded") == 1
    assert value(m, "llmgw_upstream_errors_total", **oai, error_type="server_error") == 4
    assert value(m, "llmgw_key_cooldowns_total", provider="oai") == 1
    assert value(m, "llmgw_upstream_keys", provider="oai", state="cooling") == 1
    assert value(m, "llmgw_upstream_keys", provider="oai", state="usable") == 2
    assert value(m, "llmgw_auth_failures_total") == 1
    assert value(m, "llmgw_ledger_spool_bytes") == 0


async def test_retired_keys_and_unpriced_requests(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return key_refused(request) if key_of(request) == "oai-first" else openai_chat()

    async with gateway(tmp_path, answer, server=LEGACY) as gw:
        assert (await gw.chat("oai/gpt-4o-mini")).status_code == 200
        m = parse((await gw.client.get("/metrics", headers=ADMIN)).text)
    assert value(m, "llmgw_upstream_keys", provider="oai", state="retired") == 1
    assert value(m, "llmgw_upstream_keys", provider="oai", state="usable") == 2
    # No price known for this model (whatever prices it later sets cost_usd; until then it is counted
    # as unpriced, never as $0).
    oai = {"provider": "oai", "model": "gpt-4o-mini"}
    priced = value(m, "llmgw_cost_usd_total", **oai) > 0
    assert priced or value(m, "llmgw_unpriced_requests_total", **oai) == 1


async def test_model_labels_are_bounded(tmp_path: Path) -> None:
    """A client inventing model names cannot grow the label set: an unlisted model is a label only once
    an upstream accepted it, and then only up to the cap."""

    def answer(request: httpx.Request) -> httpx.Response:
        model = orjson.loads(request.content)["model"]
        if model.startswith("bad-"):
            return httpx.Response(
                404,
                json={
                    "error": {
                        "message": "no such model",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
            )
        return openai_chat()

    async with gateway(tmp_path, answer, server=LEGACY) as gw:
        for i in range(5):
            assert (await gw.chat(f"oai/bad-{i}")).status_code == 404
        metrics = gw.runtime.metrics
        for i in range(MAX_LABEL_VALUES + 3):
            metrics.model_label("oai", f"good-{i}", 200)
        assert (await gw.chat("oai/one-more-good")).status_code == 200
        m = parse((await gw.client.get("/metrics", headers=ADMIN)).text)
    models = {dict(labels).get("model") for (name, labels) in m if name == "llmgw_requests_total"}
    assert models == {OTHER}
    assert value(m, "llmgw_requests_total", provider="oai", model=OTHER, status="404") == 5
    assert value(m, "llmgw_requests_total", provider="oai", model=OTHER, status="200") == 1
    assert (
        value(m, "llmgw_upstream_errors_total", provider="oai", model=OTHER, error_type="model_not_found")
        == 5
    )


async def test_listed_models_keep_their_label_even_when_failing(tmp_path: Path) -> None:
    async with gateway(
        tmp_path, server_error, keys={"backup": ["backup-first"], "oai": []}, server=LEGACY
    ) as gw:
        r = await gw.chat("backup/gpt-4o-mini")  # in backup's allow-list
        m = parse((await gw.client.get("/metrics", headers=ADMIN)).text)
    assert r.status_code == 500
    assert value(m, "llmgw_requests_total", provider="backup", model="gpt-4o-mini", status="500") == 1


# -- who may read them ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"), [("nobody", 401), ("wrong", 401), ("user", 403), ("admin", 200), ("proxy", 200)]
)
async def test_users_mode_only_admins(tmp_path: Path, who: str, status: int) -> None:
    db = tmp_path / "llmgw.db"
    create_schema(db)
    user_key = add_key(db, add_user(db, "bob"))
    admin_key = add_key(db, add_user(db, "ada", role="admin"))
    headers = {
        "nobody": {},
        "wrong": {"authorization": "Bearer not-a-key"},
        "user": {"authorization": f"Bearer {user_key.token}"},
        "admin": {"authorization": f"Bearer {admin_key.token}"},
        "proxy": {"authorization": f"Bearer {PROXY_KEY}"},
    }[who]
    mode = "both" if who == "proxy" else "users"
    expected = 403 if who == "proxy" else status  # in `both` the proxy key is a client's key
    async with gateway(tmp_path, openai_chat, server={"auth_mode": mode}) as gw:
        r = await gw.client.get("/metrics", headers=headers)
        failures = gw.runtime.auth_failures.total
    assert r.status_code == expected
    assert r.headers["cache-control"] == "no-store"
    if expected != 200:
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        assert "llmgw_requests_total" not in r.text
    else:
        assert "llmgw_requests_total" in r.text
    assert failures == (1 if expected == 401 else 0)


async def test_legacy_mode_proxy_key(tmp_path: Path) -> None:
    async with gateway(tmp_path, openai_chat, server=LEGACY) as gw:
        ok = await gw.client.get("/metrics", headers={"x-api-key": PROXY_KEY})
        missing = await gw.client.get("/metrics")
    assert ok.status_code == 200 and "llmgw_auth_failures_total" in ok.text
    assert missing.status_code == 401 and missing.headers["cache-control"] == "no-store"


def test_scrape_time_is_a_snapshot() -> None:
    """The key states are computed when scraped: a cool-down that has ended is no longer counted."""
    from llmgw.relay.keypool import KeyPool

    pool = KeyPool("p", ["a", "b", "c"])
    a, b, _ = (pool.acquire() for _ in range(3))
    assert a is not None and b is not None
    now = time.monotonic()
    pool.rate_limited(a, "m", 10, now=now)
    pool.rejected(b, 401)
    assert pool.states(now) == (1, 1, 1)
    assert pool.states(now + 11) == (2, 0, 1)
    assert pool.cooldowns_started == 1


# -- the loopback-only listener -------------------------------------------------------------------


@pytest.mark.parametrize("listen", ["0.0.0.0:9464", "192.168.1.5:9464", "example.com:9464", "9464", "[::]:1"])
def test_metrics_listen_must_be_loopback(listen: str) -> None:
    with pytest.raises(ValidationError, match="metrics_listen"):
        Config.model_validate({"server": {"metrics_listen": listen}})


@pytest.mark.parametrize("listen", ["127.0.0.1:9464", "[::1]:9464", "localhost:9464", ""])
def test_metrics_listen_loopback_accepted(listen: str) -> None:
    assert Config.model_validate({"server": {"metrics_listen": listen}}).server.metrics_listen == listen


def test_the_loopback_listener_serves_metrics_without_a_key(fake: FakeOpenAI, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "LLMGW_PROXY_KEY": CONF_PROXY_KEY,
        "LLMGW_UP_API_KEY": UPSTREAM_KEY,
        "DBUS_SESSION_BUS_ADDRESS": "",
    }
    toml = f'metrics_listen = "127.0.0.1:{port}"\n' + provider("up", fake.base_url)
    with GatewayProcess(tmp_path, toml, env) as gw:
        for _ in range(2):
            r = httpx.post(
                f"{gw.base_url}/v1/chat/completions",
                json={"model": "up/gpt-4o-mini", "messages": USER},
                headers={"authorization": f"Bearer {CONF_PROXY_KEY}"},
            )
            assert r.status_code == 200
        open_scrape = httpx.get(f"http://127.0.0.1:{port}/metrics")
        main_no_key = httpx.get(f"{gw.base_url}/metrics")
        elsewhere = httpx.get(f"http://127.0.0.1:{port}/v1/models")
    assert open_scrape.status_code == 200, open_scrape.text
    m = parse(open_scrape.text)
    assert value(m, "llmgw_requests_total", provider="up", model="gpt-4o-mini", status="200") == 2
    assert main_no_key.status_code == 401  # the main port still wants an admin's key
    assert elsewhere.status_code == 404  # only /metrics on that listener
    assert f"metrics on http://127.0.0.1:{port}/metrics" in gw.log()


async def test_unpriced_is_the_ledgers_definition(tmp_path: Path) -> None:
    """A request is unpriced when it has no cost and its usage came from somewhere (`usage_source` not
    "none"), as the ledger, the rollups and `llmgw usage` count it: an upstream that reports only a
    total still used tokens; a request that generated nothing is not unpriced."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        if body["model"] == "gpt-4o-mini":  # usage with a total only: no prompt or completion count
            response = openai_chat()
            data = orjson.loads(response.content)
            return httpx.Response(200, json={**data, "usage": {"total_tokens": 17}})
        return server_error(request)

    async with gateway(tmp_path, answer, server=LEGACY) as gw:
        gw.runtime.prices = PriceTable({})  # nothing is priced
        assert (await gw.chat("oai/gpt-4o-mini")).status_code == 200
        assert (await gw.chat("oai/gpt-4o")).status_code >= 500  # no usage at all
        m = parse((await gw.client.get("/metrics", headers=ADMIN)).text)
    rows = gw.rows().values()
    ledger = {(r["model_upstream"], r["cost_usd"] is None and r["usage_source"] != "none") for r in rows}
    assert ledger == {("gpt-4o-mini", True), ("gpt-4o", False)}
    assert value(m, "llmgw_unpriced_requests_total", provider="oai", model="gpt-4o-mini") == 1
    assert sum(v for (name, _), v in m.items() if name == "llmgw_unpriced_requests_total") == 1
    assert value(m, "llmgw_tokens_total", provider="oai", model="gpt-4o-mini", type="prompt") == 0
