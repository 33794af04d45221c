"""packaging/llmgw.service and packaging/llmgw.sysusers, checked without a running systemd:

- `systemd-analyze verify` on the unit (on a copy whose ExecStart names a file that exists: verify
  checks that, and this machine has no /usr/local/bin/llmgw), with nothing said at all (verify exits 0
  on an unknown key or a bad specifier, and only warns);
- `systemd-analyze security --offline=true`: the overall exposure at most 2.0, "OK";
- `systemd-sysusers --root` makes the unit's user, its home the state directory;
- what the unit says agrees with llmgw (the stop timeout outlasts the drain, each `LLMGW_*_FILE=%d/X`
  has its `LoadCredential=X:…`, no reload while llmgw handles no SIGHUP);
- and the gateway runs as the unit starts it: the unit's `Environment=` (its paths moved under a
  temporary directory, `%d` a credentials directory), its ExecStart arguments, `UMask=`, a clean
  environment with HOME the state directory, a private TMPDIR, the kernel's own write-xor-execute
  (`PR_SET_MDWE`, Linux 6.3+) for `MemoryDenyWriteExecute=yes`, serving a request with the provider key
  read from the credential and stopping on SIGTERM; under strace, every system call it made is one
  the unit's `SystemCallFilter=` allows, no mapping was made writable and executable or made executable
  later (systemd's MemoryDenyWriteExecute rule), and it wrote only in the state directory and /tmp
  (ProtectSystem=strict). `LLMGW_BINARY=dist/llmgw` runs the built executable so (its unpacking into
  /tmp and loading .so files from there included); otherwise `python -m llmgw`.

Skipped without systemd-analyze (or strace, for that part) unless LLMGW_REQUIRE_SYSTEMD=1, which CI sets
on Linux (scripts/test): then they fail.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from llmgw.server.os_limits import descriptors_needed
from llmgw.settings import ServerConfig
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import free_port
from tests.support.required import required, unavailable

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "llmgw.service"
SYSUSERS = ROOT / "packaging" / "llmgw.sysusers"
REQUIRED = required("LLMGW_REQUIRE_SYSTEMD")
DEBIAN_TOOLS = "systemd-analyze, systemd-sysusers and strace, Debian packages (scripts/install-system-deps)"
UPSTREAM_KEY = "sk-openai-key-from-a-systemd-credential-0123"
PR_SET_MDWE = 65  # prctl(2), Linux 6.3+
PR_MDWE_REFUSE_EXEC_GAIN = 1

# Sets the unit's umask and, when asked, the kernel's write-xor-execute (inherited across execve),
# then becomes the gateway: what systemd does between fork and exec, for the parts a test can do.
LAUNCHER = """
import ctypes, os, sys
mask, mdwe, *command = sys.argv[1:]
os.umask(int(mask, 8))
# prctl(PR_SET_MDWE = 65, PR_MDWE_REFUSE_EXEC_GAIN = 1): no W+X mapping, none made executable later
if mdwe == "1" and ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:
    sys.exit("PR_SET_MDWE: " + os.strerror(ctypes.get_errno()))
os.execv(command[0], command)
"""


def tool(name: str) -> str:
    """The program `name`: skipped without it, failed if LLMGW_REQUIRE_SYSTEMD=1."""
    path = shutil.which(name)
    if path is None:
        unavailable("LLMGW_REQUIRE_SYSTEMD", f"{name} is not installed (Debian: scripts/install-system-deps)")
    return path


@dataclass
class Unit:
    """A unit file's assignments, in order, by section."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Unit:
        unit, section = cls(), ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            assert not line.endswith("\\"), (
                f"no continuation lines here (this reader does not join them): {raw}"
            )
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            unit.entries.append((section, key.strip(), value.strip()))
        return unit

    def all(self, key: str, section: str = "Service") -> list[str]:
        return [v for s, k, v in self.entries if s == section and k == key]

    def one(self, key: str, section: str = "Service") -> str:
        values = self.all(key, section)
        assert len(values) == 1, f"{key}= set {len(values)} times"
        return values[0]

    def environment(self) -> dict[str, str]:
        """Environment=, one unquoted VAR=value per line (as the unit writes them)."""
        env: dict[str, str] = {}
        for assignment in self.all("Environment"):
            assert not re.search(r"[\s\"']", assignment), f"one unquoted variable per line: {assignment}"
            name, _, value = assignment.partition("=")
            env[name] = value
        return env

    def credentials(self) -> dict[str, str]:
        """LoadCredential=ID:PATH, by ID."""
        return dict(c.split(":", 1) for c in self.all("LoadCredential"))


