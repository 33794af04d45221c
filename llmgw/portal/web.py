"""What every portal page shares: the backend it runs on, security headers, the session cookie, the
client's address, the checks of a state-changing form (Origin, CSRF), and rendering.

Cookie: an opaque id only (`services/sessions.py`), `HttpOnly`, `SameSite=Strict`, `Path=/`; with
secure cookies (production by default, `cookie_secure`) also `Secure` and the `__Host-` prefix, which
browsers accept only from HTTPS, without a Domain, for the whole site.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmgw.services import sessions
from llmgw.services.database import Store
from llmgw.services.login_throttle import LoginThrottle
from llmgw.services.sessions import Session

__all__ = ["Backend", "PageError", "SecurityHeaders", "templates"]

PREFIX = "/ui"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["timestamp"] = lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")

_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class PageError(Exception):
    """Answered with the error page: its status and a message for people."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def not_found() -> PageError:
    return PageError(404, "Not found", "There is nothing here, or it is not yours to see.")


@dataclass
class Backend:
    """What the portal runs on, set when the gateway starts: its store, the hook that reloads the key
    index after a change made through that same connection (which `data_version` does not count; so
    a revoked key is refused, and a new one accepted, by the time the page answers), and the cookie
    policy."""

    store: Store
    changed: Callable[[], Awaitable[None]]
    secure_cookies: bool
    trusted_proxies: tuple[str, ...] = ()
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    @property
    def cookie_name(self) -> str:
        return "__Host-llmgw_session" if self.secure_cookies else "llmgw_session"


class SecurityHeaders:
    """Adds the portal's security headers to every response it sends, error pages and files
    included; pages (not the stylesheet) are never stored by caches."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(f"{PREFIX}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + _HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def backend(request: Request) -> Backend:
    found: Backend | None = getattr(request.app.state, "backend", None)
    if found is None:
        raise PageError(503, "Starting", "The gateway is starting; try again in a moment.")
    return found


def _trusted(host: str, proxies: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(p, strict=False) for p in proxies)


def client_address(request: Request) -> str | None:
    """The client's address: the peer's, or, from a trusted proxy, the last X-Forwarded-For hop that
    is not itself a trusted proxy."""
    peer = request.client.host if request.client else None
    proxies = backend(request).trusted_proxies
    if peer is None or not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return peer


def _expected_authority(request: Request) -> str:
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded and _trusted(peer, backend(request).trusted_proxies):
        return forwarded.split(",")[0].strip().lower()
    return request.headers.get("host", "").lower()


def same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from a page of this site: its Origin (or, without one,
    its Referer) names the host the request was sent to. Neither header: refused."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == _expected_authority(request)


async def current_session(request: Request) -> Session | None:
    b = backend(request)
    session_id = request.cookies.get(b.cookie_name)
    if not session_id:
        return None
    return await asyncio.to_thread(sessions.resume, b.store, session_id, client_address(request))


async def read_form(request: Request) -> FormData:
    """A small url-encoded or multipart form, no files."""
    try:
        return await request.form(max_files=0, max_fields=20, max_part_size=64 * 1024)
    except Exception as exc:  # python-multipart's and Starlette's parse errors alike
        raise PageError(400, "Bad request", "The form could not be read.") from exc


async def checked_post(request: Request) -> tuple[Session, FormData]:
    """The session and form of a state-changing request, after its checks: a live session, a
    same-origin request, and the session's CSRF token in the form. Any failure: the 403 page."""
    session = await current_session(request)
    if session is None:
        raise PageError(403, "Session ended", "Your session has ended. Log in again, then retry.")
    form = await read_form(request)
    token = form.get("csrf_token")
    if not same_origin(request) or not isinstance(token, str) or not sessions.csrf_matches(session, token):
        raise PageError(403, "Request refused", "This form was not sent from this site's own page.")
    return session, form


def field_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def render(
    request: Request,
    template: str,
    session: Session | None,
    context: Mapping[str, Any] | None = None,
    status: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request, template, {"session": session, **(context or {})}, status_code=status
    )


def redirect(path: str) -> RedirectResponse:
    """303 to a path of this site (relative: never built from the Host header)."""
    return RedirectResponse(path, status_code=303)


def set_session_cookie(response: Response, b: Backend, session_id: str) -> None:
    response.set_cookie(
        b.cookie_name,
        session_id,
        max_age=int(sessions.ABSOLUTE_TIMEOUT),
        path="/",
        secure=b.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, b: Backend) -> None:
    response.delete_cookie(b.cookie_name, path="/", secure=b.secure_cookies, httponly=True, samesite="strict")
