"""The code paths only Windows or macOS take, run here by faking the platform: the serve lock's
`msvcrt.locking`, file modes where there are none, signals without the loop's handlers, no uvloop,
the user directories of each OS, the keyring's reasons, the agent run as a child instead of `execve`.
The real platforms run the same suite in CI (.github/workflows/test.yml)."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs.macos
import platformdirs.unix
import platformdirs.windows
import pytest
from keyring.errors import NoKeyringError

from llmgw.cli import run as cli_run
from llmgw.errors import DatabaseInUse
from llmgw.server import listeners
from llmgw.services import credentials, gemini_settings, passwords
from llmgw.settings import locations
from llmgw.storage import file_modes, serve_lock

# --- the serve lock on Windows: msvcrt.locking ------------------------------------------------------


class FakeMsvcrt(types.ModuleType):
    """`msvcrt.locking` as Windows does it: `nbytes` locked at the descriptor's position, per open file
    (a second open of the same file in this process is refused too), OSError when taken."""

    LK_UNLCK = 0
    LK_NBLCK = 2

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int, int], int] = {}  # (device, inode, offset) -> fd
        self.calls: list[tuple[int, int]] = []  # (mode, offset)

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        assert nbytes == 1
        info = os.fstat(fd)
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        key = (info.st_dev, info.st_ino, offset)
        self.calls.append((mode, offset))
        if mode == self.LK_NBLCK:
            if key in self.held:
                raise PermissionError(13, "Permission denied")
            self.held[key] = fd
        elif mode == self.LK_UNLCK:
            if self.held.get(key) != fd:
                raise PermissionError(13, "Permission denied")  # Windows: unlocking what is not held
            del self.held[key]
        else:
            raise ValueError(f"mode {mode} not faked")


@pytest.fixture
def msvcrt(monkeypatch: pytest.MonkeyPatch) -> FakeMsvcrt:
    fake = FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    return fake


def test_windows_serve_lock_refuses_a_second_holder_and_names_the_first(
    msvcrt: FakeMsvcrt, tmp_path: Path
) -> None:
    db = tmp_path / "llmgw.db"
    with serve_lock.hold_serve_lock(db, "http://127.0.0.1:4000", platform="win32") as path:
        assert msvcrt.held, "the lock was taken through msvcrt"
        with (
            pytest.raises(DatabaseInUse) as refused,
            serve_lock.hold_serve_lock(db, "http://127.0.0.1:4001", platform="win32"),
        ):
            pytest.fail("a second holder got the lock")
        assert refused.value.pid == os.getpid()
        assert refused.value.address == "http://127.0.0.1:4000"
        content = path.read_bytes()
    assert not msvcrt.held, "released on leaving the block"
    # The locked byte lies past what the refused server reads of the holder's words (Windows locks are
    # mandatory: a locked byte cannot be read).
    offsets = {offset for _, offset in msvcrt.calls}
    assert offsets == {serve_lock._WINDOWS_LOCK_OFFSET}
    assert max(len(content), 4096) < serve_lock._WINDOWS_LOCK_OFFSET
    with serve_lock.hold_serve_lock(db, "http://127.0.0.1:4002", platform="win32"):
        assert msvcrt.held


def test_windows_serve_lock_is_released_when_the_block_raises(msvcrt: FakeMsvcrt, tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        serve_lock.hold_serve_lock(tmp_path / "llmgw.db", "http://x", platform="win32"),
    ):
        raise RuntimeError("boom")
    assert not msvcrt.held
    assert [mode for mode, _ in msvcrt.calls] == [FakeMsvcrt.LK_NBLCK, FakeMsvcrt.LK_UNLCK]


def test_windows_serve_lock_refused_leaves_the_holders_words(msvcrt: FakeMsvcrt, tmp_path: Path) -> None:
    db = tmp_path / "llmgw.db"
    with serve_lock.hold_serve_lock(db, "http://first", platform="win32") as path:
        before = path.read_bytes()
        with pytest.raises(DatabaseInUse), serve_lock.hold_serve_lock(db, "http://second", platform="win32"):
            pass
        assert path.read_bytes() == before


@pytest.mark.posix_only(reason="flock is POSIX's")
def test_a_foreign_platform_name_takes_the_posix_lock(tmp_path: Path) -> None:
    db = tmp_path / "llmgw.db"
    with (
        serve_lock.hold_serve_lock(db, "http://first", platform="darwin"),
        pytest.raises(DatabaseInUse),
        serve_lock.hold_serve_lock(db, "http://second", platform="linux"),
    ):
        pass


# --- file modes where the OS has none (Windows) --------------------------------------------------------


@pytest.fixture
def no_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows as file_modes sees it: not POSIX, and no `os.fchmod` (Python < 3.13 there)."""
    monkeypatch.setattr(file_modes, "_POSIX", False)
    monkeypatch.delattr(os, "fchmod", raising=False)

    def no_chmod(*_: object, **__: object) -> None:
        raise AssertionError("chmod called where modes mean little")

    monkeypatch.setattr(os, "chmod", no_chmod)


