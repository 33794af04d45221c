"""Fake upstream providers for the gateway's tests: real HTTP servers on 127.0.0.1, no internet."""

from .fixtures import fixtures_dir, load_json, load_sse
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
