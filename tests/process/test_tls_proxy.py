"""TLS in front, for real: Caddy and nginx, each run from its recipe in packaging/ (tests/support/
tls_proxies.py says what a test machine changes), in front of a real `llmgw serve` with the recipe's
production settings.

Through the proxy, over https, Chromium logs in to the portal (a Secure, `__Host-` cookie) and mints a
personal key; the openai SDK calls /v1/chat/completions with it, whole and streamed (the fake upstream
holds the rest of the stream until the client has the first chunk, so a buffering proxy fails here
instead of passing slowly); HSTS comes once; http:// redirects; a body past llmgw's limit reaches
llmgw (its 413, not the proxy's); and the audit log records the client's address, not the proxy's nor
one the client forged. Clients trust the proxy's certificate exactly: Chromium its public key's
hash, the SDK its CA.

Both proxies run on one loopback, so llmgw must see the proxy come from another address than the
client (127.0.0.1): nginx connects from 127.0.0.3 (`proxy_bind`, added to the recipe here); Caddy 2.6
cannot choose its source address, so llmgw listens on [::1] and Caddy connects there.

Skipped without caddy, nginx, Chromium or Playwright unless LLMGW_REQUIRE_PROXIES is set (scripts/test
sets it on Linux), where that is a failure.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web

from tests.conftest import UPSTREAM_KEY, provider
from tests.process.test_cli_accounts import PW, Cli, ok
from tests.process.test_portal_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.fakes.fake_server import Scenario
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess
from tests.support.required import unavailable
from tests.support.tls_proxies import NAME, TlsProxy, caddy, nginx, spki_sha256

CLIENT = "127.0.0.1"  # where Chromium and the SDK connect to the proxy from
HELD = "held-stream"  # the fake's model whose stream waits for the test after its first chunk
HSTS = "max-age=31536000"
PROMPT = [{"role": "user", "content": "Say something through the proxy"}]


class HoldingUpstream(FakeOpenAI):
    """The fake OpenAI upstream; a stream of HELD stops after its first content chunk until `release`
    is set. If that never happens (a proxy on the way held the chunk back) it resets the connection
    after `hold_timeout` seconds, so the client sees a broken stream, not a late whole one."""

    hold_timeout = 10.0

    def __init__(self) -> None:
        super().__init__(accepted_keys=(UPSTREAM_KEY,))
        self.release = threading.Event()
        self.held_too_long = 0

    async def stream(
        self,
        request: web.Request,
        model: str,
        events: Sequence[bytes],
        content_at: Sequence[int],
        scenario: Scenario,
        headers: Mapping[str, str],
        error_event: bytes | None = None,
        final_usage: tuple[int, Mapping[str, Any]] | None = None,
    ) -> web.StreamResponse:
        if model != HELD:
            return await super().stream(
                request, model, events, content_at, scenario, headers, error_event, final_usage
            )
        response = web.StreamResponse(headers=dict(headers))
        await response.prepare(request)
        first = content_at[0] + 1
        for event in events[:first]:
            await response.write(event)
        if not await asyncio.to_thread(self.release.wait, self.hold_timeout):
            self.held_too_long += 1
            self.reset(request)
            return response
        for event in events[first:]:
            await response.write(event)
        await response.write_eof()
        return response


class V6Gateway(GatewayProcess):
    """`llmgw serve` listening on [::1] (for Caddy, which cannot choose its source address)."""

    @property
    def base_url(self) -> str:
        return f"http://[::1]:{self.port}"


@dataclass
class Deployment:
    proxy: TlsProxy
    gateway: GatewayProcess
    proxy_address: str  # the proxy's address as llmgw sees it: trusted_proxies
    upstream: HoldingUpstream

    @property
    def url(self) -> str:
        return self.proxy.url

    def http_client(self) -> httpx.Client:
        """An httpx client that verifies the proxy's certificate against its CA (and nothing else)."""
        return httpx.Client(verify=self.proxy.ssl_context(), timeout=30)

    def audit(self, *actions: str) -> list[tuple[str, str | None]]:
        with closing(sqlite3.connect(self.gateway.db_path)) as conn:
            marks = ",".join("?" * len(actions))
            rows = conn.execute(
                f"SELECT action, client_address FROM audit_log WHERE action IN ({marks}) ORDER BY id", actions
            ).fetchall()
        return [(str(a), None if c is None else str(c)) for a, c in rows]


