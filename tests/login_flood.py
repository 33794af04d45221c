"""A flood of bogus portal logins, for tests/test_login_flood.py, in a process of its own (so the test's
own measurements do not wait behind its event loop).

`python -m tests.login_flood URL CONCURRENCY SECONDS`: CONCURRENCY logins in flight at all times for
SECONDS, each with a made-up user name (or the real admin's) and password, and from its own made-up
address (X-Forwarded-For, for a gateway that trusts 127.0.0.1 as its proxy): no throttle ever sees an
address twice, as from a botnet. Prints "flooding" once the first logins are sent, then, at the end,
the answers' status codes counted, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter

import httpx


async def _worker(client: httpx.AsyncClient, url: str, deadline: float, counts: Counter[str]) -> None:
    while time.monotonic() < deadline:
        name = random.choice(("alice", f"nobody{random.randrange(10**6)}"))
        address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        try:
            r = await client.post(
                "/ui/login",
                data={"username": name, "password": f"guess-{random.randrange(10**9)}"},
                headers={"origin": url, "x-forwarded-for": address},
            )
            counts[str(r.status_code)] += 1
        except httpx.HTTPError as exc:
            counts[type(exc).__name__] += 1


async def flood(url: str, concurrency: int, seconds: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        deadline = time.monotonic() + seconds
        workers = [asyncio.create_task(_worker(client, url, deadline, counts)) for _ in range(concurrency)]
        print("flooding", flush=True)
        await asyncio.gather(*workers)
    return counts


if __name__ == "__main__":
    counts = asyncio.run(flood(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
    print(json.dumps(counts), flush=True)
