"""The container image, run from its own filesystem:
`LLMGW_IMAGE=llmgw:latest pytest tests/process/test_image.py`.

Build it first (`scripts/build`, then `scripts/build-image`). Without LLMGW_IMAGE every test here is skipped,
unless LLMGW_REQUIRE_IMAGE=1 (CI), which turns that into a failure. Needs root and podman.

This machine's sandbox refuses `podman run` (crun's setrlimit is denied), so the test does what a container
runtime does, with the image's own parts: `podman create` + `podman mount` give the container's root
filesystem; `podman image inspect` its configuration (Env, User, Entrypoint, Cmd, Healthcheck, …); then
`unshare` runs the entrypoint in new PID and mount namespaces (it is PID 1 there, as in a container, so
SIGTERM reaches it only if it handles it), with /proc mounted and the device nodes a runtime provides,
chrooted into that filesystem, as the image's user, with exactly the image's environment (its port
replaced by a free one). The network is the host's, so the fake upstream on 127.0.0.1 is reachable.
The container's /data here is its own layer rather than a volume: the same files, owners and modes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from tests.conftest import ledger_row, provider
from tests.support.fakes.fake_server import DRIP_CHUNKS
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import free_port
from tests.support.required import unavailable

pytestmark = pytest.mark.linux_only(
    reason="runs a Linux container image: podman, and util-linux's unshare as root, mount namespaces"
)
MAX_IMAGE_BYTES = 60_000_000  # the goal of issue #21: 60 MB
DEVICES = ("null", "zero", "full", "random", "urandom")  # what Docker and podman give every container
TOKEN = re.compile(r"llmgw-[0-9a-f]{16}-[A-Za-z0-9_-]{43}")
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello"}]


def _image() -> str:
    """The image under test, from LLMGW_IMAGE: skip without it, or fail if CI requires it."""
    value = os.environ.get("LLMGW_IMAGE")
    if not value:
        unavailable(
            "LLMGW_REQUIRE_IMAGE",
            "LLMGW_IMAGE is not set: build with scripts/build-image, then LLMGW_IMAGE=llmgw:latest",
        )
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("podman") is None:
        pytest.fail("running the image needs Linux, root and podman (scripts/install-system-deps)")
    return value


def podman(*args: str) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass(frozen=True)
class Image:
    """What `podman image inspect` says of the image: what a runtime reads to run it."""

    name: str
    env: dict[str, str]
    uid: int
    gid: int
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    volumes: list[str]
    exposed: list[str]
    workdir: str
    size: int


@dataclass(frozen=True)
class Container:
    image: Image
    root: Path  # the merged filesystem of `podman mount`
    mounts: list[Path]  # bind mounts into it, undone at the end

    def bind(self, source: Path, target: str) -> None:
        """Bind-mount the file `source` at `target` inside, as a runtime mounts a secret."""
        node = self.root / target.lstrip("/")
        node.parent.mkdir(parents=True, exist_ok=True)
        node.touch()
        subprocess.run(["mount", "--bind", str(source), str(node)], check=True)
        self.mounts.append(node)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` as the runtime starts it: PID 1 of new PID and mount namespaces, /proc mounted, chrooted
        into the image, as its user (no supplementary groups), in its working directory."""
        unshare = shutil.which("unshare")
        assert unshare is not None, "unshare (util-linux) is missing"
        return [
            unshare,
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc=/proc",
            f"--root={self.root}",
            f"--wd={self.image.workdir}",
            f"--setuid={self.image.uid}",
            f"--setgid={self.image.gid}",
            *argv,
        ]

    def env(self, **extra: str) -> dict[str, str]:
        """The image's environment and nothing of this process's, plus `extra` (`docker run -e`)."""
        return {**self.image.env, **extra}

    def run(
        self, argv: Sequence[str], env: Mapping[str, str], stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(argv), env=dict(env), input=stdin, capture_output=True, text=True, timeout=120
        )

    def start(self, argv: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                self.command(argv),
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )


