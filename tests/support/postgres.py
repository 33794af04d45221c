"""A real PostgreSQL server for the tests: Debian's `postgresql` binaries (`initdb`, `pg_ctl`), a cluster in
a temporary directory listening on a Unix socket there and on a free loopback port, trust authentication
for the one superuser, stopped at the end. No mock: the storage and service tests run their SQL on it.

Where the binaries are missing the tests that need it skip, unless `LLMGW_REQUIRE_POSTGRES` is set
(scripts/test and .ci/run set it, after scripts/install-system-deps installed `postgresql`).

initdb refuses to run as root: as root the cluster is made and run as the `postgres` system user the
Debian package creates (its directory handed to that user), and the tests connect over its socket.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.required import unavailable

REQUIRE = "LLMGW_REQUIRE_POSTGRES"
_names = itertools.count(1)


def binaries() -> Path | None:
    """The directory of `initdb` and `pg_ctl`: Debian keeps them under /usr/lib/postgresql/<major>/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """One running cluster: its directory, socket directory and port; `url(db)` for a database in it."""

    root: Path
    bin: Path
    port: int
    as_user: str | None  # run its commands as this user (root cannot run PostgreSQL)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def url(self, database: str = "postgres") -> str:
        """A URL over the loopback port (what a user writes; the socket works too)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(argv)
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        """Start (or restart after `stop`) the server and wait until it takes connections."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off"
        options += " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def create_database(self) -> str:
        """A new empty database's URL (each test its own: nothing shared between tests)."""
        import psycopg

        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(psycopg.Error), psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _make(root: Path, bin_dir: Path) -> PgServer:
    as_user = None
    if os.geteuid() == 0:
        import pwd  # POSIX only, as is running as root here

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable(REQUIRE, "running as root and there is no `postgres` user to run PostgreSQL as")
        as_user = "postgres"
    (root / "run").mkdir()
    server = PgServer(root, bin_dir, _free_port(), as_user)
    if as_user:
        subprocess.run(["chown", "-R", f"{as_user}:", str(root)], check=True)
        root.chmod(0o755)
    server._run(
        str(bin_dir / "initdb"), "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
        "--no-locale", "--no-sync",
    )  # fmt: skip
    server.start()
    return server


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """A new cluster for the duration of the block (a pytest session or one test that restarts it)."""
    bin_dir = binaries()
    if bin_dir is None:
        unavailable(REQUIRE, "PostgreSQL's initdb and pg_ctl are not installed (Debian: postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable(REQUIRE, "psycopg is not installed")
    root = Path(tempfile.mkdtemp(prefix="llmgw-pg-"))
    server: PgServer | None = None
    try:
        server = _make(root, bin_dir)
        deadline = time.monotonic() + 30
        while True:  # pg_ctl -w returned: the socket takes connections; the TCP port too, normally
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        if server is not None:
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
