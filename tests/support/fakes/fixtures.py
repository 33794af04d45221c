"""Loading helpers for the recorded provider payloads in ``tests/fixtures/providers``.

They live in the repository, so a fresh clone has them; ``tests/fixtures/providers/README.md`` names
where each was recorded and its licence.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SSEEvent",
    "case_headers",
    "case_status",
    "fixtures_dir",
    "load_json",
    "load_manifest",
    "load_request",
    "load_sse",
    "load_sse_events",
]

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "providers"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event: its ``event:`` name (None when absent) and its joined ``data:`` lines."""

    event: str | None
    data: str


def fixtures_dir() -> Path:
    """The ``providers`` directory holding ``openai/``, ``anthropic/`` and ``gemini/``."""
    return FIXTURES_DIR


@functools.cache
def _read_text(provider: str, filename: str) -> str:
    return (fixtures_dir() / provider / filename).read_text(encoding="utf-8")


def load_manifest(provider: str) -> dict[str, Any]:
    """The provider's ``manifest.json`` (a fresh copy each call)."""
    manifest: dict[str, Any] = json.loads(_read_text(provider, "manifest.json"))
    return manifest


def _case(provider: str, case: str) -> dict[str, Any]:
    try:
        entry: dict[str, Any] = load_manifest(provider)["cases"][case]
    except KeyError:
        raise KeyError(f"no fixture case {provider}/{case}") from None
    return entry


def load_json(provider: str, case: str) -> Any:
    """The recorded JSON response body of ``case`` (e.g. ``load_json("openai", "chat.text")``)."""
    return json.loads(_read_text(provider, _case(provider, case)["file"]))


def load_request(provider: str, case: str) -> dict[str, Any]:
    """The recorded request (method, uri, body) that produced ``case``."""
    filename = _case(provider, case).get("request_file")
    if filename is None:
        raise KeyError(f"fixture case {provider}/{case} has no recorded request")
    request: dict[str, Any] = json.loads(_read_text(provider, filename))
    return request


def case_status(provider: str, case: str) -> int:
    """The recorded HTTP status of ``case``."""
    return int(_case(provider, case)["status"])


def case_headers(provider: str, case: str) -> dict[str, str]:
    """The recorded response headers worth replaying (``retry-after``, ``x-ratelimit-*``, request ids)."""
    return {str(k): str(v) for k, v in _case(provider, case)["headers"].items()}


def load_sse_events(provider: str, case: str) -> list[SSEEvent]:
    """The recorded event stream of ``case``, one entry per event (comments and ``id:`` dropped)."""
    events: list[SSEEvent] = []
    name: str | None = None
    data: list[str] = []
    for line in _read_text(provider, _case(provider, case)["file"]).splitlines():
        if not line:
            if data:
                events.append(SSEEvent(name, "\n".join(data)))
            name, data = None, []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    if data:
        events.append(SSEEvent(name, "\n".join(data)))
    return events


def load_sse(provider: str, case: str) -> list[str]:
    """The ``data:`` payloads of a recorded stream, in order (OpenAI's end with ``"[DONE]"``)."""
    return [event.data for event in load_sse_events(provider, case)]
