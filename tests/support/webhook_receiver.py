"""A webhook receiver on 127.0.0.1 for the budget alerts' tests: a real HTTP server in a thread that
keeps every POST (path and JSON body) and answers each with the next status of a script (200 once the
script is used up); `hold` makes it take a request and not answer until `release`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    status: int


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    received: list[Received] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)  # set: requests wait for `release`
    released: threading.Event = field(default_factory=threading.Event)
    waiting: int = 0  # requests held now

    def release(self) -> None:
        self.released.set()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Block until `count` POSTs arrived (answered or held); the list so far."""
        deadline = time.monotonic() + timeout
        while len(self.received) + self.waiting < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.received)} of {count} webhook calls arrived: {self.received}"
                )
            time.sleep(0.02)
        return list(self.received)


@contextmanager
def webhook_receiver(statuses: list[int] | None = None, *, hold: bool = False) -> Iterator[Receiver]:
    receiver = Receiver("", list(statuses or []))
    if hold:
        receiver.held.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(size) or b"{}")
            if receiver.held.is_set():
                receiver.waiting += 1
                receiver.released.wait(60)
                receiver.waiting -= 1
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            receiver.received.append(Received(self.path, body, status))
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/SECRETPART"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()