@pytest.mark.usefixtures("no_modes")
def test_private_files_are_made_without_chmod_on_windows(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "settings.json"
    file_modes.replace_private(target, '{"x": 1}\n')
    assert target.read_text(encoding="utf-8") == '{"x": 1}\n'
    file_modes.create_private(tmp_path / "a" / "empty")
    assert (tmp_path / "a" / "empty").read_bytes() == b""
    os.close(file_modes.open_private(tmp_path / "a" / "empty", os.O_RDONLY))  # an existing one opens too


def test_loose_modes_are_not_reported_on_windows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wide = tmp_path / "llmgw.db"
    wide.write_bytes(b"")
    wide.chmod(0o666)  # Windows: only the read-only bit; here a mode POSIX would report
    monkeypatch.setattr(file_modes, "_POSIX", False)
    assert file_modes.loose_modes([wide]) == []


@pytest.mark.posix_only(reason="POSIX file modes")
def test_loose_modes_are_reported_on_posix(tmp_path: Path) -> None:
    wide = tmp_path / "llmgw.db"
    wide.write_bytes(b"")
    wide.chmod(0o644)
    assert file_modes.loose_modes([wide, tmp_path / "absent"]) == [(wide, 0o644)]


def test_private_files_are_opened_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Windows's C runtime opens a descriptor in text mode unless O_BINARY is given: every open of a
    private file carries it (here a fake bit, stripped before the real open)."""
    fake_binary = 1 << 29
    seen: list[int] = []
    real_open = os.open

    def recording_open(path: Any, flags: int, mode: int = 0o777) -> int:
        seen.append(flags)
        return real_open(path, (flags & ~fake_binary) | getattr(os, "O_BINARY", 0), mode)

    monkeypatch.setattr(file_modes, "_BINARY", fake_binary)
    monkeypatch.setattr(os, "open", recording_open)
    target = tmp_path / "api-key"
    file_modes.replace_private(target, "key\n")  # a new file
    file_modes.replace_private(target, "key2\n")  # over an old one
    os.close(file_modes.open_private(target, os.O_RDONLY))  # an existing file
    assert seen and all(flags & fake_binary for flags in seen)
    # One line end: "\n" here, "\r\n" on Windows (Python's own translation), never "\r\r\n"
    assert target.read_text(encoding="utf-8") == "key2\n"


def test_the_binary_flag_is_the_os_own() -> None:
    assert getattr(os, "O_BINARY", 0) == file_modes._BINARY
    if sys.platform == "win32":
        assert file_modes._BINARY != 0


# --- signals and the event loop ------------------------------------------------------------------------


class WindowsLikeLoop(asyncio.SelectorEventLoop):
    """A loop without signal handlers of its own, as Windows's are."""

    def add_signal_handler(self, sig: int, callback: Callable[..., object], *args: Any) -> None:
        raise NotImplementedError


def test_signals_stop_the_server_where_the_loop_has_no_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: dict[int, Callable[..., object]] = {}
    monkeypatch.setattr(signal, "signal", lambda sig, handler: installed.__setitem__(sig, handler))

    async def main() -> list[bool]:
        stop = asyncio.Event()
        listeners.stop_on_signals(asyncio.get_running_loop(), stop)
        before = stop.is_set()
        installed[signal.SIGTERM](signal.SIGTERM, None)  # as Python calls a handler
        await asyncio.wait_for(stop.wait(), 30)  # a guard against hanging, not a timing assertion
        return [before, stop.is_set()]

    loop = WindowsLikeLoop()
    try:
        assert loop.run_until_complete(main()) == [False, True]
    finally:
        loop.close()
    assert set(installed) == {signal.SIGTERM, signal.SIGINT}


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_the_windows_handler_for_each_signal_sets_stop(monkeypatch: pytest.MonkeyPatch, sig: str) -> None:
    installed: dict[int, Callable[..., object]] = {}
    monkeypatch.setattr(signal, "signal", lambda s, handler: installed.__setitem__(s, handler))

    async def main() -> bool:
        stop = asyncio.Event()
        listeners.stop_on_signals(asyncio.get_running_loop(), stop)
        installed[getattr(signal, sig)](getattr(signal, sig), None)
        await asyncio.wait_for(stop.wait(), 30)
        return stop.is_set()

    loop = WindowsLikeLoop()
    try:
        assert loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.posix_only(reason="a signal delivered to this process (Windows has no SIGTERM to deliver)")
def test_a_real_sigterm_stops_the_server_through_the_loops_handler() -> None:
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        listeners.stop_on_signals(loop, stop)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(stop.wait(), 30)
            return stop.is_set()
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            loop.remove_signal_handler(signal.SIGINT)

    assert asyncio.run(main())


def test_without_uvloop_the_default_loop_runs_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # an import of it raises ImportError, as on Windows
    assert listeners._runner() is asyncio.run


def test_with_uvloop_it_runs_the_server() -> None:
    uvloop = pytest.importorskip("uvloop", reason="uvloop has no Windows build")
    assert listeners._runner() is uvloop.run


# --- the user directories of each OS (README's table) --------------------------------------------------


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.mark.posix_only(reason="platformdirs' POSIX paths joined on a POSIX home")
def test_linux_directories(home: Path) -> None:
    unix = platformdirs.unix.Unix
    assert locations.default_config_file(unix) == home / ".config" / "llmgw" / "llmgw.toml"
    assert locations.default_database(unix) == str(home / ".local" / "share" / "llmgw" / "llmgw.db")


@pytest.mark.posix_only(reason="platformdirs' POSIX paths joined on a POSIX home")
def test_macos_directories(home: Path) -> None:
    mac = platformdirs.macos.MacOS
    support = home / "Library" / "Application Support" / "llmgw"
    assert locations.default_config_file(mac) == support / "llmgw.toml"
    assert locations.default_database(mac) == str(support / "llmgw.db")


def test_windows_directories(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folders = {"CSIDL_LOCAL_APPDATA": str(tmp_path / "Local"), "CSIDL_APPDATA": str(tmp_path / "Roaming")}
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", folders.__getitem__)
    win = platformdirs.windows.Windows
    # Both under %LOCALAPPDATA%\llmgw (not roaming; no author folder above the app's)
    assert locations.default_config_file(win) == tmp_path / "Local" / "llmgw" / "llmgw.toml"
    assert locations.default_database(win) == str(tmp_path / "Local" / "llmgw" / "llmgw.db")


def test_the_saved_key_and_gemini_settings_live_in_the_config_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from llmgw.services import saved_key

    monkeypatch.setattr(locations, "user_config_dir", lambda: tmp_path / "cfg")
    assert saved_key.key_file() == tmp_path / "cfg" / "api-key"
    assert gemini_settings.settings_file() == tmp_path / "cfg" / "gemini-settings.json"


# --- the keyring's reasons, per OS -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "bus", "expected"),
    [
        ("linux", "", "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set"),
        ("linux", "unix:path=/run/bus", "no Secret Service (e.g. gnome-keyring) or KWallet answers"),
        ("darwin", "", "the keyring library found no usable backend"),
        ("win32", "unix:path=/run/bus", "the keyring library found no usable backend"),
    ],
)
def test_no_keyring_reason_names_what_the_os_lacks(
    monkeypatch: pytest.MonkeyPatch, platform: str, bus: str, expected: str
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
    assert credentials._reason(NoKeyringError("none")).startswith(expected)


# --- password hashing threads' priority -----------------------------------------------------------------


@pytest.mark.parametrize(("platform", "lowered"), [("linux", True), ("darwin", False), ("win32", False)])
def test_only_linux_lowers_a_hashing_threads_priority(
    monkeypatch: pytest.MonkeyPatch, platform: str, lowered: bool
) -> None:
    calls: list[tuple[int, int, int]] = []
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(os, "setpriority", lambda *args: calls.append(args), raising=False)
    monkeypatch.setattr(os, "PRIO_PROCESS", 0, raising=False)
    passwords._lower_priority()
    assert bool(calls) == lowered
    if lowered:
        assert calls[0][1] == __import__("threading").get_native_id()


def test_a_refused_priority_change_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: int) -> None:
        raise PermissionError("not allowed")

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "setpriority", refuse, raising=False)
    monkeypatch.setattr(os, "PRIO_PROCESS", 0, raising=False)
    passwords._lower_priority()


