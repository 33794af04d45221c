"""The build context of the container image (packaging/Containerfile), made from the one-file executable.

    .venv/bin/python scripts/image_context.py dist/llmgw build/image

The image is `FROM scratch`: nothing in it but what is written here, under CONTEXT/rootfs (copied to `/`,
owned by root) and CONTEXT/volume (copied to `/` owned by the image's user: `/data`).

- /usr/local/bin/llmgw, the executable.
- The shared libraries it needs from the system: those of the bootloader (`ldd` on the executable) and
  of every library and extension PyInstaller unpacks at start (read from its archive, then `ldd` on each
  with the unpacked ones first on the search path, as the bootloader sets it). What PyInstaller bundles
  (libpython, OpenSSL, libffi, libgcc_s …) is not copied twice: only what resolves outside, which is
  glibc (its loader, libc, libm, libdl, libpthread …) and libz.
- /etc/passwd and /etc/group with `llmgw` (uid and gid 10001, home /data), and root.
- /tmp, mode 1777: the one-file executable unpacks itself there on every start.
- /data (mode 0700) with an empty configuration file (mode 0600), so that LLMGW_CONFIG=/data/llmgw.toml
  names a file that exists: a new named volume is filled from it.

No CA certificates: httpx verifies TLS with certifi's bundle, which is inside the executable (checked
here). Linux only (ldd).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PyInstaller.archive.readers import CArchiveReader  # type: ignore[import-untyped]

UID = GID = 10001
USER = "llmgw"
# `ldd` lines: "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x…)" or the loader, "/lib64/ld-….so.2 (0x…)".
RESOLVED = re.compile(r"=>\s*(/\S+)\s+\(0x[0-9a-f]+\)")
LOADER = re.compile(r"^\s*(/\S+)\s+\(0x[0-9a-f]+\)")
CONFIG = """\
# llmgw's configuration in the container (LLMGW_CONFIG). Every [server] setting can also be given as an
# LLMGW_* environment variable, which wins over this file; providers, aliases and prices go here.
# See docs/CONFIGURATION.md and docs/DEPLOY.md.
"""


def ldd(path: Path, library_path: str = "") -> set[Path]:
    """The libraries `path` loads, as the loader resolves them (`library_path` searched first)."""
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": library_path}
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
    if out.returncode != 0 and "not a dynamic executable" in out.stdout + out.stderr:
        return set()
    if out.returncode != 0 or "not found" in out.stdout:
        sys.exit(f"image_context: ldd {path} failed:\n{out.stdout}{out.stderr}")
    found: set[Path] = set()
    for line in out.stdout.splitlines():
        match = RESOLVED.search(line) or LOADER.match(line)
        if match:
            found.add(Path(match[1]))
    return found


def system_libraries(executable: Path) -> set[Path]:
    """Every library from the system that the executable or what it unpacks loads."""
    archive = CArchiveReader(str(executable))
    needed = ldd(executable)
    with tempfile.TemporaryDirectory(prefix="llmgw-unpacked-") as tmp:
        unpacked = Path(tmp)
        binaries = [name for name, entry in archive.toc.items() if entry[4] == "b"]
        for name in binaries:
            target = unpacked / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extract(name))
        for name in binaries:
            needed |= ldd(unpacked / name, library_path=str(unpacked))
        return {lib for lib in needed if not lib.is_relative_to(unpacked)}


def check_certificates(executable: Path) -> None:
    if "certifi/cacert.pem" not in CArchiveReader(str(executable)).toc:
        sys.exit(
            "image_context: certifi's cacert.pem is not in the executable: the image could not verify TLS"
        )


def write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def make_context(executable: Path, context: Path) -> list[Path]:
    """Write the build context; returns the system libraries copied into it."""
    check_certificates(executable)
    libraries = sorted(system_libraries(executable))
    if context.exists():
        shutil.rmtree(context)
    rootfs, volume = context / "rootfs", context / "volume"
    binary = rootfs / "usr/local/bin/llmgw"
    binary.parent.mkdir(parents=True)
    shutil.copyfile(executable, binary)
    binary.chmod(0o755)
    for lib in libraries:
        target = rootfs / lib.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, target)  # a symlink's target, under the name the loader looks for
        target.chmod(0o755)
    write(
        rootfs / "etc/passwd",
        f"root:x:0:0:root:/root:/sbin/nologin\n{USER}:x:{UID}:{GID}:{USER}:/data:/sbin/nologin\n",
        0o644,
    )
    write(rootfs / "etc/group", f"root:x:0:\n{USER}:x:{GID}:\n", 0o644)
    (rootfs / "tmp").mkdir()
    (rootfs / "tmp").chmod(0o1777)
    write(volume / "data/llmgw.toml", CONFIG, 0o600)
    (volume / "data").chmod(0o700)
    for directory in [rootfs, *(p for p in rootfs.rglob("*") if p.is_dir() and p.name != "tmp")]:
        directory.chmod(0o755)
    return libraries


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: image_context.py EXECUTABLE CONTEXT_DIR")
    executable, context = Path(sys.argv[1]), Path(sys.argv[2])
    for lib in make_context(executable, context):
        print(f"image_context: {lib} ({lib.resolve().stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
