"""`llmgw healthcheck`: exit 0 only when the configured listener answers /healthz with 200."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from llmgw.cli import main


class _Health(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("host")))
        body = b'{"status":"ok"}'
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture(autouse=True)
def _no_llmgw_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("LLMGW_")]:
        monkeypatch.delenv(name)


@contextmanager
def _server(status: int) -> Iterator[tuple[int, type[_Health]]]:
    """An HTTP server on a free loopback port answering /healthz with `status`; its port and handler."""
    handler = type("Handler", (_Health,), {"status": status, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def healthy() -> Iterator[int]:
    with _server(200) as (port, _):
        yield port


@pytest.fixture
def failing() -> Iterator[int]:
    with _server(503) as (port, _):
        yield port


def _config(tmp_path: Path, port: int, host: str = "127.0.0.1") -> str:
    path = tmp_path / "llmgw.toml"
    path.write_text(f'[server]\nhost = "{host}"\nport = {port}\n', encoding="utf-8")
    return str(path)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_a_healthy_gateway_is_exit_0(healthy: int, tmp_path: Path) -> None:
    assert main(["healthcheck", "--config", _config(tmp_path, healthy)]) == 0


def test_an_any_address_listener_is_reached_on_loopback(
    healthy: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["healthcheck", "--config", _config(tmp_path, healthy, host="0.0.0.0")]) == 0
    assert capsys.readouterr().err == ""


def test_the_environment_names_the_port(
    healthy: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, _closed_port())
    assert main(["healthcheck", "--config", config]) == 1
    monkeypatch.setenv("LLMGW_PORT", str(healthy))
    assert main(["healthcheck", "--config", config]) == 0


def test_an_error_status_is_exit_1_and_says_so(
    failing: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["healthcheck", "--config", _config(tmp_path, failing)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"llmgw healthcheck: http://127.0.0.1:{failing}/healthz: unhealthy: HTTP 503"
    )


def test_nothing_listening_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = _closed_port()
    assert main(["healthcheck", "--config", _config(tmp_path, port)]) == 1
    assert f"127.0.0.1:{port}/healthz: unhealthy: ConnectionRefusedError" in capsys.readouterr().err


def test_a_listener_that_never_answers_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) but never reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        code = main(["healthcheck", "--config", _config(tmp_path, port), "--timeout", "0.2"])
    assert code == 1
    assert "unhealthy: TimeoutError" in capsys.readouterr().err


def test_something_that_is_not_http_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]

        def answer_garbage() -> None:
            conn, _ = other.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=answer_garbage)
        thread.start()
        code = main(["healthcheck", "--config", _config(tmp_path, port)])
        thread.join()
    assert code == 1
    assert "unhealthy: BadStatusLine" in capsys.readouterr().err


def test_a_bad_configuration_is_unhealthy_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = 99999\n", encoding="utf-8")
    assert main(["healthcheck", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("llmgw healthcheck: unhealthy: ") and "port" in err
    assert main(["healthcheck", "--config", str(tmp_path / "absent.toml")]) == 1


@pytest.mark.parametrize("timeout", ["0", "-1"])
def test_a_timeout_must_be_positive(timeout: str, tmp_path: Path) -> None:
    assert main(["healthcheck", "--config", _config(tmp_path, 4000), "--timeout", timeout]) == 2


def test_only_healthz_is_asked(tmp_path: Path) -> None:
    with _server(200) as (port, handler):
        assert main(["healthcheck", "--config", _config(tmp_path, port)]) == 0
    assert handler.seen == [("/healthz", f"127.0.0.1:{port}")]
