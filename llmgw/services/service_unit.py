"""What `llmgw install-service` writes: packaging/llmgw.service and packaging/llmgw.sysusers (copies
kept beside this module as package data, so the one-file binary carries them; a test keeps them equal),
a starting configuration, and the empty credentials directory; then what the administrator runs next.
Paths are under a root (`/` on a real system, a temporary directory in tests). Nothing here starts,
enables or asks systemd anything: that is left to the printed commands, run as root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Final

__all__ = [
    "BINARY",
    "CREDENTIALS_DIR",
    "ServiceFile",
    "conflicts",
    "install",
    "next_steps",
    "service_files",
]

BINARY: Final = "/usr/local/bin/llmgw"  # the unit's ExecStart
CREDENTIALS_DIR: Final = PurePosixPath("etc/llmgw/credentials")

# The configuration the unit reads (LLMGW_CONFIG); the database's place is the unit's (LLMGW_DATABASE).
SAMPLE_CONFIG: Final = """\
# llmgw's configuration as the systemd unit reads it (packaging/llmgw.service: LLMGW_CONFIG).
# Secrets never go here: provider keys are systemd credentials, read through LLMGW_<NAME>_API_KEY_FILE
# (docs/DEPLOY.md). Every setting, its default and its environment variable: docs/CONFIGURATION.md.
# A change takes effect at `systemctl restart llmgw`.

[server]
host = "127.0.0.1"  # behind a TLS proxy on this machine (docs/DEPLOY.md, section 3)
port = 4000
# env = "production"
# public_url = "https://llm.example.com"
# trusted_proxies = ["127.0.0.1"]

[providers.openai]
type = "openai"
"""


@dataclass(frozen=True, slots=True)
class ServiceFile:
    """A file to write: its path under the root, its text, its mode."""

    path: PurePosixPath
    text: str
    mode: int


def _packaged(name: str) -> str:
    return resources.files(__package__).joinpath("systemd", name).read_text(encoding="utf-8")


def service_files() -> list[ServiceFile]:
    """The unit, its user (for systemd-sysusers) and the configuration, as they are written."""
    return [
        ServiceFile(PurePosixPath("etc/systemd/system/llmgw.service"), _packaged("llmgw.service"), 0o644),
        ServiceFile(PurePosixPath("etc/sysusers.d/llmgw.conf"), _packaged("llmgw.sysusers"), 0o644),
        ServiceFile(PurePosixPath("etc/llmgw/llmgw.toml"), SAMPLE_CONFIG, 0o644),
    ]


def conflicts(root: Path) -> list[Path]:
    """The files `install` would replace."""
    return [root / f.path for f in service_files() if (root / f.path).exists()]


def install(root: Path) -> list[Path]:
    """Write every file under `root` (replacing what is there: the caller checks `conflicts` first) and
    make the credentials directory, root's alone. Raises OSError (e.g. not root) as it comes."""
    written: list[Path] = []
    for f in service_files():
        target = root / f.path
        _make_dirs(target.parent)
        target.write_text(f.text, encoding="utf-8")
        os.chmod(target, f.mode)  # whatever the umask: systemd and sysusers read them as root, others may
        written.append(target)
    credentials = root / CREDENTIALS_DIR
    _make_dirs(credentials)
    os.chmod(credentials, 0o700)
    return written


def _make_dirs(path: Path) -> None:
    """`path` and its missing parents, each 0755 whatever the umask (root's may be 077): the service's
    user reads /etc/llmgw/llmgw.toml. Directories already there keep their modes."""
    if path.is_dir():
        return
    _make_dirs(path.parent)
    path.mkdir()
    os.chmod(path, 0o755)


def next_steps(binary: str | None) -> list[str]:
    """The commands that finish the installation, as root, in order. `binary`: this program's own
    executable when it is the one-file binary somewhere else than the unit's ExecStart."""
    key = f"/{CREDENTIALS_DIR}/openai-api-key"
    steps = [f"install -m 0755 {binary} {BINARY}"] if binary and binary != BINARY else []
    return [
        *steps,
        "systemd-sysusers",
        f"sh -c 'umask 077; cat > {key}'   # paste the OpenAI key, then Ctrl-D (others: docs/DEPLOY.md)",
        "systemctl daemon-reload",
        "systemctl enable --now llmgw",
        "journalctl -u llmgw -f",
    ]
