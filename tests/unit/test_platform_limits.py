"""The table of tests that cannot run on macOS or Windows (tests/support/platform_limits.py) stays true:
every entry names a test that exists, every marker is registered, and each marker skips where it says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.support import platform_limits
from tests.support.platform_limits import LIMITS, MARKERS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_each_entry_names_a_test_that_exists(key: str) -> None:
    path, _, test = key.partition("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    if test:
        assert re.search(rf"^(async )?def {re.escape(test)}\(", source, re.M), f"no {test} in {path}"


def test_each_marker_is_registered_with_pytest() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    registered = {
        line.split(":")[0].split("(")[0] for line in config["tool"]["pytest"]["ini_options"]["markers"]
    }
    assert set(MARKERS) <= registered
    assert {marker for marker, _ in LIMITS.values()} <= set(MARKERS)
    assert all(reason.strip() for _, reason in LIMITS.values())


@pytest.mark.parametrize(
    ("marker", "platform", "skipped"),
    [
        ("posix_only", "win32", True),
        ("posix_only", "darwin", False),
        ("posix_only", "linux", False),
        ("linux_only", "win32", True),
        ("linux_only", "darwin", True),
        ("linux_only", "linux", False),
        ("needs_debian_tools", "darwin", True),
        ("needs_debian_tools", "win32", True),
        ("needs_debian_tools", "linux", False),
    ],
)
def test_where_each_marker_skips(marker: str, platform: str, skipped: bool) -> None:
    assert platform_limits._skipped_here(marker, platform) is skipped


def test_the_process_tier_is_posix_only_unless_listed_or_exempt() -> None:
    serve = platform_limits._limit("tests/process/test_relay.py::test_x")
    assert serve is not None and serve[0] == "posix_only" and "SIGTERM" in serve[1]
    assert platform_limits._limit("tests/process/test_binary.py::test_x") is None
    assert (
        platform_limits._limit("tests/process/test_portal_browser.py::test_x")
        == LIMITS["tests/process/test_portal_browser.py"]
    )
    assert platform_limits._limit("tests/unit/test_catalog.py::test_x") is None
    blip = next(key for key in LIMITS if "::" in key)  # a single test's entry
    assert platform_limits._limit(blip + "[x]") == LIMITS[blip]


def test_the_exempt_process_modules_exist() -> None:
    for path in platform_limits._RUNS_ON_WINDOWS:
        assert (ROOT / path).is_file(), path
