"""Runs the real `llmgw serve` (hypercorn on a loopback port) in a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayProcess:
    """`llmgw serve --config FILE` with the given TOML and environment; stop() sends SIGTERM."""

    def __init__(
        self,
        tmp: Path,
        config_toml: str,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        command: tuple[str, ...] = (sys.executable, "-m", "llmgw"),
    ) -> None:
        self.port = free_port()
        self.db_path = tmp / "llmgw.db"
        self.config_path = tmp / "llmgw.toml"
        self.config_path.write_text(
            f"[server]\nport = {self.port}\ndatabase = '{self.db_path}'\n" + config_toml, encoding="utf-8"
        )
        self.log_path = tmp / "gateway.log"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("LLMGW_") and not k.startswith("OPENAI_")
        }
        self.env.update(env or {})
        self.args = args
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> GatewayProcess:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*self.command, "serve", "--config", str(self.config_path), *self.args],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()  # or a ResourceWarning hides this failure behind another one
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the gateway and wait for it to exit; returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
