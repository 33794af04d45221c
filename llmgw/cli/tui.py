"""`llmgw tui [--config FILE]`: the terminal admin (Textual), whose code is the separate package
llmgw_tui (the top-level tui/ folder).

The gateway never imports Textual (an import-linter contract, and tests/process/test_import_hygiene.py at run
time), so `serve` and every other command start without it: the package is loaded here, by name, only
when this command runs."""

from __future__ import annotations

import argparse
import importlib
import sys


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tui", help="the terminal admin: dashboard, users, keys, usage, providers, audit")
    p.add_argument("--config", metavar="FILE", help="the configuration whose database to manage")


def run(args: argparse.Namespace) -> int:
    try:
        # By name, not an import statement: a static import would put Textual in every llmgw command.
        entry = importlib.import_module("llmgw_tui.main")
    except ImportError as exc:
        print(f"llmgw: the terminal admin is not installed ({exc}); reinstall llmgw", file=sys.stderr)
        return 2
    code: int = entry.run(args.config)
    return code
