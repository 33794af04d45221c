"""`llmgw install-service [--root DIR] [--force]`: the systemd unit, its user, a configuration and the
credentials directory written under DIR (default `/`), then the commands that finish the job printed,
for root to run. Refuses to replace any of those files without --force. The files and commands are
`services.service_unit`'s."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llmgw.services import service_unit


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "install-service",
        help="write the systemd unit, its user and a configuration (docs/DEPLOY.md)",
        description="Write /etc/systemd/system/llmgw.service, /etc/sysusers.d/llmgw.conf and "
        "/etc/llmgw/llmgw.toml, make /etc/llmgw/credentials, and print the commands that finish the "
        "installation. Run it as root.",
    )
    p.add_argument("--root", metavar="DIR", default="/", help="write under DIR instead of / (e.g. an image)")
    p.add_argument("--force", action="store_true", help="replace those files if they exist")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root)
    if not root.is_dir():
        print(f"llmgw install-service: {root} is not a directory", file=sys.stderr)
        return 1
    existing = service_unit.conflicts(root)
    if existing and not args.force:
        print(
            "llmgw install-service: refusing to replace "
            + ", ".join(str(p) for p in existing)
            + " (--force replaces them)",
            file=sys.stderr,
        )
        return 1
    try:
        written = service_unit.install(root)
    except OSError as exc:
        hint = " (run it as root)" if isinstance(exc, PermissionError) else ""
        print(f"llmgw install-service: {exc.filename}: {exc.strerror}{hint}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"made {root / service_unit.CREDENTIALS_DIR} (mode 0700)")
    frozen = getattr(sys, "frozen", False)  # the one-file binary: it can copy itself into place
    print(
        "\nnext, as root"
        + ("" if root == Path("/") else f" (once these files are on the system from {root})")
        + ":"
    )
    for step in service_unit.next_steps(sys.executable if frozen else None):
        print(f"  {step}")
    if not frozen:
        print(f"  (the llmgw executable must be at {service_unit.BINARY}: the unit's ExecStart)")
    return 0
