"""Fake upstream providers for the gateway's tests: real HTTP servers on 127.0.0.1, no internet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fixtures import fixtures_dir, load_json, load_sse

if TYPE_CHECKING:
    from .openai_upstream import FakeOpenAI, RecordedRequest, Scenario, scenario_for

__all__ = [
    "FakeOpenAI",
    "RecordedRequest",
    "Scenario",
    "fixtures_dir",
    "load_json",
    "load_sse",
    "scenario_for",
]

_UPSTREAM = {"FakeOpenAI", "RecordedRequest", "Scenario", "scenario_for"}


def __getattr__(name: str) -> Any:
    # Imported on first use, so `python -m tests.support.fakes.openai_upstream` does not import itself twice.
    if name in _UPSTREAM:
        from . import openai_upstream

        return getattr(openai_upstream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