def _inspect(name: str) -> Image:
    found = json.loads(podman("image", "inspect", name))
    assert len(found) == 1
    info: dict[str, Any] = found[0]
    config: dict[str, Any] = info["Config"]
    user, _, group = str(config.get("User", "")).partition(":")
    assert user.isdigit() and group.isdigit(), f"USER should be numeric uid:gid, is {config.get('User')!r}"
    env = dict(item.split("=", 1) for item in config.get("Env", []))
    healthcheck = (info.get("Healthcheck") or config.get("Healthcheck") or {}).get("Test", [])
    return Image(
        name=name,
        env=env,
        uid=int(user),
        gid=int(group),
        entrypoint=list(config.get("Entrypoint") or []),
        cmd=list(config.get("Cmd") or []),
        healthcheck=list(healthcheck),
        volumes=sorted(config.get("Volumes") or {}),
        exposed=sorted(config.get("ExposedPorts") or {}),
        workdir=str(config.get("WorkingDir") or "/"),
        size=int(info["Size"]),
    )


@pytest.fixture(scope="module")
def image() -> Image:
    return _inspect(_image())


@pytest.fixture
def container(image: Image) -> Iterator[Container]:
    """A new container of the image, its filesystem mounted, with the device nodes a runtime adds."""
    name = f"llmgw-test-{uuid.uuid4().hex[:8]}"
    podman("create", "--name", name, image.name)
    bound: list[Path] = []
    try:
        container = Container(image, Path(podman("mount", name)), bound)
        (container.root / "proc").mkdir(mode=0o755, exist_ok=True)
        for device in DEVICES:
            container.bind(Path("/dev", device), f"/dev/{device}")
        yield container
    finally:
        for node in reversed(bound):
            subprocess.run(["umount", str(node)], check=False)
        subprocess.run(["podman", "umount", name], capture_output=True, check=False)
        subprocess.run(["podman", "rm", "--force", name], capture_output=True, check=False)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90  # the one-file executable unpacks itself first
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the container's entrypoint exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the gateway in the image never became healthy:\n{log.read_text()}")


def test_the_image_is_configured_for_a_runtime(image: Image) -> None:
    assert image.size <= MAX_IMAGE_BYTES, f"{image.size} bytes"
    assert image.uid != 0 and image.gid != 0
    assert image.entrypoint + image.cmd == ["llmgw", "serve"]
    assert image.healthcheck == ["CMD", "llmgw", "healthcheck"]  # docker format: an OCI image drops it
    assert image.volumes == ["/data"] and image.workdir == "/data"
    env = image.env
    assert image.exposed == [f"{env['LLMGW_PORT']}/tcp"]
    assert env["LLMGW_HOST"] == "0.0.0.0"
    assert env["LLMGW_DATABASE"] == "/data/llmgw.db" and env["LLMGW_CONFIG"] == "/data/llmgw.toml"
    assert env["PYTHON_KEYRING_BACKEND"] == "keyring.backends.fail.Keyring"
    assert not [name for name in env if name.endswith("_API_KEY") or name == "LLMGW_PROXY_KEY"]


def test_the_filesystem_is_the_executable_and_what_it_needs(container: Container) -> None:
    root, image = container.root, container.image
    assert (root / "usr/local/bin/llmgw").stat().st_mode & 0o777 == 0o755
    assert not (root / "bin/sh").exists() and not (root / "usr/bin").exists()  # no shell, nothing else
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    data = container.data.stat()
    assert (data.st_uid, data.st_gid, data.st_mode & 0o777) == (image.uid, image.gid, 0o700)
    passwd = (root / "etc/passwd").read_text().splitlines()
    assert f"llmgw:x:{image.uid}:{image.gid}:llmgw:/data:/sbin/nologin" in passwd
    assert f"llmgw:x:{image.gid}:" in (root / "etc/group").read_text().splitlines()
    libraries = sorted(p.name for p in (root / "lib/x86_64-linux-gnu").iterdir())
    assert "libc.so.6" in libraries and "libz.so.1" in libraries
    assert not [name for name in libraries if name.startswith(("libssl", "libpython", "libsqlite"))]


