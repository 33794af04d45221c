"""The start-up log's portal address: one a browser on the machine (or at `public_url`) can open."""

from __future__ import annotations

from typing import Any

import pytest

from llmgw.server.listeners import portal_url
from llmgw.settings import Config


@pytest.mark.parametrize(
    ("server", "url"),
    [
        ({}, "http://127.0.0.1:4000/ui/"),
        ({"port": 8080}, "http://127.0.0.1:8080/ui/"),
        ({"host": "0.0.0.0"}, "http://127.0.0.1:4000/ui/"),  # every interface: loopback answers
        ({"host": "::"}, "http://[::1]:4000/ui/"),
        ({"host": "::1"}, "http://[::1]:4000/ui/"),
        ({"host": "192.0.2.10"}, "http://192.0.2.10:4000/ui/"),
        ({"host": "localhost"}, "http://localhost:4000/ui/"),
        ({"host": "0.0.0.0", "public_url": "https://llm.example.com/"}, "https://llm.example.com/ui/"),
    ],
)
def test_portal_url(server: dict[str, Any], url: str) -> None:
    assert portal_url(Config.model_validate({"server": server})) == url
