"""The mechanics behind `scripts/bench`: pinned processes, wrk runs, and readings from /proc.

Standard library only, so the bench runs with any Python 3.11; the gateway and the fake upstream run
from the project's .venv. Linux only (taskset, /proc).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "CpuTimes",
    "Proc",
    "WrkResult",
    "cpu_seconds",
    "cpu_times",
    "free_port",
    "pinned",
    "post",
    "rss_bytes",
    "run_wrk",
    "wrk_version",
]

CLK_TCK = os.sysconf("SC_CLK_TCK")

# wrk's own Lua: the request, then one machine-readable line from the `done` callback with exact
# percentiles (microseconds) and every error counter (status = responses with a status above 399).
_LUA = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {{"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,'
    .. '"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,'
    .. '"mean_us":%.1f,"max_us":%.0f}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int | None, argv: Sequence[str]) -> list[str]:
    """`argv` run on one CPU through taskset (which execs, so the pid stays the program's own)."""
    return ["taskset", "-c", str(cpu), *argv] if cpu is not None else list(argv)


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads included (/proc/PID/stat utime, stime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; fields[0] is the state
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included."""
    return sum(cpu_times(pid))


def rss_bytes(pid: int) -> int:
    """Resident set size now (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Busy and total jiffies of each CPU, from /proc/stat; subtract two readings for a busy share."""

    busy: dict[int, int]
    total: dict[int, int]

    @classmethod
    def read(cls) -> CpuTimes:
        busy: dict[int, int] = {}
        total: dict[int, int] = {}
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            ticks = [int(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
            cpu = int(name[3:])
            total[cpu] = sum(ticks)
            busy[cpu] = total[cpu] - ticks[3] - ticks[4]
        return cls(busy, total)

    def busy_since(self, before: CpuTimes) -> dict[int, float]:
        """Share of time each CPU was busy between `before` and this reading (0..1)."""
        return {
            cpu: (self.busy[cpu] - before.busy[cpu]) / max(1, self.total[cpu] - before.total[cpu])
            for cpu in self.total
        }


class Proc:
    """A child process with its output in a log file; `stop()` sends SIGTERM and reaps it."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd
            )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_ready(self, url: str, key: str | None = None, timeout: float = 30.0) -> None:
        """Poll GET `url` until it answers 200; raise with the log's tail if the process dies or times out."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
            request = urllib.request.Request(url, headers=headers)
            with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=1) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout:.0f}s:\n{self.tail()}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; the exit code (negative: killed by that signal)."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def post(url: str, body: bytes, key: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One POST with the bench's headers; (status, body), HTTP errors included."""
    req = urllib.request.Request(
        url, body, {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass(slots=True)
class WrkResult:
    """One wrk run, as its `done` callback reported it; latencies in microseconds."""

    requests: int
    duration_us: int
    bytes: int
    connect: int
    read: int
    write: int
    status: int  # responses with a status above 399 (wrk's "Non-2xx or 3xx responses")
    timeout: int
    p50_us: int
    p90_us: int
    p99_us: int
    mean_us: float
    max_us: int

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status

    def to_json(self) -> dict[str, float]:
        return {**asdict(self), "rps": round(self.rps, 1), "errors": self.errors}


def wrk_version() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return "missing"
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    return (out.stdout + out.stderr).split("Copyright")[0].strip() or "unknown"


def run_wrk(
    url: str,
    body: bytes,
    key: str,
    *,
    connections: int,
    seconds: int,
    cpu: int | None,
    workdir: Path,
    on_tick: Callable[[], None] | None = None,
) -> WrkResult:
    """Drive `url` with wrk (one thread, `connections` connections) for `seconds`; `on_tick` ~5x a second."""
    script = workdir / f"wrk-{os.getpid()}-{time.monotonic_ns()}.lua"
    # A JSON string is a valid Lua string literal for these ASCII bodies.
    script.write_text(_LUA.format(body=json.dumps(body.decode()), key=key))
    argv = pinned(
        cpu,
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url],
    )
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + seconds + 30  # wrk stops itself; this only bounds a hang
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"wrk did not finish within {seconds + 30}s")
            if on_tick is not None:
                on_tick()
            time.sleep(0.2)
        output = proc.stdout.read() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        script.unlink(missing_ok=True)
    for line in output.splitlines():
        if line.startswith("BENCH "):
            return WrkResult(**{k: int(v) if k != "mean_us" else v for k, v in json.loads(line[6:]).items()})
    raise RuntimeError(f"wrk printed no result (exit {proc.returncode}):\n{output}")
