"""CORS for /v1/*, in process: off by default (not even installed), on with an explicit list of origins
(preflights answered or refused in the path's dialect, actual answers marked), `*` in development."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from llmgw.server.app import create_app
from tests.inprocess.test_relay_inprocess import (
    PROXY_KEY,
    Keys,
    Running,
    Upstreams,
    anthropic_err,
    config,
    gateway,
    openai_chat,
    openai_err,
)

pytestmark = pytest.mark.anyio

APP = "https://app.example.com"
OTHER = "https://evil.example"
LISTED = {"cors_origins": [APP, "http://localhost:5173"]}
CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers")


def preflight(
    origin: str, method: str = "POST", headers: str | None = "authorization, content-type"
) -> dict[str, str]:
    h = {"origin": origin, "access-control-request-method": method}
    return h if headers is None else {**h, "access-control-request-headers": headers}


def no_cors(r: httpx.Response) -> None:
    assert not [h for h in r.headers if h.startswith("access-control-")], r.headers


# -- off by default --------------------------------------------------------------------------------


async def test_off_by_default_no_header_and_options_stays_405(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat()) as g:
        assert not [m for m in g.app.user_middleware if m.cls.__name__ == "CORS"]  # not even installed
        r = await g.chat("oai/gpt-4o-mini", headers={"origin": APP})
        assert r.status_code == 200
        no_cors(r)
        assert "vary" not in r.headers
        r = await g.client.options("/v1/chat/completions", headers=preflight(APP))
        assert "OPTIONS" in openai_err(r, 405)["message"]
        no_cors(r)


# -- on, with an explicit list ---------------------------------------------------------------------


async def test_preflight_of_a_listed_origin(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat(), server=LISTED) as g:
        asked = "authorization, content-type, openai-organization, x-stainless-os, x-stainless-retry-count"
        r = await g.client.options("/v1/chat/completions", headers=preflight(APP, headers=asked))
        assert r.status_code == 204, r.text
        assert r.headers["access-control-allow-origin"] == APP
        assert r.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
        assert r.headers["access-control-allow-headers"] == asked
        assert int(r.headers["access-control-max-age"]) > 0
        assert r.headers["vary"] == "Origin"
        assert "access-control-allow-credentials" not in r.headers  # keys travel in headers, not cookies
        assert r.content == b""
        # what the Anthropic SDK sends from a browser (dangerouslyAllowBrowser)
        asked = "anthropic-beta,anthropic-dangerous-direct-browser-access,anthropic-version,"
        asked += "content-type,x-api-key"
        r = await g.client.options("/v1/messages", headers=preflight("http://localhost:5173", headers=asked))
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert r.headers["access-control-allow-headers"] == asked.replace(",", ", ")
        r = await g.client.options("/v1/models", headers=preflight(APP, "GET", headers=None))
        assert r.status_code == 204 and "access-control-allow-headers" not in r.headers
    assert g.upstreams.sent == [] and g.rows() == {}  # nothing forwarded, nothing recorded


async def test_preflight_refused_in_the_paths_dialect(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat(), server=LISTED) as g:
        r = await g.client.options("/v1/chat/completions", headers=preflight(OTHER))
        assert "Origin" in openai_err(r, 403)["message"]
        no_cors(r)
        r = await g.client.options("/v1/messages", headers=preflight(f"{APP}:8443"))
        assert anthropic_err(r, 403)["type"] == "permission_error"
        no_cors(r)
        r = await g.client.options(
            "/v1/chat/completions", headers=preflight(APP, headers="authorization, x-evil")
        )
        assert "x-evil" in openai_err(r, 403)["message"]
        no_cors(r)
        r = await g.client.options("/v1/chat/completions", headers=preflight(APP, "DELETE"))
        assert "DELETE" in openai_err(r, 403)["message"]
        r = await g.client.options("/v1/models", headers=preflight(APP, "GET", "x-stainless-a b"))
        assert openai_err(r, 403)["code"] == "forbidden"  # reflected names are plain tokens


async def test_answers_to_a_listed_origin_are_readable_by_its_page(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat(), server=LISTED) as g:
        r = await g.chat("oai/gpt-4o-mini", headers={"origin": APP})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == APP
        assert r.headers["access-control-expose-headers"] == "x-request-id, retry-after"
        assert r.headers["vary"] == "Origin"
        assert "access-control-allow-methods" not in r.headers  # preflight-only headers
        # errors too, so the page can show them
        r = await g.chat("oai/gpt-4o-mini", headers={"origin": APP, "authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers["access-control-allow-origin"] == APP
        r = await g.client.get("/v1/models", headers={"origin": APP, "authorization": f"Bearer {PROXY_KEY}"})
        assert r.headers["access-control-allow-origin"] == APP


async def test_other_origins_and_paths_get_no_cors_header(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat(), server=LISTED) as g:
        r = await g.chat("oai/gpt-4o-mini", headers={"origin": OTHER})
        assert r.status_code == 200  # the key decides; without CORS headers the browser hides the answer
        no_cors(r)
        assert r.headers["vary"] == "Origin"
        r = await g.chat("oai/gpt-4o-mini")  # no Origin: not a browser's cross-origin call
        no_cors(r)
        assert r.headers["vary"] == "Origin"  # a cache must not hand it to a browser's request
        r = await g.client.get("/healthz", headers={"origin": APP})
        assert r.status_code == 200 and "vary" not in r.headers
        no_cors(r)
        r = await g.client.options("/healthz", headers=preflight(APP))
        assert r.status_code == 405
        no_cors(r)
        # an OPTIONS that is no preflight is a request like any other: 405 as before
        r = await g.client.options("/v1/chat/completions", headers={"origin": APP})
        assert r.status_code == 405 and r.headers["access-control-allow-origin"] == APP


async def test_wildcard_in_development_answers_star_never_with_credentials(tmp_path: Path) -> None:
    async with gateway(tmp_path, lambda r: openai_chat(), server={"cors_origins": ["*"]}) as g:
        r = await g.client.options("/v1/chat/completions", headers=preflight(OTHER))
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.headers["access-control-allow-headers"] == "authorization, content-type"
        assert "access-control-allow-credentials" not in r.headers
        r = await g.chat("oai/gpt-4o-mini", headers={"origin": OTHER})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers


# -- with --no-auth the guard still refuses foreign origins -----------------------------------------


@asynccontextmanager
async def keyless(tmp_path: Path) -> AsyncIterator[Running]:
    # As `serve --no-auth` runs it: `legacy` without a proxy key is authentication off.
    cfg = config(tmp_path, {"cors_origins": [APP, "http://localhost:5173"], "auth_mode": "legacy"}, {})
    upstreams = Upstreams(lambda r: openai_chat())
    app = create_app(cfg, None, Keys({"oai": ["oai-first"]}), transport=httpx.MockTransport(upstreams))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://localhost:4000") as client,
    ):
        yield Running(client, upstreams, tmp_path / "llmgw.db", app)


async def test_no_auth_keeps_refusing_foreign_origins_even_listed_ones(tmp_path: Path) -> None:
    async with keyless(tmp_path) as g:
        r = await g.client.options("/v1/chat/completions", headers=preflight(APP))
        assert "loopback" in openai_err(r, 403)["message"]
        r = await g.chat("oai/gpt-4o-mini", headers={"origin": APP})
        assert r.status_code == 403
        r = await g.client.options("/v1/chat/completions", headers=preflight("http://localhost:5173"))
        assert r.status_code == 204
        r = await g.chat("oai/gpt-4o-mini", headers={"origin": "http://localhost:5173"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://localhost:5173"
