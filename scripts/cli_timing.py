"""The mechanics behind `scripts/bench-cli` and the account commands' case of `scripts/bench`: a seeded
database, and `llmgw user list`, `key list` and `limit list` timed as a user runs them (whole process,
from outside; wall time and the finished child's CPU time). Standard library only."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

TARGET_MS = 150.0
COMMANDS = (("user", "list"), ("key", "list"), ("limit", "list"))
PASSWORD = "a long bench password"


def child_env(src: Path, tmp: Path) -> dict[str, str]:
    """The commands' environment: no LLMGW_* setting, llmgw from `src`, and compiled bytecode kept (in a
    cache of the run's own, never in a checkout) as an installed llmgw has it, whatever
    PYTHONDONTWRITEBYTECODE says in the caller's environment."""
    skip = ("LLMGW_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(PYTHONPATH=str(src), DBUS_SESSION_BUS_ADDRESS="", PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
    return env


def llmgw(python: str, src: Path, config: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [python, "-m", "llmgw", *args, "--config", str(config)],
        env=child_env(src, config.parent),
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        cwd=config.parent,  # not the checkout: `-m` puts the working directory first on sys.path
    )
    return done.stdout


def seed(python: str, src: Path, config: Path) -> None:
    """The team of the issue's first hour: an admin, three users, eight keys, two limits."""
    llmgw(python, src, config, "user", "add", "root", "--admin", "--password-stdin", stdin=PASSWORD)
    for name in ("ada", "bob", "cy"):
        llmgw(python, src, config, "user", "add", name, "--password-stdin", stdin=PASSWORD)
    keys = [
        llmgw(python, src, config, "key", "create", name)
        for name in ("root", "ada", "ada", "bob", "bob", "bob", "cy", "cy")
    ]
    llmgw(
        python, src, config, "limit", "set", "ada", "--rpm", "60", "--budget-usd", "25", "--period", "month"
    )
    llmgw(python, src, config, "limit", "set", keys[3].split("-")[1], "--tpm", "100000")


def timed(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """One run: (wall ms, CPU ms of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def measure(python: str, src: Path, runs: int) -> dict[str, list[tuple[float, float]]]:
    """Each command's (wall ms, CPU ms) over `runs` runs after one warm-up, by command ("user list")."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "llmgw.toml"
        config.write_text(f'[server]\ndatabase = "{Path(tmp) / "llmgw.db"}"\n', encoding="utf-8")
        seed(python, src, config)
        env = child_env(src, Path(tmp))
        found: dict[str, list[tuple[float, float]]] = {" ".join(c): [] for c in COMMANDS}
        argvs = {" ".join(c): [python, "-m", "llmgw", *c, "--config", str(config)] for c in COMMANDS}
        for argv in argvs.values():  # warm-up: the page cache, the bytecode cache
            timed(argv, env, tmp)
        for _ in range(runs):  # in turn, so a slower moment of the machine hits each alike
            for name, argv in argvs.items():
                found[name].append(timed(argv, env, tmp))
    return found


def medians(times: list[tuple[float, float]]) -> tuple[float, float]:
    """(median wall ms, median CPU ms)."""
    return statistics.median(w for w, _ in times), statistics.median(c for _, c in times)
