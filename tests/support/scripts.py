"""The project's hand-run scripts (`scripts/`, some without a `.py` name) imported as modules, so their
pure parts can be unit-tested."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def load_script(file: str, name: str) -> ModuleType:
    """`scripts/<file>` as the module `name` (registered in sys.modules: dataclasses look their module
    up there)."""
    loader = importlib.machinery.SourceFileLoader(name, str(SCRIPTS / file))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    loader.exec_module(module)
    return module
