"""The google-genai SDK against a mock transport: what it sends (real Gemini request bodies, written by
Google's SDK, not by our translators) and what it reads from an answer we give it. No network."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
from google import genai
from google.genai import types

__all__ = ["GenaiRecorder"]


class GenaiRecorder:
    """A `genai.Client` whose requests are recorded and answered with `answers` in turn (JSON objects,
    or bytes sent as they are, e.g. an SSE stream)."""

    def __init__(self, answers: Sequence[dict[str, Any] | bytes] = ()) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (URL path, JSON body)

        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append((request.url.path, json.loads(request.content)))
            answer = self.answers.pop(0) if self.answers else {}
            if isinstance(answer, bytes):
                return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=answer)
            return httpx.Response(200, json=answer)

        options = types.HttpOptions(
            base_url="http://gateway", client_args={"transport": httpx.MockTransport(handler)}
        )
        self.client = genai.Client(api_key="k", http_options=options)

    @property
    def body(self) -> dict[str, Any]:
        """The last request's body."""
        return self.requests[-1][1]
