"""`Upstream.chunks`: each read of a stream within `chunk_timeout`, kept by one re-armed timer per stream
(`llmgw.relay.idle_watch`). The upstream is an in-memory body whose pieces arrive after set pauses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import uvloop

from llmgw.errors import UpstreamTimeout
from llmgw.providers import adapter_for
from llmgw.relay.idle_watch import IdleWatch
from llmgw.relay.keypool import KeyPool
from llmgw.relay.upstream import Upstream
from llmgw.settings import ProviderConfig

LIMIT = 0.4  # chunk_timeout: pauses well under it pass, a stall far over it does not
LOOPS = pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])  # as served


class PacedBody(httpx.AsyncByteStream):
    """Pieces that arrive after the given pauses; None as a pause is a stall (the body never ends)."""

    def __init__(self, pauses: list[float | None]) -> None:
        self.pauses = pauses

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, pause in enumerate(self.pauses):
            await asyncio.sleep(3600 if pause is None else pause)
            yield f"piece {i}\n".encode()


def upstream() -> Upstream:
    config = ProviderConfig(
        type="openai-compatible", base_url="http://upstream.invalid/v1", chunk_timeout=LIMIT
    )
    return Upstream(
        "up",
        config,
        adapter_for("up", config),
        KeyPool("up", ["k"]),
        httpx.MockTransport(lambda r: httpx.Response(500)),
    )


def response(pauses: list[float | None]) -> httpx.Response:
    return httpx.Response(200, stream=PacedBody(pauses))


async def collect(
    pauses: list[float | None], first_timeout: float | None = None, between: float = 0.0
) -> list[bytes]:
    got = []
    async for chunk in upstream().chunks(response(pauses), first_timeout):
        got.append(chunk)
        if between:
            await asyncio.sleep(between)
    return got


@LOOPS
def test_many_chunks_within_the_limit_outlast_it_together(run: Callable[..., list[bytes]]) -> None:
    """30 pauses of a quarter of the limit: the stream lasts ~2x the limit and none is cut."""
    got = run(collect([LIMIT / 4] * 30))
    assert len(got) == 30


@LOOPS
def test_a_stall_after_many_chunks_is_an_upstream_timeout(run: Callable[..., list[bytes]]) -> None:
    async def stalled() -> list[bytes]:
        got: list[bytes] = []
        with pytest.raises(UpstreamTimeout, match="did not answer in time"):
            async for chunk in upstream().chunks(response([LIMIT / 4] * 12 + [None])):
                got.append(chunk)
        return got

    assert len(run(stalled())) == 12  # every piece before the stall reached the consumer


def test_the_consumers_time_between_reads_is_not_counted() -> None:
    """The consumer takes twice the limit over each chunk; the upstream answers each read at once."""
    assert len(asyncio.run(collect([0.0] * 3, between=LIMIT * 2))) == 3


def test_the_first_read_gets_first_timeout_and_later_ones_chunk_timeout() -> None:
    assert len(asyncio.run(collect([LIMIT * 2, 0.0], first_timeout=LIMIT * 5))) == 2
    with pytest.raises(UpstreamTimeout):
        asyncio.run(collect([0.0, LIMIT * 2], first_timeout=LIMIT * 5))  # the armed 5x limit is shortened


def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def run() -> None:
        task = asyncio.create_task(collect([LIMIT / 8, None]))
        await asyncio.sleep(LIMIT / 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())


def test_a_timeout_leaves_the_task_uncancelled() -> None:
    """The watch's own cancellation is withdrawn as it becomes UpstreamTimeout: the task goes on."""

    async def run() -> int:
        with pytest.raises(UpstreamTimeout):
            await collect([None])
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0)  # would raise CancelledError had the cancellation been left pending
        return task.cancelling()

    assert asyncio.run(run()) == 0


def test_a_watch_that_never_fired_reports_no_expiry() -> None:
    async def run() -> None:
        watch = IdleWatch()
        watch.begin(LIMIT)
        watch.end()
        watch.close()
        assert not watch.expired()

    asyncio.run(run())
