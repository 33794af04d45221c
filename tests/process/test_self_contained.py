"""A fresh clone passes its own tests: the recorded payloads live in the repository, and the test process
reads nothing beside the checkout (tests/support/checkout_guard.py; .ci/run runs the suite from a bare
clone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.checkout_guard import CHECKOUT, OutsideReads
from tests.support.fakes.fixtures import fixtures_dir

PROVIDERS = ("openai", "anthropic", "gemini")


def test_the_recorded_payloads_are_inside_the_checkout() -> None:
    assert fixtures_dir() == CHECKOUT / "tests" / "fixtures" / "providers"
    for provider in PROVIDERS:
        manifest = json.loads((fixtures_dir() / provider / "manifest.json").read_text(encoding="utf-8"))
        for case, entry in manifest["cases"].items():
            for key in ("file", "request_file"):
                if key in entry:
                    assert (fixtures_dir() / provider / entry[key]).is_file(), f"{provider}/{case}"


def test_every_recorded_case_names_its_origin_in_the_readme() -> None:
    readme = (fixtures_dir() / "README.md").read_text(encoding="utf-8")
    assert "MIT" in readme and "Apache-2.0" in readme
    for provider in PROVIDERS:
        manifest = json.loads((fixtures_dir() / provider / "manifest.json").read_text(encoding="utf-8"))
        for case in manifest["cases"]:
            assert f"| {provider} | {case} |" in readme


def test_nothing_in_tests_scripts_or_ci_names_the_old_shared_fixtures() -> None:
    places = [
        *(CHECKOUT / "tests").rglob("*.py"),
        *(CHECKOUT / "scripts").iterdir(),
        CHECKOUT / ".ci" / "run",
    ]
    for path in places:
        if path.is_file() and path.name != Path(__file__).name:
            assert "shared/fixtures" not in path.read_text(encoding="utf-8"), path


# -- the guard ----------------------------------------------------------------------------------


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """``<tmp>/parent/checkout`` and ``<tmp>/parent/venv`` (an interpreter installed beside the clone)."""
    checkout = tmp_path / "parent" / "checkout"
    checkout.mkdir(parents=True)
    return checkout, tmp_path / "parent" / "venv"


def test_guard_flags_a_path_beside_the_checkout(layout: tuple[Path, Path]) -> None:
    checkout, _ = layout
    guard = OutsideReads(checkout)
    beside = str(checkout.parent / "shared" / "fixtures" / "x.json")
    assert guard.outside(beside) == beside
    assert guard.outside(f"{checkout}/tests/../../shared/x.json") == str(
        checkout.parent / "shared" / "x.json"
    )
    assert guard.outside(os.fsencode(beside)) == beside
    assert guard.outside(Path(beside)) == beside
    assert guard.outside(str(checkout.parent.parent / "checkout-other" / "x")) is None  # not beside it
    # the checkout itself, its parent directory and anywhere else are fine
    for fine in (checkout / "tests" / "x.json", checkout, checkout.parent, "/usr/lib/python3/os.py"):
        assert guard.outside(str(fine)) is None
    assert (
        guard.outside(str(checkout.parent / "checkout-2" / "x")) is not None
    )  # beside, though its name starts with the checkout's
    assert guard.outside(3) is None  # a file descriptor names no path
    assert guard.outside(None) is None


def test_guard_spares_the_interpreter_and_the_home_configuration(layout: tuple[Path, Path]) -> None:
    checkout, venv = layout
    guard = OutsideReads(checkout, exempt=[venv, checkout.parent.parent], home=checkout.parent)
    assert guard.outside(str(venv / "lib" / "site.py")) is None
    assert guard.outside(str(checkout.parent / ".local" / "share" / "keyrings.cfg")) is None
    # an exemption that holds the checkout would hide everything beside it: ignored
    assert guard.outside(str(checkout.parent / "shared" / "x")) is not None


def test_guard_records_what_read_outside_and_when(layout: tuple[Path, Path]) -> None:
    checkout, _ = layout
    guard = OutsideReads(checkout)
    beside = str(checkout.parent / "shared" / "x")
    guard.audit("open", (beside, "r", 0))
    guard.audit("os.listdir", (str(checkout.parent / "other"),))
    guard.audit("open", (str(checkout / "x"), "r", 0))
    guard.audit("os.remove", (beside, -1))  # not a read
    assert list(guard.seen) == [beside, str(checkout.parent / "other")]
    assert guard.seen[beside] == os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]


def _run_pytest(test_file: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "tests.support.checkout_guard",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    return subprocess.run(
        [*argv, str(test_file)], cwd=CHECKOUT, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_test_reading_beside_the_checkout_fails_the_run(tmp_path: Path) -> None:
    probe = CHECKOUT.parent / "llmgw-checkout-guard-probe.json"  # never created: the attempt is enough
    assert not probe.exists()
    test_file = tmp_path / "test_probe.py"
    test_file.write_text(
        "import contextlib\n\n"
        "def test_reads_beside_the_checkout():\n"
        "    with contextlib.suppress(FileNotFoundError):\n"
        f"        open({str(probe)!r}).close()\n"
    )
    run = _run_pytest(test_file)
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "1 passed" in run.stdout  # the test itself passed: the guard failed the run
    assert str(probe) in run.stdout and "test_reads_beside_the_checkout" in run.stdout


def test_a_test_reading_inside_the_checkout_and_elsewhere_passes(tmp_path: Path) -> None:
    test_file = tmp_path / "test_probe.py"
    test_file.write_text(
        "import tempfile\n\n"
        "def test_reads_the_checkout_and_tmp():\n"
        f"    open({str(CHECKOUT / 'README.md')!r}).close()\n"
        "    with tempfile.TemporaryFile() as f:\n"
        "        f.write(b'x')\n"
    )
    run = _run_pytest(test_file)
    assert run.returncode == pytest.ExitCode.OK, run.stdout + run.stderr
