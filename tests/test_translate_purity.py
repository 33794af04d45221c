"""translate/ stays pure: no I/O library and no gateway layer is imported by any of its modules."""

from __future__ import annotations

import ast
from pathlib import Path

import llmgw.translate

FORBIDDEN = ("httpx", "starlette", "aiohttp", "sqlite3", "sqlite_utils", "keyring")
FORBIDDEN_LAYERS = ("llmgw.relay", "llmgw.storage", "llmgw.services", "llmgw.cli")


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
    return names


def test_translate_imports_no_io_and_no_gateway_layer() -> None:
    root = Path(llmgw.translate.__file__).parent
    modules = sorted(root.rglob("*.py"))
    assert len(modules) > 10  # the walk found the package
    bad = {
        f"{path.relative_to(root)}: {name}"
        for path in modules
        for name in imported_names(path)
        if name.split(".")[0] in FORBIDDEN or name.startswith(FORBIDDEN_LAYERS)
    }
    assert not bad