def seconds(value: str) -> float:
    """A systemd time span of the forms the unit uses: `45`, `45s`, `2min`."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min|)", value)
    assert match, f"unexpected time span {value!r}"
    return float(match[1]) * (60 if match[2] == "min" else 1)


# --- what the unit says, against llmgw ------------------------------------------------------------


def test_the_unit_agrees_with_llmgw() -> None:
    unit = Unit.read(UNIT)
    env = unit.environment()
    drain = ServerConfig.model_fields["shutdown_grace"].default
    assert seconds(unit.one("TimeoutStopSec")) > drain, "SIGKILL would cut the drain short"
    backlog = ServerConfig.model_fields["backlog"].default
    assert int(unit.one("LimitNOFILE")) >= descriptors_needed(backlog), "start would warn: too few files"
    assert unit.one("KillSignal") == "SIGTERM"
    assert unit.one("Restart") == "on-failure"
    state, config = unit.one("StateDirectory"), unit.one("ConfigurationDirectory")
    assert env["LLMGW_DATABASE"] == f"/var/lib/{state}/llmgw.db"
    assert env["LLMGW_CONFIG"] == f"/etc/{config}/llmgw.toml"
    assert shlex.split(unit.one("ExecStart")) == ["/usr/local/bin/llmgw", "serve"]
    credentials = unit.credentials()
    files = {k: v for k, v in env.items() if k.startswith("LLMGW_") and k.endswith("_FILE")}
    assert files, "provider keys come from credentials"
    for var, path in files.items():
        assert path.startswith("%d/"), f"{var} reads the credentials directory"
        assert path.removeprefix("%d/") in credentials, f"{var}: no LoadCredential= for it"
    assert not [k for k in env if k.endswith("_API_KEY") or k == "LLMGW_PROXY_KEY"], "no secret in the unit"
    # Nothing in llmgw reloads on SIGHUP: configuration changes are a restart, and the unit offers no
    # reload that would do nothing. If a handler is ever added, give the unit its ExecReload.
    sighup = [p for p in (ROOT / "llmgw").rglob("*.py") if "SIGHUP" in p.read_text(encoding="utf-8")]
    assert sighup == [] and unit.all("ExecReload") == []


# --- systemd's own tools ----------------------------------------------------------------------------


def verify(path: Path) -> str:
    done = subprocess.run(
        [tool("systemd-analyze"), "verify", "--man=no", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}".strip()


def unit_copy(tmp_path: Path, text: str) -> Path:
    """The unit under its own name, its ExecStart's program replaced by an executable file that exists."""
    program = tmp_path / "bin" / "llmgw"
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    program.chmod(0o755)
    folder = tmp_path / "unit"
    folder.mkdir(exist_ok=True)
    copy = folder / UNIT.name
    copy.write_text(
        text.replace("ExecStart=/usr/local/bin/llmgw ", f"ExecStart={program} "), encoding="utf-8"
    )
    return copy


