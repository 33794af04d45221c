"""A flood of bogus portal logins, for tests/process/test_login_flood.py, in a process of its own (so the
test's own measurements do not wait behind its event loop).

`python -m tests.support.login_flood PORT CONCURRENCY SECONDS`: CONCURRENCY logins in flight at all times for
SECONDS on 127.0.0.1:PORT, each with a made-up user name (or the real admin's) and password, and from
its own made-up address (X-Forwarded-For, for a gateway that trusts 127.0.0.1 as its proxy): no
throttle ever sees an address twice, as from a botnet. Plain HTTP/1.1 over asyncio streams, not an
HTTP client library: on a 2-core machine the attacker's CPU must not be what slows the gateway down
(a real attacker's is not the server's). Prints "flooding" once the first logins are sent, then, at
the end, the answers' status codes counted, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter


def _request(port: int) -> bytes:
    name = random.choice(("alice", f"nobody{random.randrange(10**6)}"))
    body = f"username={name}&password=guess-{random.randrange(10**9)}".encode()
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    head = (
        f"POST /ui/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"X-Forwarded-For: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _worker(port: int, deadline: float, counts: Counter[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            writer.write(_request(port))
            status = (await reader.readuntil(b"\r\n")).split()[1].decode()
            length = 0
            while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            counts[status] += 1
    except (OSError, asyncio.IncompleteReadError) as exc:
        counts[type(exc).__name__] += 1
    finally:
        writer.close()


async def flood(port: int, concurrency: int, seconds: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    workers = [asyncio.create_task(_worker(port, deadline, counts)) for _ in range(concurrency)]
    print("flooding", flush=True)
    await asyncio.gather(*workers)
    return counts


if __name__ == "__main__":
    counts = asyncio.run(flood(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
    print(json.dumps(counts), flush=True)
