"""`scripts/bench --instances`: one `llmgw serve` on SQLite against `llmgw serve --workers 3` on PostgreSQL,
both in `auth_mode = "users"` with a personal key, non-stream chat completions through wrk at 1 and 32
connections (alternating, `rounds` times), the fake upstream as the main bench starts it.

PostgreSQL is set up as the tests do (tests/support/postgres.py: initdb and pg_ctl in a temporary
directory, a loopback port), imported from the checkout. Nothing is pinned: the workers are meant to use
every CPU. The gateway's CPU is that of its processes (for --workers: the parent's children) over a run.
Prints req/s, p50/p99 and CPU ms per request per case; the numbers, never a pass or a miss.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bench_lib import Proc, WrkResult, cpu_seconds, free_port, run_wrk

ROOT = Path(__file__).resolve().parent.parent

_MAKE_KEY = """\
import sys
from llmgw.services import keys, users
from llmgw.services.audit import Actor
from llmgw.storage import Store
with Store.open(sys.argv[1]) as store:
    users.create_user(store, Actor.cli(), "bench", "correct horse battery")
    print(keys.create_key(store, Actor.cli(), "bench").token)
"""
BODY = json.dumps({"model": "up/chunks-20", "messages": [{"role": "user", "content": "Hi"}]}).encode()


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(p) for p in pids)


def run(
    python: Path,
    env: dict[str, str],
    upstream_port: int,
    workdir: Path,
    seconds: int,
    warmup: int,
    rounds: int,
) -> list[dict[str, Any]]:
    """Run the cases; one dict per (case, connections, round)."""
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import running_server

    results: list[dict[str, Any]] = []
    with running_server() as pg:
        url = pg.create_database()
        cases = {"sqlite x1": str(workdir / "inst-sqlite.db"), "postgresql --workers 3": url}
        gateways: dict[str, tuple[Proc, int, str]] = {}
        try:
            for name, database in cases.items():
                port = free_port()
                folder = workdir / name.replace(" ", "_")
                folder.mkdir()
                config = folder / "llmgw.toml"
                config.write_text(
                    f'[server]\nport = {port}\ndatabase = "{database}"\nauth_mode = "users"\n'
                    'log_level = "warning"\n'
                    f'[providers.up]\ntype = "openai-compatible"\nbase_url = "http://127.0.0.1:{upstream_port}/v1"\n',
                    encoding="utf-8",
                )
                token = _run_python(python, env, _MAKE_KEY, database)
                argv = [str(python), "-m", "llmgw", "serve", "--config", str(config)]
                if database == url:
                    argv += ["--workers", "3"]
                genv = {**env, "LLMGW_UP_API_KEY": "sk-bench", "XDG_DATA_HOME": str(folder / "data")}
                proc = Proc(name, argv, folder / "gateway.log", genv, ROOT)
                proc.wait_ready(f"http://127.0.0.1:{port}/healthz")
                gateways[name] = (proc, port, token)
            time.sleep(1)  # the workers' start
            for r in range(rounds):
                for c in (1, 32):
                    for name, (proc, port, token) in gateways.items():
                        pids = [proc.pid, *_children(proc.pid)]
                        url_ = f"http://127.0.0.1:{port}/v1/chat/completions"
                        run_wrk(url_, BODY, token, connections=c, seconds=warmup, cpu=None, workdir=workdir)
                        before = _cpu(pids)
                        res: WrkResult = run_wrk(
                            url_, BODY, token, connections=c, seconds=seconds, cpu=None, workdir=workdir
                        )
                        used = _cpu(pids) - before
                        results.append(
                            {
                                "case": name,
                                "connections": c,
                                "round": r,
                                "rps": res.requests / (res.duration_us / 1e6),
                                "p50_ms": res.p50_us / 1000,
                                "p99_ms": res.p99_us / 1000,
                                "errors": res.status + res.timeout + res.connect + res.read + res.write,
                                "cpu_ms_per_request": 1000 * used / max(1, res.requests),
                            }
                        )
        finally:
            for proc, _, _ in gateways.values():
                proc.stop()
    return results


def _run_python(python: Path, env: dict[str, str], code: str, *args: str) -> str:
    import subprocess

    done = subprocess.run(
        [str(python), "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if done.returncode:
        raise RuntimeError(f"llmgw helper failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'case':<24}{'c':>4}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'errors':>8}"]
    for c in (1, 32):
        for name in dict.fromkeys(r["case"] for r in results):
            rows = [r for r in results if r["case"] == name and r["connections"] == c]
            med = {
                k: sorted(r[k] for r in rows)[len(rows) // 2]
                for k in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")
            }
            errors = sum(r["errors"] for r in rows)
            lines.append(
                f"{name:<24}{c:>4}{med['rps']:>10.0f}{med['p50_ms']:>9.2f}{med['p99_ms']:>9.2f}"
                f"{med['cpu_ms_per_request']:>12.3f}{errors:>8}"
            )
    lines.append(
        f"(medians of {max(r['round'] for r in results) + 1} rounds; {os.cpu_count()} CPUs, nothing pinned)"
    )
    return "\n".join(lines)
