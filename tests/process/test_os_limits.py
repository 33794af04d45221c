"""A real `llmgw serve` listens with the configured backlog (what `ss` shows as a listening socket's
Send-Q) and runs with its soft open-files limit raised to the hard one (/proc/PID/limits)."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROXY_KEY
from tests.support.gateway_process import GatewayProcess

pytestmark = pytest.mark.linux_only(reason="/proc/PID/limits, /proc/sys/net/core/somaxconn and iproute2's ss")

ENV = {"LLMGW_PROXY_KEY": PROXY_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}


def listen_backlog(port: int) -> int:
    """The backlog of the socket listening on `port`: for a listening TCP socket `ss` shows it as
    Send-Q (Recv-Q being the connections waiting in it now)."""
    ss = shutil.which("ss")
    if ss is None:  # iproute2 is on every Debian, but not in every minimal container
        pytest.skip("iproute2's ss is not installed")
    out = subprocess.run(
        [ss, "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    [line] = out.splitlines()
    state, _recv_q, send_q, *_ = line.split()
    assert state == "LISTEN"
    return int(send_q)


def test_serve_listens_with_the_configured_backlog(tmp_path: Path) -> None:
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text(encoding="ascii"))
    wanted = min(1234, somaxconn)  # below the kernel's cap, so the socket shows exactly it
    with GatewayProcess(tmp_path, f"backlog = {wanted}\n", ENV) as gw:
        assert listen_backlog(gw.port) == wanted
    assert "net.core.somaxconn" not in gw.log()


def test_a_backlog_above_somaxconn_is_capped_and_warned_about(tmp_path: Path) -> None:
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text(encoding="ascii"))
    if somaxconn >= 65535:
        pytest.skip(f"net.core.somaxconn is {somaxconn}: no setting can exceed it")
    with GatewayProcess(tmp_path, "", {**ENV, "LLMGW_BACKLOG": str(somaxconn + 1)}) as gw:
        assert listen_backlog(gw.port) == somaxconn
    assert (
        len(re.findall(r"WARNING llmgw backlog \d+ is above the kernel's net.core.somaxconn", gw.log())) == 1
    )


def soft_open_files(pid: int) -> tuple[int, int]:
    limits = Path(f"/proc/{pid}/limits").read_text(encoding="ascii")
    match = re.search(r"^Max open files\s+(\d+)\s+(\d+)", limits, re.M)
    assert match, limits
    return int(match[1]), int(match[2])


def test_serve_raises_its_soft_open_files_limit_to_the_hard_one(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 128:
        pytest.skip(f"hard open-files limit {hard}: nothing to lower the start below")
    low = min(1024, hard // 2)
    # `llmgw serve` started under a lowered soft limit, as a shell's `ulimit -Sn` would leave it.
    start_low = (
        sys.executable,
        "-c",
        "import resource, runpy; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({low}, {hard})); "
        "runpy.run_module('llmgw', run_name='__main__', alter_sys=True)",
    )
    with GatewayProcess(tmp_path, "backlog = 100\n", ENV, command=start_low) as gw:
        assert gw.proc is not None
        assert soft_open_files(gw.proc.pid) == (hard, hard)
    assert f"open files: soft limit raised from {low} to {hard} (hard {hard})" in gw.log()
