"""The suite's layout (README, "Develop"): every test module in a tier, helpers only in tests/support, so
`scripts/test --fast` (tests/unit and tests/inprocess) never misses a test it should run, nor runs one
that starts a server in a subprocess."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
TIERS = ("unit", "inprocess", "process")
# What starts another process: tests/process's business, never the fast tiers'.
PROCESS_STARTERS = ("subprocess", "GatewayProcess", "create_subprocess_exec", "chromium", "sync_playwright")


def test_every_test_module_is_in_a_tier_and_every_helper_in_support() -> None:
    stray = [
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if "fixtures" not in p.parts
        and p.parent != TESTS / "support"
        and "support" not in p.relative_to(TESTS).parts
        and p.parent.name not in TIERS
        and p.name not in ("__init__.py", "conftest.py")
    ]
    assert stray == [], "put test modules in tests/{unit,inprocess,process}/, helpers in tests/support/"
    assert not [p for p in (TESTS / "support").rglob("test_*.py")], "tests/support holds no tests"


def test_the_fast_tiers_start_no_process() -> None:
    starters = []
    for tier in ("unit", "inprocess"):
        for path in sorted((TESTS / tier).glob("test_*.py")):
            names = {
                node.id if isinstance(node, ast.Name) else node.attr
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Name | ast.Attribute)
            } | {
                alias.name.split(".")[0]
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names
            }
            found = names.intersection(PROCESS_STARTERS)
            if found:
                starters.append(f"{tier}/{path.name}: {sorted(found)}")
    assert starters == [], f"these belong in tests/process: {starters}"