def missing_tools(proxy: str) -> list[str]:
    missing = [f"no {proxy}"] if shutil.which(proxy) is None else []
    if not Path(CHROMIUM).exists():
        missing.append(f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python is not installed")
    return missing


@pytest.fixture(scope="module")
def upstream() -> Iterator[HoldingUpstream]:
    with HoldingUpstream() as server:
        yield server


@pytest.fixture(scope="module", params=["caddy", "nginx"])
def deployment(
    request: pytest.FixtureRequest, upstream: HoldingUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    kind = str(request.param)
    if missing := missing_tools(kind):
        unavailable(
            "LLMGW_REQUIRE_PROXIES",
            "; ".join(missing) + " (scripts/install-system-deps, DEV=1 scripts/install)",
        )
    tmp = tmp_path_factory.mktemp(kind)
    gw_dir, proxy_dir = tmp / "gw", tmp / "proxy"
    gw_dir.mkdir()
    proxy_dir.mkdir()
    # Caddy reaches llmgw over [::1]; nginx over 127.0.0.1, from 127.0.0.3.
    proxy_address = "::1" if kind == "caddy" else "127.0.0.3"
    assert proxy_address != CLIENT  # else the audit assertions could not tell them apart

    cli_config = tmp / "cli.toml"
    cli_config.write_text(f'[server]\ndatabase = "{gw_dir / "llmgw.db"}"\n', encoding="utf-8")
    ok(Cli(cli_config)("user", "add", "ada", "--password-stdin", stdin=PW + "\n"))

    gateway_class = V6Gateway if kind == "caddy" else GatewayProcess
    placeholder = "PUBLIC_URL"  # the proxy's port is known once the proxy is made, after the gateway's
    config = (
        f'env = "production"\nauth_mode = "users"\npublic_url = "{placeholder}"\n'
        f'trusted_proxies = ["{proxy_address}"]\n'
        + ('host = "::1"\n' if kind == "caddy" else "")
        + provider("up", upstream.base_url)
    )
    env = {"LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    gateway = gateway_class(gw_dir, config, env)
    if kind == "caddy":
        proxy = caddy(proxy_dir, f"[::1]:{gateway.port}")
    else:
        proxy = nginx(proxy_dir, f"127.0.0.1:{gateway.port}", proxy_address)
    text = gateway.config_path.read_text(encoding="utf-8")
    gateway.config_path.write_text(text.replace(placeholder, proxy.url), encoding="utf-8")
    with gateway, proxy:
        yield Deployment(proxy, gateway, proxy_address, upstream)


@pytest.fixture
def resolve_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """NAME resolves to 127.0.0.1 in this process (Chromium gets `--host-resolver-rules` instead)."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real(CLIENT if host == NAME else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@dataclass
class PortalVisit:
    token: str
    cookies: list[dict[str, Any]]


@pytest.fixture(scope="module")
def portal_visit(deployment: Deployment) -> PortalVisit:
    """Chromium, trusting exactly the proxy's certificate, logs in over https and mints a key."""
    from playwright.sync_api import sync_playwright

    args = [
        *CHROMIUM_ARGS,
        f"--host-resolver-rules=MAP {NAME} {CLIENT}",
        f"--ignore-certificate-errors-spki-list={spki_sha256(deployment.proxy.certificate_der)}",
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{deployment.url}/ui/login")
            page.fill("input[name=username]", "ada")
            page.fill("input[name=password]", PW)
            page.click("button[type=submit]")
            page.wait_for_url(f"{deployment.url}/ui/keys")
            page.fill("input[name=name]", "through-the-proxy")
            page.click("text=Create a key")
            token = page.get_attribute("[data-token]", "data-token")
            assert token is not None and token.startswith("llmgw-")
            cookies = [dict(c) for c in page.context.cookies()]
        finally:
            browser.close()
    return PortalVisit(token, cookies)


def test_the_browser_gets_a_secure_host_prefixed_session_cookie(portal_visit: PortalVisit) -> None:
    (cookie,) = portal_visit.cookies
    assert cookie["name"] == "__Host-llmgw_session"
    assert cookie["secure"] is True and cookie["httpOnly"] is True
    assert cookie["path"] == "/" and cookie["domain"] == NAME  # host-only: no Domain attribute


def test_the_audit_log_records_the_clients_address_not_the_proxys(
    deployment: Deployment, portal_visit: PortalVisit
) -> None:
    rows = deployment.audit("login.success", "key.created")
    assert [action for action, _ in rows] == ["login.success", "key.created"]
    assert {address for _, address in rows} == {CLIENT}, f"the proxy is {deployment.proxy_address}"


@pytest.mark.usefixtures("resolve_name")
def test_the_sdk_calls_through_the_proxy_whole_and_streamed_unbuffered(
    deployment: Deployment, portal_visit: PortalVisit
) -> None:
    with deployment.http_client() as http:
        client = openai.OpenAI(
            base_url=f"{deployment.url}/v1", api_key=portal_visit.token, http_client=http, max_retries=0
        )
        whole = client.chat.completions.create(model=f"up/{HELD}", messages=PROMPT)  # type: ignore[arg-type]
        expected = whole.choices[0].message.content
        assert expected

        upstream = deployment.upstream
        upstream.release.clear()
        held_before = upstream.held_too_long
        stream = client.chat.completions.create(model=f"up/{HELD}", messages=PROMPT, stream=True)  # type: ignore[arg-type]
        chunks = iter(stream)
        pieces: list[str] = []
        for chunk in chunks:  # up to the first content: the upstream sends nothing more before release
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
                break
        upstream.release.set()  # the first chunk came through the proxy alone
        pieces += [c.choices[0].delta.content or "" for c in chunks if c.choices]
        assert upstream.held_too_long == held_before, "the proxy held the first chunk back"
        assert "".join(pieces) == expected


@pytest.mark.usefixtures("resolve_name")
def test_hsts_is_sent_once_over_https(deployment: Deployment) -> None:
    with deployment.http_client() as http:
        for path in ("/ui/login", "/healthz"):  # the portal sends its own; the proxy's replaces it
            r = http.get(f"{deployment.url}{path}")
            assert r.status_code == 200, (path, r.text)
            assert r.headers.get_list("strict-transport-security") == [HSTS], path


def test_plain_http_is_redirected_to_https(deployment: Deployment) -> None:
    r = httpx.get(
        f"http://{CLIENT}:{deployment.proxy.http_port}/ui/login?x=1",
        headers={"host": f"{NAME}:{deployment.proxy.http_port}"},
    )
    assert r.status_code in (301, 308)
    location = r.headers["location"]
    assert location.startswith(f"https://{NAME}") and location.endswith("/ui/login?x=1")


@pytest.mark.parametrize("deployment", ["nginx"], indirect=True)  # llmgw on 127.0.0.1, the proxy not
def test_a_forged_forwarded_for_from_anyone_but_the_proxy_is_not_believed(deployment: Deployment) -> None:
    gateway = deployment.gateway
    forged = {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https", "origin": gateway.base_url}
    r = httpx.post(
        f"{gateway.base_url}/ui/login",
        data={"username": "ada", "password": "not her password"},
        headers=forged,
    )
    assert r.status_code == 400
    assert deployment.audit("login.failure")[-1] == ("login.failure", CLIENT)


@pytest.mark.usefixtures("resolve_name")
def test_a_forwarded_for_the_client_sends_through_the_proxy_is_not_believed(deployment: Deployment) -> None:
    with deployment.http_client() as http:
        r = http.post(
            f"{deployment.url}/ui/login",
            data={"username": "ada", "password": "not her password"},
            headers={"x-forwarded-for": "203.0.113.8", "origin": deployment.url},
        )
    assert r.status_code == 400
    assert deployment.audit("login.failure")[-1] == ("login.failure", CLIENT)


@pytest.mark.usefixtures("resolve_name")
def test_the_proxy_lets_a_body_past_llmgws_limit_reach_llmgw(
    deployment: Deployment, portal_visit: PortalVisit
) -> None:
    """The proxy's own limit is above llmgw's (16 MiB), so the client gets llmgw's 413, in its API's
    error format, not the proxy's HTML page."""
    prompt = "x" * (17 * 1024 * 1024)
    with deployment.http_client() as http:
        r = http.post(
            f"{deployment.url}/v1/chat/completions",
            json={"model": f"up/{HELD}", "messages": [{"role": "user", "content": prompt}]},
            headers={"authorization": f"Bearer {portal_visit.token}"},
        )
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "invalid_request_error", r.text
