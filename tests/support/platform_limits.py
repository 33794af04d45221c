"""Which tests cannot run on macOS or Windows, and why: the one table CI's macOS and Windows jobs
(.github/workflows/test.yml) skip by, each skip showing its reason (`-ra`).

Three markers (registered in pyproject.toml), each with a `reason`:
- `posix_only`: skipped on Windows (POSIX signals to another process, file modes, `execve`).
- `linux_only`: skipped on macOS and Windows (the Secret Service over D-Bus, XDG directories, bash
  scripts of this repository).
- `needs_debian_tools`: skipped off Linux: tools that `scripts/install-system-deps` (Debian packages) and
  `DEV=1 scripts/install` (npm clients) put in place, which only the Linux job runs.

A test module marks itself with a module-level `pytestmark = pytest.mark.linux_only(reason="…")` (or a
test with the decorator); `LIMITS` below marks modules written before the markers, by path. On Linux
nothing here skips anything: the tests decide for themselves as before.
"""

from __future__ import annotations

import sys

import pytest

__all__ = ["LIMITS", "MARKERS", "apply_limits"]

MARKERS = ("posix_only", "linux_only", "needs_debian_tools")

_SERVE_SIGTERM = (
    "stops `llmgw serve` with SIGTERM, which Windows cannot send to another process "
    "(Popen.send_signal is TerminateProcess: no drain, no ledger flush)"
)
_BROWSER = "Debian's chromium driven by Playwright (Playwright's own browser downloads are not used)"
_NPM = "{} installed with npm by DEV=1 scripts/install, which only the Linux job runs"
_SECRET_SERVICE = "the Secret Service over D-Bus (scripts/with-keyring: gnome-keyring, dbus-run-session)"

# path (from the repository's root, with /) or node id -> (marker, reason)
LIMITS: dict[str, tuple[str, str]] = {
    "tests/process/test_portal_browser.py": ("needs_debian_tools", _BROWSER),
    "tests/process/test_portal_dashboards.py": ("needs_debian_tools", _BROWSER),
    "tests/process/test_portal_key_form_browser.py": ("needs_debian_tools", _BROWSER),
    "tests/process/test_portal_layout.py": ("needs_debian_tools", _BROWSER),
    "tests/process/test_portal_request_log_browser.py": ("needs_debian_tools", _BROWSER),
    "tests/process/test_claude_code.py": ("needs_debian_tools", _NPM.format("Claude Code")),
    "tests/process/test_codex_cli.py": ("needs_debian_tools", _NPM.format("Codex CLI")),
    "tests/process/test_gemini_cli.py": ("needs_debian_tools", _NPM.format("Gemini CLI")),
    "tests/process/test_ai_sdk_google.py": ("needs_debian_tools", _NPM.format("the AI SDK (Node.js)")),
    "tests/process/test_llmgw_run.py": (
        "linux_only",
        "points platformdirs at a temporary config dir with XDG_CONFIG_HOME (read on Linux only) and "
        + _NPM.format("runs the agents"),
    ),
    "tests/process/test_readme.py": (
        "linux_only",
        "runs the README's shell commands as written "
        "(bash, scripts/install, XDG directories, the Secret Service)",
    ),
    "tests/process/test_file_modes.py": ("posix_only", "POSIX file modes (0600/0700)"),
    "tests/process/test_tls_proxy.py": (
        "needs_debian_tools",
        "Debian's caddy and nginx in front of the gateway, and Debian's chromium driven by Playwright",
    ),
    "tests/unit/test_credentials.py::"
    "test_keyring_source_reread_raises_on_a_blip_of_the_real_secret_service": (
        "linux_only",
        "takes " + _SECRET_SERVICE + " away for a moment by pointing at a dead bus",
    ),
    "tests/unit/test_settings_locations.py": (
        "linux_only",
        "points platformdirs at temporary dirs with XDG_CONFIG_HOME / XDG_DATA_HOME (read on Linux only); "
        "tests/unit/test_platforms.py checks each OS's directories",
    ),
}

# The process tier on Windows: a module not listed in LIMITS runs `llmgw serve` and stops it with SIGTERM
# (tests/support/gateway_process.py), except these: the executable's smoke test (which allows for
# Windows) and those that only run the CLI or an interpreter.
_PROCESS_TIER = "tests/process/"
_RUNS_ON_WINDOWS = frozenset(
    {
        "tests/process/test_binary.py",
        "tests/process/test_db_maintenance.py",
        "tests/process/test_import_hygiene.py",
        "tests/process/test_key_creation.py",
        "tests/process/test_self_contained.py",
    }
)


def _limit(nodeid: str) -> tuple[str, str] | None:
    path = nodeid.split("::", 1)[0]
    for key in (nodeid.split("[", 1)[0], path):
        if key in LIMITS:
            return LIMITS[key]
    if path.startswith(_PROCESS_TIER) and path not in _RUNS_ON_WINDOWS:
        return ("posix_only", _SERVE_SIGTERM)
    return None


def _skipped_here(marker: str, platform: str) -> bool:
    if marker == "posix_only":
        return platform == "win32"
    return not platform.startswith("linux")  # linux_only, needs_debian_tools


def apply_limits(items: list[pytest.Item], platform: str = sys.platform) -> None:
    """Mark each collected test from `LIMITS` (and the process tier's rule), then skip, with its
    reason, those whose markers exclude `platform`. Tests in a secret-service `keyring` module of the
    process tier are Linux's."""
    for item in items:
        limit = _limit(item.nodeid.replace("\\", "/"))
        if limit is not None:
            marker, reason = limit
            item.add_marker(getattr(pytest.mark, marker)(reason=reason))
        if item.nodeid.startswith(_PROCESS_TIER) and item.get_closest_marker("keyring") is not None:
            item.add_marker(pytest.mark.linux_only(reason=_SECRET_SERVICE))
        for name in MARKERS:
            for mark in item.iter_markers(name):
                if _skipped_here(name, platform):
                    reason = mark.kwargs.get("reason") or (mark.args[0] if mark.args else name)
                    item.add_marker(pytest.mark.skip(reason=f"{name} ({platform}): {reason}"))
                    break
