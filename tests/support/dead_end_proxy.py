"""A dead-end HTTP proxy on 127.0.0.1: where a real client's traffic for the internet goes in tests.

A client under test (Codex CLI, the Agents SDK) gets ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` set to
this proxy and ``NO_PROXY`` set to the loopback names, so its calls to the gateway go straight there and
everything else it would send out (update checks, telemetry, analytics, login endpoints, tracing) comes
here instead of the internet. Nothing is forwarded: each request's head is read, its target (the
``CONNECT`` authority or the absolute URI's host) recorded, and ``403 Forbidden`` sent back before the
connection is closed. A test can then assert what a client tried to reach (``targets``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

__all__ = ["DeadEndProxy"]

_HEAD_LIMIT = 64 * 1024
_REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
NO_PROXY = "127.0.0.1,localhost,::1"


def _target(request_line: str) -> str:
    """``host:port`` of a proxied request line (``CONNECT host:443 HTTP/1.1`` or ``GET http://h/p ...``)."""
    parts = request_line.split()
    if len(parts) < 2:
        return request_line
    method, uri = parts[0], parts[1]
    if method.upper() == "CONNECT":
        return uri
    split = urlsplit(uri)
    if split.hostname is None:
        return uri
    port = split.port or (443 if split.scheme in ("https", "wss") else 80)
    return f"{split.hostname}:{port}"


class DeadEndProxy:
    """Listens on an ephemeral loopback port in a daemon thread until stopped; ``targets`` lists what was
    asked for, in order."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._targets: list[str] = []
        self._thread = threading.Thread(target=self._serve, name=f"dead-end-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def targets(self) -> list[str]:
        with self._lock:
            return list(self._targets)

    def env(self) -> dict[str, str]:
        """The proxy variables, in both spellings the clients' HTTP stacks read."""
        names = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
        values = {name: self.url for name in names} | {"NO_PROXY": NO_PROXY}
        return values | {name.lower(): value for name, value in values.items()}

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        # shutdown() wakes the accept() below, which then fails and ends the thread
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._refuse, args=(conn,), daemon=True).start()

    def _refuse(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                if head:
                    line = head.split(b"\r\n", 1)[0].decode("latin-1")
                    with self._lock:
                        self._targets.append(_target(line))
                conn.sendall(_REFUSAL)
            except OSError:
                pass