def test_serve_from_the_image_then_sigterm_drains_the_stream_and_the_ledger(
    container: Container, tmp_path: Path
) -> None:
    image = container.image
    upstream_key = f"sk-image-{uuid.uuid4().hex}"
    port = free_port()
    # the provider key as a Docker secret: a file of the host, bind-mounted, read through LLMGW_*_FILE
    secret = tmp_path / "up_api_key"
    secret.write_text(upstream_key + "\n", encoding="utf-8")
    os.chown(secret, image.uid, image.gid)
    secret.chmod(0o400)
    container.bind(secret, "/run/secrets/up_api_key")
    env = container.env(LLMGW_PORT=str(port), LLMGW_UP_API_KEY_FILE="/run/secrets/up_api_key")
    password = "correct horse battery"
    log = tmp_path / "container.log"
    with FakeOpenAI(accepted_keys=(upstream_key,)) as fake:
        config = container.data / "llmgw.toml"  # the operator's file in the volume
        config.write_text(config.read_text() + provider("up", fake.base_url), encoding="utf-8")

        # first start: an account and a key, made by the image's own executable (`docker exec … llmgw …`)
        made = container.run(["llmgw", "user", "add", "ada", "--password-stdin"], env, stdin=password)
        assert made.returncode == 0, made.stderr
        created = container.run(["llmgw", "key", "create", "ada"], env)
        assert created.returncode == 0, created.stderr
        token = TOKEN.search(created.stdout)
        assert token is not None, created.stdout
        unhealthy = container.run(image.healthcheck[1:], env)  # nothing serves yet
        assert unhealthy.returncode == 1 and f"127.0.0.1:{port}/healthz" in unhealthy.stderr

        proc = container.start(image.entrypoint + image.cmd, env, log)
        try:
            _wait_healthy(f"http://127.0.0.1:{port}", proc, log)
            (pid1,) = _children(proc.pid)  # the entrypoint, PID 1 of its namespace
            assert _status(pid1)["NSpid"].split()[-1] == "1"
            for pid in (pid1, *_children(pid1)):  # the bootloader and the gateway it unpacked
                status = _status(pid)
                assert status["Uid"].split() == [str(image.uid)] * 4, status
                assert status["Gid"].split() == [str(image.gid)] * 4 and status["Groups"] == "", status

            health = container.run(image.healthcheck[1:], env)
            assert health.returncode == 0, health.stderr

            client = OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key=token[0], max_retries=0, timeout=60
            )
            raw = client.chat.completions.with_raw_response.create(model="up/gpt-4o-mini", messages=USER)
            plain_id = raw.headers["x-request-id"]
            assert raw.parse().choices[0].message.content
            with client.chat.completions.with_streaming_response.create(
                model="up/drip-10", messages=USER, stream=True
            ) as streamed:
                stream_id = streamed.headers["x-request-id"]
                chunks = iter(streamed.parse())
                received = [next(chunks)]
                # `docker stop`: SIGTERM to the container's PID 1, from outside, with 199 chunks to come
                os.kill(pid1, signal.SIGTERM)
                received.extend(chunks)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = log.read_text(encoding="utf-8", errors="replace")
    assert code == 0, output
    # the stream was not cut: every chunk, then the upstream's own end
    assert len([c for c in received if c.choices and c.choices[0].delta.content]) == DRIP_CHUNKS, output
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in received)
    assert "llmgw stopped" in output and "Traceback" not in output
    assert "provider up (openai-compatible): 1 key from LLMGW_UP_API_KEY_FILE" in output
    # no keyring in a container, on purpose: one INFO line says so, no warning, no D-Bus
    keyring_lines = [line for line in output.splitlines() if "keyring" in line.lower()]
    assert len(keyring_lines) == 1 and " INFO llmgw.credentials " in keyring_lines[0], output
    assert "D-Bus" not in output and "DBUS" not in output
    for value in (upstream_key, password, token[0]):
        assert value not in output + made.stdout + made.stderr + created.stderr
    for request_id, streamed_row in ((plain_id, 0), (stream_id, 1)):
        row = ledger_row(container.data / "llmgw.db", request_id, timeout=0.1)  # on disk: flushed at exit
        assert row["status"] == 200 and row["provider"] == "up" and row["streamed"] == streamed_row
        assert row["completion_tokens"] > 0
    assert ledger_row(container.data / "llmgw.db", stream_id, timeout=0.1)["completion_tokens"] >= DRIP_CHUNKS
    written = [p for p in container.data.rglob("*") if p.is_file()]
    assert container.data / "llmgw.db" in written
    for path in written:
        st = path.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (image.uid, image.gid, 0o600), path
    assert list((container.root / "tmp").iterdir()) == []  # the unpacked executable removed itself