@pytest.mark.needs_debian_tools(reason=DEBIAN_TOOLS)
def test_systemd_analyze_verifies_the_unit_without_a_word(tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert verify(unit_copy(tmp_path, text)) == "exit 0"
    # the check can fail: a misspelt key and a bad specifier are only warnings, but they are said
    broken = text.replace("ProtectHome=yes", "ProtectHom=yes").replace("%d/", "%Q/")
    said = verify(unit_copy(tmp_path, broken))
    assert "Unknown key 'ProtectHom'" in said and "Failed to resolve specifiers" in said
    # and the original as it ships names a program that must exist where it says
    assert "/usr/local/bin/llmgw" in verify(UNIT) or Path("/usr/local/bin/llmgw").exists()


@pytest.mark.needs_debian_tools(reason=DEBIAN_TOOLS)
def test_the_units_exposure_is_at_most_2_ok() -> None:
    done = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = re.findall(r"Overall exposure level for llmgw\.service: (\d+(?:\.\d+)?) (\w+)", done.stdout)
    assert len(found) == 1, done.stdout[-2000:]
    level, verdict = float(found[0][0]), found[0][1]
    assert level <= 2.0 and verdict == "OK", done.stdout[-2000:]


@pytest.mark.needs_debian_tools(reason=DEBIAN_TOOLS)
def test_sysusers_makes_the_units_user(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    done = subprocess.run(
        [tool("systemd-sysusers"), f"--root={tmp_path}", str(SYSUSERS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    unit = Unit.read(UNIT)
    users = [line.split(":") for line in (tmp_path / "etc" / "passwd").read_text().splitlines()]
    groups = [line.split(":") for line in (tmp_path / "etc" / "group").read_text().splitlines()]
    [user] = [u for u in users if u[0] == unit.one("User")]
    [group] = [g for g in groups if g[0] == unit.one("Group")]
    assert user[3] == group[2], "the user's primary group is the unit's Group="
    assert 0 < int(user[2]) < 1000, "a system user"
    assert user[5] == f"/var/lib/{unit.one('StateDirectory')}"
    assert user[6].endswith("nologin")


@pytest.mark.needs_debian_tools(reason=DEBIAN_TOOLS)
def test_install_service_gives_systemd_what_it_needs(tmp_path: Path) -> None:
    """`llmgw install-service --root` (the built binary's with LLMGW_BINARY: its copies of the files are
    package data), then systemd's own tools on what it wrote: sysusers makes the user from
    /etc/sysusers.d, the unit verifies."""
    sysusers_tool = tool("systemd-sysusers")
    program, extra = gateway_command()
    done = subprocess.run(
        [*program, "install-service", "--root", str(tmp_path)],
        env={**os.environ, **extra},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "systemctl enable --now llmgw" in done.stdout
    sysusers = subprocess.run(
        [sysusers_tool, f"--root={tmp_path}"], capture_output=True, text=True, timeout=60
    )
    assert sysusers.returncode == 0, sysusers.stderr
    users = [line.split(":") for line in (tmp_path / "etc" / "passwd").read_text().splitlines()]
    assert [u[5] for u in users if u[0] == "llmgw"] == ["/var/lib/llmgw"]
    unit = (tmp_path / "etc" / "systemd" / "system" / "llmgw.service").read_text(encoding="utf-8")
    assert unit == UNIT.read_text(encoding="utf-8")
    assert verify(unit_copy(tmp_path / "check", unit)) == "exit 0"


# --- the gateway as the unit starts it ------------------------------------------------------------


def mdwe_available() -> bool:
    """Whether this kernel has PR_SET_MDWE (checked in a child: the flag cannot be cleared)."""
    call = f"ctypes.CDLL(None).prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0)"
    probe = f"import ctypes, sys; sys.exit({call} != 0)"
    return subprocess.run([sys.executable, "-c", probe], timeout=30).returncode == 0


def syscall_groups() -> dict[str, list[str]]:
    """`systemd-analyze syscall-filter`'s groups: each group's members (calls and groups)."""
    out = subprocess.run(
        [tool("systemd-analyze"), "syscall-filter", "--no-pager"], capture_output=True, text=True, timeout=60
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] = []
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.split()[0], [])
        elif line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    assert "@system-service" in groups, out[:500]
    return groups


def allowed_syscalls(unit: Unit) -> set[str]:
    """The calls the unit's SystemCallFilter= lets through: the allow list less the deny lists, plus
    what systemd always allows (systemd.exec(5): execve, exit, exit_group, getrlimit, rt_sigreturn,
    sigreturn, and querying time and sleeping)."""
    groups = syscall_groups()

    def expand(name: str) -> set[str]:
        if not name.startswith("@"):
            return {name}
        return set().union(*(expand(member) for member in groups[name]))

    allowed: set[str] = set()
    denied: set[str] = set()
    for value in unit.all("SystemCallFilter"):
        target = denied if value.startswith("~") else allowed
        for name in value.removeprefix("~").split():
            target |= expand(name)
    always = {"execve", "exit", "exit_group", "getrlimit", "rt_sigreturn", "sigreturn"}
    return (allowed - denied) | always | expand("@default")


# An strace line: `PID name(args) = result`, or the start of an unfinished call.
CALL = re.compile(r"^\d+\s+(?P<name>[a-z0-9_]+)\((?P<args>.*?)(?:\) += (?P<result>.*)| <unfinished \.\.\.>)$")
WRITES = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
PATH_CALLS = {
    "mkdir",
    "mkdirat",
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
}


@dataclass
class Trace:
    calls: set[str] = field(default_factory=set)
    wx_mappings: list[str] = field(default_factory=list)
    written: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, path: Path) -> Trace:
        trace = cls()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = CALL.match(line)
            if match is None:
                continue  # a resumed call, a signal, an exit
            name, args = match["name"], match["args"]
            trace.calls.add(name)
            # systemd's rule: no mapping both writable and executable, none made executable later
            writable_exec = name in ("mmap", "mmap2") and "PROT_WRITE" in args
            if "PROT_EXEC" in args and (writable_exec or name in ("mprotect", "pkey_mprotect")):
                trace.wx_mappings.append(line)
            elif name in ("open", "openat", "openat2", "creat") and (name == "creat" or WRITES.search(args)):
                trace.written.update(_paths(args)[:1])
            elif name in PATH_CALLS:
                paths = _paths(args)
                # A symbolic link's first string is what it points to (PyInstaller's links to the
                # unpacked libraries, relative to them), not a path written.
                trace.written.update(paths[1:] if name in ("symlink", "symlinkat") else paths)
        return trace


def _paths(args: str) -> list[str]:
    """The paths of a call's arguments, as `strace -y` shows them (a directory fd's `<path>` joined)."""
    found: list[str] = []
    base = "/"
    for fd_path, string in re.findall(r'(?:AT_FDCWD|\d+)<([^>]*)>|"((?:[^"\\]|\\.)*)"', args):
        if fd_path:
            base = fd_path
        elif string:
            found.append(os.path.normpath(os.path.join(base, string)))
            base = "/"
    return found


def gateway_command() -> tuple[list[str], dict[str, str]]:
    """The program to run as ExecStart's (the built binary, or this checkout's package), and what its
    environment needs beside the unit's."""
    binary = os.environ.get("LLMGW_BINARY")
    if binary:
        return [str(Path(binary).resolve())], {}
    return [sys.executable, "-m", "llmgw"], {"PYTHONDONTWRITEBYTECODE": "1"}  # the binary writes no .pyc


def run_cli(command: list[str], args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [*command, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.needs_debian_tools(reason=DEBIAN_TOOLS)
@pytest.mark.linux_only(reason="the unit's environment and restrictions are Linux's (prctl, strace, /proc)")
def test_the_gateway_runs_as_the_unit_starts_it(tmp_path: Path) -> None:
    unit = Unit.read(UNIT)
    strace = shutil.which("strace")
    if strace is None and REQUIRED:
        unavailable("LLMGW_REQUIRE_SYSTEMD", "strace is not installed (Debian: scripts/install-system-deps)")
    allowed = allowed_syscalls(unit) if strace else set()

    # The unit's paths, moved under tmp_path: what systemd would create before ExecStart.
    state = tmp_path / "var-lib" / unit.one("StateDirectory")
    etc = tmp_path / "etc" / unit.one("ConfigurationDirectory")
    creds = tmp_path / "credentials"
    private_tmp = tmp_path / "private-tmp"
    for folder in (state, etc, creds, private_tmp):
        folder.mkdir(parents=True)
    state.chmod(int(unit.one("StateDirectoryMode"), 8))
    moved = {
        f"/var/lib/{unit.one('StateDirectory')}": str(state),
        f"/etc/{unit.one('ConfigurationDirectory')}": str(etc),
        "%d": str(creds),
    }

    def move(value: str) -> str:
        for old, new in moved.items():
            value = value.replace(old, new)
        return value

    for credential in unit.credentials():
        (creds / credential).write_text(UPSTREAM_KEY + "\n", encoding="utf-8")
        (creds / credential).chmod(0o400)
    program, extra = gateway_command()
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(state),
        "TMPDIR": str(private_tmp),  # PrivateTmp: /tmp is the service's own
        "CREDENTIALS_DIRECTORY": str(creds),
        **extra,
        **{k: move(v) for k, v in unit.environment().items()},
    }
    assert set(env) >= {"LLMGW_CONFIG", "LLMGW_DATABASE", "LLMGW_OPENAI_API_KEY_FILE"}
    mdwe = unit.one("MemoryDenyWriteExecute") == "yes"
    if mdwe and not mdwe_available():
        if REQUIRED:
            pytest.fail("MemoryDenyWriteExecute=yes is not checked: this kernel has no PR_SET_MDWE (6.3+)")
        mdwe = False  # the strace check below still holds the rule

    with FakeOpenAI(accepted_keys=(UPSTREAM_KEY,)) as fake:
        port = free_port()
        Path(env["LLMGW_CONFIG"]).write_text(
            f'[server]\nport = {port}\n\n[providers.openai]\ntype = "openai"\nbase_url = "{fake.base_url}"\n',
            encoding="utf-8",
        )
        # The administrator's first user and key, as the service's user would make them.
        run_cli(
            program, ["user", "add", "admin", "--admin", "--password-stdin"], env, "a-long-enough-password\n"
        )
        token = run_cli(program, ["key", "create", "admin"], env).strip()

        exec_args = shlex.split(unit.one("ExecStart"))[1:]
        command = [
            sys.executable,
            "-c",
            LAUNCHER,
            unit.one("UMask"),
            "1" if mdwe else "0",
            *program,
            *exec_args,
        ]
        trace_file = tmp_path / "strace.txt"
        if strace:
            command = [strace, "-f", "-qq", "-y", "-s", "4096", "-o", str(trace_file), *command]
        log_path = tmp_path / "journal.txt"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                command, env=env, cwd="/", stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            try:
                answer = _first_answer(proc, port, token, log_path)
            finally:
                gateway = _gateway_pid(proc.pid, strace is not None)
                os.kill(gateway, signal.SIGTERM)  # what systemctl stop sends (KillSignal=)
                code = proc.wait(timeout=seconds(unit.one("TimeoutStopSec")))
        received = [r.api_key for r in fake.requests if r.path.endswith("/chat/completions")]

    journal = log_path.read_text(encoding="utf-8", errors="replace")
    assert answer.status_code == 200, f"{answer.text}\n{journal}"
    assert received == [UPSTREAM_KEY]
    assert code == 0, journal
    assert "1 key from LLMGW_OPENAI_API_KEY_FILE" in journal and UPSTREAM_KEY not in journal
    assert "llmgw stopped" in journal
    db = Path(env["LLMGW_DATABASE"])
    assert db.exists() and db.stat().st_mode & 0o077 == 0, "UMask=0077: the database is the user's alone"

    if strace is None:
        pytest.skip("strace is not installed: the system calls, mappings and writes were not checked")
    trace = Trace.read(trace_file)
    outside = sorted(trace.calls - allowed)
    if os.geteuid() == 0:
        # SQLite chowns its journal and WAL to the database's owner only when it runs as root; the unit
        # runs as its own user (and a call outside the filter fails with EPERM, which SQLite ignores).
        outside = [c for c in outside if c not in ("fchown", "fchownat", "chown")]
    assert outside == [], "system calls outside SystemCallFilter="
    assert trace.wx_mappings == [], "MemoryDenyWriteExecute=yes would refuse these"
    writable = (str(state), str(private_tmp), "/dev/null")
    assert sorted(p for p in trace.written if not p.startswith(writable)) == [], "ProtectSystem=strict"


def _first_answer(proc: subprocess.Popen[bytes], port: int, token: str, log_path: Path) -> httpx.Response:
    """The gateway's answer to one chat completion, once it is up (a slow start under strace)."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the gateway did not come up:\n{log_path.read_text()}")
        time.sleep(0.2)
    return httpx.post(
        f"{base}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    )


def _gateway_pid(pid: int, traced: bool) -> int:
    """The gateway's own process: strace's child when traced (the launcher became the gateway)."""
    if not traced:
        return pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return pid
        raise
    return int(children[0]) if children else pid