# --- Gemini CLI's system settings, `llmgw run` ----------------------------------------------------------


def test_gemini_settings_are_heeded_on_windows_without_posix_checks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loose = tmp_path / "settings.json"  # owned by the test's user, not root: refused on POSIX
    loose.write_text("{}", encoding="utf-8")
    if os.name == "posix":
        assert not gemini_settings.heeded_by_gemini_cli(loose)
    monkeypatch.setattr(os, "name", "nt")
    assert gemini_settings.heeded_by_gemini_cli(loose)


@pytest.mark.posix_only(reason="POSIX owners and modes")
def test_gemini_settings_need_roots_unwritable_directories_on_posix(tmp_path: Path) -> None:
    assert gemini_settings.heeded_by_gemini_cli(Path("/"))  # root-owned, 0755
    writable = tmp_path / "s.json"
    writable.write_text("{}", encoding="utf-8")
    writable.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IWOTH)
    assert not gemini_settings.heeded_by_gemini_cli(writable)


def test_llmgw_run_runs_the_agent_as_a_child_on_windows_and_passes_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    children: list[tuple[list[str], Any]] = []

    def call(argv: list[str], env: Any = None) -> int:
        children.append((argv, env))
        return 44

    def no_execve(*_: object) -> None:
        raise AssertionError("execve called where the agent must run as a child")

    monkeypatch.setattr(os, "execve", no_execve, raising=False)
    monkeypatch.setattr("llmgw.cli.run.subprocess.call", call)  # no child started: a unit test
    env = {"K": "v"}
    assert cli_run.become("C:\\agents\\claude.exe", ["claude", "-p", "hi"], env, posix=False) == 44
    assert children == [(["C:\\agents\\claude.exe", "-p", "hi"], env)]


def test_llmgw_run_execs_the_agent_on_posix(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, list[str], dict[str, str]]] = []

    class Exec(Exception):
        pass

    def execve(program: str, argv: list[str], env: dict[str, str]) -> None:
        seen.append((program, argv, env))
        raise Exec  # execve does not return

    monkeypatch.setattr(os, "execve", execve, raising=False)
    with pytest.raises(Exec):
        cli_run.become("/usr/bin/claude", ["claude", "-p", "hi"], {"K": "v"}, posix=True)
    assert seen == [("/usr/bin/claude", ["claude", "-p", "hi"], {"K": "v"})]
