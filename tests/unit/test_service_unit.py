"""`llmgw install-service`: the files it writes under a root, their modes, the refusal to replace them
without --force, and the commands it prints; its copies of the unit and the sysusers file are
packaging/'s."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgw.cli import main
from llmgw.services import service_unit
from llmgw.settings import load

pytestmark = pytest.mark.posix_only(reason="a systemd installation: POSIX file modes under a root")

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = {
    "etc/systemd/system/llmgw.service": ROOT / "packaging" / "llmgw.service",
    "etc/sysusers.d/llmgw.conf": ROOT / "packaging" / "llmgw.sysusers",
}


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """root's umask on many systems: the files must come out readable anyway."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("name", ["llmgw.service", "llmgw.sysusers"])
def test_the_packaged_copies_are_packagings(name: str) -> None:
    copy = ROOT / "llmgw" / "services" / "systemd" / name
    assert copy.read_bytes() == (ROOT / "packaging" / name).read_bytes(), f"cp packaging/{name} {copy}"


@pytest.mark.usefixtures("strict_umask")
def test_install_writes_the_unit_its_user_and_a_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install-service", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for relative, source in WRITTEN.items():
        assert (tmp_path / relative).read_bytes() == source.read_bytes()
        assert f"wrote {tmp_path / relative}" in out
    config = tmp_path / "etc" / "llmgw" / "llmgw.toml"
    modes = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777 for p in tmp_path.rglob("*")}
    assert modes == {
        "etc": 0o755,
        "etc/systemd": 0o755,
        "etc/systemd/system": 0o755,
        "etc/systemd/system/llmgw.service": 0o644,
        "etc/sysusers.d": 0o755,
        "etc/sysusers.d/llmgw.conf": 0o644,
        "etc/llmgw": 0o755,  # the service's user reads the configuration
        "etc/llmgw/llmgw.toml": 0o644,
        "etc/llmgw/credentials": 0o700,  # root's: systemd reads the keys, the service gets copies
    }
    # the configuration is valid, serves the provider whose key the unit passes, on loopback
    loaded = load(str(config), {})
    assert "openai" in loaded.config.providers and not loaded.config.providers["openai"].is_implicit
    assert loaded.config.server.host == "127.0.0.1"
    steps = out.split("next, as root", 1)[1]
    assert "systemd-sysusers" in steps and "systemctl enable --now llmgw" in steps
    assert "/etc/llmgw/credentials/openai-api-key" in steps
    assert steps.index("systemd-sysusers") < steps.index("systemctl daemon-reload") < steps.index("--now")


def test_it_refuses_to_replace_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-service", "--root", str(tmp_path)]) == 0
    config = tmp_path / "etc" / "llmgw" / "llmgw.toml"
    config.write_text("# mine\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["install-service", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "refusing to replace" in err and str(config) in err and "--force" in err
    assert config.read_text(encoding="utf-8") == "# mine\n"  # nothing written
    assert main(["install-service", "--root", str(tmp_path), "--force"]) == 0
    assert config.read_text(encoding="utf-8") == service_unit.SAMPLE_CONFIG


def test_a_root_that_is_not_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-service", "--root", str(tmp_path / "nope")]) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


@pytest.mark.skipif(os.name == "posix" and os.geteuid() == 0, reason="root writes anywhere")
def test_without_permission_it_says_to_run_as_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path.chmod(0o555)
    try:
        assert main(["install-service", "--root", str(tmp_path)]) == 1
    finally:
        tmp_path.chmod(0o755)
    err = capsys.readouterr().err
    assert "Permission denied (run it as root)" in err


@pytest.mark.parametrize(
    ("binary", "first"),
    [
        (None, "systemd-sysusers"),
        (service_unit.BINARY, "systemd-sysusers"),  # already where the unit runs it
        ("/home/me/Downloads/llmgw", f"install -m 0755 /home/me/Downloads/llmgw {service_unit.BINARY}"),
    ],
)
def test_next_steps_copy_the_binary_only_when_elsewhere(binary: str | None, first: str) -> None:
    steps = service_unit.next_steps(binary)
    assert steps[0] == first
    assert steps[-2:] == ["systemctl enable --now llmgw", "journalctl -u llmgw -f"]
