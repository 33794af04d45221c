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
    "MAX_VARIANT_RATIO",
    "PEER_CASES",
    "PORTKEY_VERSION",
    "VARIANT_CASES",
    "CpuTimes",
    "PeerRow",
    "Proc",
    "Totals",
    "VariantRow",
    "WrkResult",
    "cpu_seconds",
    "cpu_times",
    "free_port",
    "peer_rows",
    "peer_table",
    "pinned",
    "portkey_headers",
    "post",
    "rss_bytes",
    "run_wrk",
    "totals",
    "variant_rows",
    "variant_table",
    "wrk_script",
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
{extra}
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


def post(
    url: str, body: bytes, key: str, timeout: float = 10.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One POST with the bench's headers (and `headers`); (status, body), HTTP errors included."""
    req = urllib.request.Request(
        url,
        body,
        {"Content-Type": "application/json", "Authorization": f"Bearer {key}", **(headers or {})},
        method="POST",
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


def wrk_script(body: bytes, key: str, headers: dict[str, str] | None = None) -> str:
    """wrk's Lua for one POST of `body` with the bench's headers and `headers`."""
    # A JSON string is a valid Lua string literal for these ASCII bodies (and header names and values).
    extra = "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in (headers or {}).items())
    return _LUA.format(body=json.dumps(body.decode()), key=key, extra=extra)


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
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Drive `url` with wrk (one thread, `connections` connections) for `seconds`; `on_tick` ~5x a second.
    `headers` are sent besides the bench's own (a peer gateway's routing headers)."""
    script = workdir / f"wrk-{os.getpid()}-{time.monotonic_ns()}.lua"
    script.write_text(wrk_script(body, key, headers))
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


# -- a peer gateway side by side (issue #22) -------------------------------------------------------

PORTKEY_VERSION = "1.15.2"  # the version issue #22 measured


def portkey_headers(upstream_port: int) -> dict[str, str]:
    """Portkey's routing headers: its `openai` provider, sent to the fake upstream instead of OpenAI
    (127.0.0.1 is on its default list of trusted custom hosts)."""
    return {"x-portkey-provider": "openai", "x-portkey-custom-host": f"http://127.0.0.1:{upstream_port}/v1"}


# The cases of issue #22's table: (label, mode, connections, upstream model), in the order they run.
PEER_CASES = (
    ("non-stream c=32", "non-stream", 32, "chunks-20"),
    ("stream c=32", "stream", 32, "chunks-20"),
    ("50 ms upstream c=64", "non-stream", 64, "slow-0.05"),
    ("non-stream c=1", "non-stream", 1, "chunks-20"),
)
# The cases where llmgw's variants (users mode with limits on, the Responses API) run beside its legacy
# chat completions in the same rounds, and how much dearer in CPU per request they may be (issue #22).
VARIANT_CASES = ("non-stream c=32", "stream c=32")
MAX_VARIANT_RATIO = 1.10


@dataclass(frozen=True, slots=True)
class Totals:
    """One target's runs of one case, over every round: sums, and the median of the rounds' p50s."""

    requests: int
    seconds: float
    cpu_s: float | None  # None: not measured (the direct runs)
    p50_us: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_request(self) -> float | None:
        return self.cpu_s / self.requests * 1e6 if self.cpu_s is not None and self.requests else None


def totals(runs: Sequence[tuple[WrkResult, float | None]]) -> Totals:
    """Sum (wrk result, CPU seconds or None) over rounds; the p50 is the median round's."""
    if not runs:
        raise ValueError("no runs to sum")
    p50s = sorted(r.p50_us for r, _ in runs)
    mid = len(p50s) // 2
    p50 = p50s[mid] if len(p50s) % 2 else (p50s[mid - 1] + p50s[mid]) / 2
    cpus = [c for _, c in runs]
    return Totals(
        requests=sum(r.requests for r, _ in runs),
        seconds=sum(r.duration_us for r, _ in runs) / 1e6,
        cpu_s=None if any(c is None for c in cpus) else sum(c for c in cpus if c is not None),
        p50_us=p50,
        errors=sum(r.errors for r, _ in runs),
    )


@dataclass(frozen=True, slots=True)
class PeerRow:
    """One line of the side-by-side table: the peer's figure, llmgw's, their ratio, issue #22's goal."""

    case: str
    peer: str
    llmgw: str
    ratio: str
    goal: str
    met: bool


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def peer_rows(direct: dict[str, Totals], llmgw: dict[str, Totals], peer: dict[str, Totals]) -> list[PeerRow]:
    """Issue #22's table from each target's totals per case label (PEER_CASES): ratios are llmgw over
    the peer; a goal is met only when neither side had errors in that case."""
    rows: list[PeerRow] = []
    label = "non-stream c=32"
    g, p = llmgw[label], peer[label]
    clean = not g.errors and not p.errors
    r = _ratio(g.rps, p.rps)
    rows.append(
        PeerRow(f"{label}, req/s", f"{p.rps:,.0f}", f"{g.rps:,.0f}", f"{r:.2f}x", ">= 2x", clean and r >= 2)
    )
    gc, pc = g.cpu_us_per_request or 0.0, p.cpu_us_per_request or 0.0
    r = _ratio(gc, pc)
    rows.append(
        PeerRow(
            f"{label}, CPU us/request",
            f"{pc:,.0f}",
            f"{gc:,.0f}",
            f"{r:.2f}x",
            "<= 0.5x",
            clean and 0 < r <= 0.5,
        )
    )
    label = "stream c=32"
    g, p = llmgw[label], peer[label]
    r = _ratio(g.rps, p.rps)
    met = not g.errors and not p.errors and r >= 2
    rows.append(
        PeerRow(f"{label} (20 chunks), req/s", f"{p.rps:,.0f}", f"{g.rps:,.0f}", f"{r:.2f}x", ">= 2x", met)
    )
    label = "50 ms upstream c=64"
    d, g, p = direct[label], llmgw[label], peer[label]
    gs, ps = _ratio(g.rps, d.rps), _ratio(p.rps, d.rps)
    met = not g.errors and gs >= 0.9
    rows.append(PeerRow(f"{label}, share of direct", f"{ps:.2f}", f"{gs:.2f}", "-", ">= 0.9", met))
    label = "non-stream c=1"
    d, g, p = direct[label], llmgw[label], peer[label]
    ga, pa = (g.p50_us - d.p50_us) / 1000, (p.p50_us - d.p50_us) / 1000
    met = not g.errors and ga <= 0.6
    rows.append(PeerRow(f"{label}, added p50", f"{pa:+.2f} ms", f"{ga:+.2f} ms", "-", "<= +0.6 ms", met))
    return rows


def peer_table(peer_name: str, rows: Sequence[PeerRow]) -> list[str]:
    """The rows as a Markdown table (what docs/PERFORMANCE.md shows), a verdict per goal."""
    lines = [f"| case | {peer_name} | llmgw | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for row in rows:
        verdict = "yes" if row.met else "NO"
        lines.append(f"| {row.case} | {row.peer} | {row.llmgw} | {row.ratio} | {row.goal} | {verdict} |")
    return lines


@dataclass(frozen=True, slots=True)
class VariantRow:
    """One line of the variants' table: an llmgw variant's figure beside llmgw's legacy chat
    completions' and the peer's, measured in the same rounds."""

    case: str
    peer: str
    chat: str
    variant: str
    vs_chat: str
    goal: str
    met: bool | None  # None: no goal on this line
    vs_peer: str


def variant_rows(
    name: str, variant: dict[str, Totals], chat: dict[str, Totals], peer: dict[str, Totals]
) -> list[VariantRow]:
    """Req/s and CPU per request of one llmgw variant (`name`, e.g. "users + limits") per case it ran
    (in PEER_CASES order), as ratios to legacy chat's and to the peer's. Issue #22's goal: CPU per request
    at most MAX_VARIANT_RATIO x legacy chat's, met only when neither the variant nor chat had errors."""
    rows: list[VariantRow] = []
    for label, mode, *_ in PEER_CASES:
        if label not in variant:
            continue
        v, c, p = variant[label], chat[label], peer[label]
        case = f"{name}, {label}{' (20 chunks)' if mode == 'stream' else ''}"
        rows.append(
            VariantRow(
                f"{case}, req/s",
                f"{p.rps:,.0f}",
                f"{c.rps:,.0f}",
                f"{v.rps:,.0f}",
                f"{_ratio(v.rps, c.rps):.2f}x",
                "-",
                None,
                f"{_ratio(v.rps, p.rps):.2f}x",
            )
        )
        vc, cc, pc = (t.cpu_us_per_request or 0.0 for t in (v, c, p))
        r = _ratio(vc, cc)
        met = not v.errors and not c.errors and 0 < r <= MAX_VARIANT_RATIO
        rows.append(
            VariantRow(
                f"{case}, CPU us/request",
                f"{pc:,.0f}",
                f"{cc:,.0f}",
                f"{vc:,.0f}",
                f"{r:.2f}x",
                f"<= {MAX_VARIANT_RATIO:.2f}x",
                met,
                f"{_ratio(vc, pc):.2f}x",
            )
        )
    return rows


def variant_table(peer_name: str, rows: Sequence[VariantRow]) -> list[str]:
    """The variants' rows as a Markdown table; the goal is on the ratio to legacy chat."""
    lines = [
        f"| case | {peer_name} | llmgw legacy chat | llmgw | vs legacy chat | goal | met | vs {peer_name} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        verdict = "-" if row.met is None else "yes" if row.met else "NO"
        lines.append(
            f"| {row.case} | {row.peer} | {row.chat} | {row.variant} | {row.vs_chat} | {row.goal} | "
            f"{verdict} | {row.vs_peer} |"
        )
    return lines
