"""The ledger reconciles with what the providers reported: a real gateway process (hypercorn on
loopback) in front of the fake OpenAI, Anthropic and Gemini upstreams, ~50 concurrent requests of
every kind, then SIGTERM while streams are in flight and the database is locked (their rows go to the
spool, replayed as the next start would).

What "reported" means: a fake records the usage it sent once the body or the stream event that
carries it was written (`tests.support.fakes.fake_server.ReportedUsage`). Every stream that is cut here is cut
long before its final usage (a slow drip, cut after its first events), so those rows are estimates
and their fakes reported nothing; every stream that ends ends in full. The `provider` totals of
`llmgw usage --json` must then equal, exactly, the sum of the reported usages, read in the ledger's
meaning (`llmgw.translate.usage`: prompt counts cached and cache-write tokens, completion counts
reasoning).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from llmgw.storage import LedgerWriter, Store
from tests.support.fakes.anthropic_upstream import FakeAnthropic
from tests.support.fakes.fake_server import ReportedUsage
from tests.support.fakes.gemini_upstream import FakeGemini
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

PROXY_KEY = "llmgw-reconcile-proxy-key-0123456789"
KEYS = {"oai": "sk-reconcile-oai", "ant": "sk-ant-reconcile", "gem": "gem-reconcile-key"}
# A model of each upstream that answers normally, priced in the config (input 1, output 2 USD/M).
MODELS = {"oai": "gpt-4o-mini", "ant": "claude-sonnet-4-5", "gem": "gemini-2.5-flash"}
USER = [{"role": "user", "content": "Count the ledger's tokens, please: every one of them."}]
CUT_DRIP = "drip-200"  # 200 content events 200 ms apart: cut after a few, 40 s before the usage
SHORT_DRIP = "drip-10"  # 200 events 10 ms apart: ends within the shutdown grace
LONG_DRIP = "drip-400"  # 80 s: still running when the grace is over
GRACE = 6.0

Counts = tuple[int, int, int, int]  # prompt, completion, total, cached: the ledger's meaning


def openai_counts(u: dict[str, Any]) -> Counts:
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return u["prompt_tokens"], u.get("completion_tokens") or 0, u["total_tokens"], cached


def anthropic_counts(u: dict[str, Any]) -> Counts:
    read, write = u.get("cache_read_input_tokens") or 0, u.get("cache_creation_input_tokens") or 0
    prompt = u["input_tokens"] + read + write
    return prompt, u["output_tokens"], prompt + u["output_tokens"], read


def gemini_counts(u: dict[str, Any]) -> Counts:
    completion = (u.get("candidatesTokenCount") or 0) + (u.get("thoughtsTokenCount") or 0)
    return u["promptTokenCount"], completion, u["totalTokenCount"], u.get("cachedContentTokenCount") or 0


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeOpenAI, FakeAnthropic, FakeGemini]]:
    with (
        FakeOpenAI(accepted_keys=(KEYS["oai"],)) as oai,
        FakeAnthropic(accepted_keys=(KEYS["ant"],), bearer_keys=False) as ant,
        FakeGemini(accepted_keys=(KEYS["gem"],)) as gem,
    ):
        yield oai, ant, gem


def config(oai: FakeOpenAI, ant: FakeAnthropic, gem: FakeGemini) -> str:
    return (
        f"shutdown_grace = {GRACE}\ndatabase_busy_timeout = 0.2\n"
        f'\n[providers.oai]\ntype = "openai-compatible"\nbase_url = "{oai.base_url}"\n'
        f'\n[providers.ant]\ntype = "anthropic"\nbase_url = "{ant.base_url}/v1"\n'
        f'\n[providers.gem]\ntype = "gemini"\nbase_url = "{gem.base_url}/v1beta"\n'
        + "".join(f'\n[prices."{p}/{m}"]\ninput = 1\noutput = 2\n' for p, m in MODELS.items())
    )


class Clients:
    """The gateway's clients: the official SDKs for whole requests, httpx for the ones cut short."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.oai = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=PROXY_KEY, max_retries=0, timeout=60)
        self.ant = anthropic.AsyncAnthropic(base_url=base_url, api_key=PROXY_KEY, max_retries=0, timeout=60)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=60)

    async def aclose(self) -> None:
        await self.oai.close()
        await self.ant.close()
        await self.http.aclose()

    async def openai_chat(self, model: str, stream: bool) -> None:
        if not stream:
            await self.oai.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
            return
        # half of the streams ask for usage, half do not: the ledger gets it either way
        options = {"include_usage": True} if model.startswith(("oai", "gem")) else None
        chunks = await self.oai.chat.completions.create(
            model=model,
            messages=USER,  # type: ignore[arg-type]
            stream=True,
            stream_options=options,  # type: ignore[arg-type]
        )
        async for _ in chunks:
            pass

    async def anthropic_message(self, model: str, stream: bool) -> None:
        if not stream:
            await self.ant.messages.create(model=model, max_tokens=256, messages=USER)  # type: ignore[arg-type]
            return
        events = await self.ant.messages.create(model=model, max_tokens=256, messages=USER, stream=True)  # type: ignore[arg-type]
        async for _ in events:
            pass

    async def expect_error(self, call: Awaitable[None]) -> None:
        try:
            await call
        except (openai.APIStatusError, anthropic.APIStatusError) as exc:
            assert exc.status_code in (429, 500, 502, 503), exc
        else:
            raise AssertionError("an upstream error was expected")

    async def stream_until(
        self, dialect: str, model: str, events: int, started: asyncio.Event | None = None
    ) -> None:
        """Stream over raw HTTP; after `events` data lines, leave (close the connection) — or, with
        `started`, signal it and read on to the end, whatever that end is."""
        path, headers, body = self.request(dialect, model)
        seen = 0
        try:
            async with self.http.stream("POST", path, json=body, headers=headers) as r:
                assert r.status_code == 200, await r.aread()
                async for line in r.aiter_lines():
                    seen += line.startswith("data:")
                    if seen == events:
                        if started is None:
                            return  # the client leaves mid-stream
                        started.set()
        except httpx.HTTPError:
            pass  # the gateway went away mid-stream (its shutdown grace was over)

    def request(self, dialect: str, model: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        if dialect == "openai":
            body = {"model": model, "messages": USER, "stream": True}
            return "/v1/chat/completions", {"authorization": f"Bearer {PROXY_KEY}"}, body
        headers = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01"}
        return "/v1/messages", headers, {"model": model, "max_tokens": 256, "messages": USER, "stream": True}


def usage_json(gw: GatewayProcess) -> dict[str, Any]:
    r = subprocess.run(
        [sys.executable, "-m", "llmgw", "usage", "--json", "--config", str(gw.config_path)],
        capture_output=True,
        text=True,
        env=gw.env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def test_the_ledger_reconciles_with_what_the_upstreams_reported(
    fakes: tuple[FakeOpenAI, FakeAnthropic, FakeGemini], tmp_path: Path
) -> None:
    fake_oai, fake_ant, fake_gem = fakes
    env = {f"LLMGW_{name.upper()}_API_KEY": key for name, key in KEYS.items()}
    env |= {"LLMGW_PROXY_KEY": PROXY_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    gw = GatewayProcess(tmp_path, config(fake_oai, fake_ant, fake_gem), env).start()
    sent = {"normal": 0, "error": 0, "cut": 0, "in_flight_done": 0, "in_flight_cut": 0}
    try:
        asyncio.run(traffic(gw, sent))
    finally:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.stop()
    assert gw.proc is not None and gw.proc.returncode == 0, gw.log()

    # The rows the gateway could not write (the database was locked) wait in the spool; the next
    # start replays them first: so does this.
    with Store.open(gw.db_path) as store:
        replayed = LedgerWriter(store).replay_spool()
    assert replayed > 0  # the in-flight rows did go through the spool

    data = usage_json(gw)
    authenticated = sum(sent.values())
    assert 40 <= authenticated <= 60
    assert data["requests"] == authenticated  # one row per authenticated request, none lost
    assert data["auth_failures"] == 3  # the wrong keys: counted, no rows

    reported = (
        [openai_counts(r.usage) for r in fake_oai.reported_usage]
        + [anthropic_counts(r.usage) for r in fake_ant.reported_usage]
        + [gemini_counts(r.usage) for r in fake_gem.reported_usage]
    )
    # Every request that ended in full reported its usage; none cut short did.
    assert len(reported) == sent["normal"] + sent["in_flight_done"]
    provider = data["by_source"]["provider"]
    assert provider["requests"] == len(reported)
    expected = [sum(c[i] for c in reported) for i in range(4)]
    assert [provider[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens")] == (
        expected
    )
    assert data["by_source"]["estimated"]["requests"] == sent["cut"] + sent["in_flight_cut"]
    assert data["by_source"]["estimated"]["completion_tokens"] > 0
    assert data["by_source"]["none"]["requests"] == sent["error"]
    assert data["by_source"]["none"]["total_tokens"] == 0

    # Cost: the priced models' reported tokens at 1 and 2 USD/M; the drip models have no price.
    priced = {m for m in MODELS.values()}
    reports: list[tuple[ReportedUsage, Callable[[dict[str, Any]], Counts]]] = [
        *((r, openai_counts) for r in fake_oai.reported_usage),
        *((r, anthropic_counts) for r in fake_ant.reported_usage),
        *((r, gemini_counts) for r in fake_gem.reported_usage),
    ]
    cost = sum(p + 2 * c for r, counts in reports if r.model in priced for p, c, _, _ in [counts(r.usage)])
    assert data["cost_usd"] == pytest.approx(cost / 1e6, rel=1e-9)
    assert data["unpriced_requests"] == sent["cut"] + sent["in_flight_done"] + sent["in_flight_cut"]


async def traffic(gw: GatewayProcess, sent: dict[str, int]) -> None:
    c = Clients(gw.base_url)
    try:
        calls: list[Awaitable[None]] = []
        for up, model in MODELS.items():
            for stream in (False, True):
                for _ in range(2):
                    calls.append(c.openai_chat(f"{up}/{model}", stream))
                    calls.append(c.anthropic_message(f"{up}/{model}", stream))
                    sent["normal"] += 2
            calls.append(c.expect_error(c.openai_chat(f"{up}/fail-500", stream=False)))
            calls.append(c.expect_error(c.anthropic_message(f"{up}/rate-limited", stream=True)))
            sent["error"] += 2
            for dialect in ("openai", "anthropic"):
                calls.append(c.stream_until(dialect, f"{up}/{CUT_DRIP}", events=4))
                sent["cut"] += 1
        for _ in range(3):
            calls.append(wrong_key(c))
        await asyncio.gather(*calls)

        # In flight at SIGTERM: streams that end within the grace, and streams that do not; the
        # database locked meanwhile, so their rows take the spool.
        started: list[asyncio.Event] = []
        flights = []
        for up in MODELS:
            for dialect, model in (("openai", SHORT_DRIP), ("anthropic", SHORT_DRIP), ("openai", LONG_DRIP)):
                started.append(asyncio.Event())
                flights.append(asyncio.create_task(c.stream_until(dialect, f"{up}/{model}", 2, started[-1])))
                sent["in_flight_done" if model == SHORT_DRIP else "in_flight_cut"] += 1
        async with asyncio.timeout(30):
            for event in started:
                await event.wait()
        await asyncio.sleep(0.5)  # the earlier rows are written (the writer's batches are quicker)
        holder = sqlite3.connect(gw.db_path, isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        try:
            began = time.monotonic()
            stopping = asyncio.create_task(asyncio.to_thread(gw.stop))
            async with asyncio.timeout(GRACE + 20):
                await asyncio.gather(*flights)
                assert await stopping == 0
            assert time.monotonic() - began >= GRACE - 1  # the long streams kept it for the grace
        finally:
            holder.rollback()
            holder.close()
    finally:
        await c.aclose()


async def wrong_key(c: Clients) -> None:
    r = await c.http.post(
        "/v1/chat/completions",
        json={"model": "oai/gpt-4o-mini", "messages": USER},
        headers={"authorization": "Bearer not-the-key"},
    )
    assert r.status_code == 401
