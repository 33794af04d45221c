"""The main listener's Date header: one per response, right to the second, formatted once a second."""

from __future__ import annotations

import email.utils

import pytest

from llmgw.server import listeners
from llmgw.server.listeners import hypercorn_config
from llmgw.settings import Config


def test_one_date_header_and_hypercorns_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listeners.time, "time", lambda: 1_765_000_000.7)
    headers = hypercorn_config(Config()).response_headers("h11")
    dates = [v for k, v in headers if k == b"date"]
    assert dates == [b"Sat, 06 Dec 2025 05:46:40 GMT"]
    assert email.utils.parsedate_to_datetime(dates[0].decode()).timestamp() == 1_765_000_000
    assert (b"server", b"hypercorn-h11") in headers  # the base class's headers still come


def test_formatted_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_765_000_000.1]
    monkeypatch.setattr(listeners.time, "time", lambda: now[0])
    formatted: list[float] = []
    real = listeners.format_date_time

    def counting(t: float) -> str:
        formatted.append(t)
        return real(t)

    monkeypatch.setattr(listeners, "format_date_time", counting)
    hc = hypercorn_config(Config())
    first = hc.response_headers("h11")[0]
    now[0] = 1_765_000_000.9
    assert hc.response_headers("h11")[0][1] is first[1]  # the same bytes, not formatted again
    now[0] = 1_765_000_001.0
    assert hc.response_headers("h11")[0] == (b"date", b"Sat, 06 Dec 2025 05:46:41 GMT")
    assert formatted == [1_765_000_000, 1_765_000_001]
