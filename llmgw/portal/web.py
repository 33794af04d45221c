"""What every portal page shares: the backend it runs on, security headers, the host names it answers
to, the session cookie, the client's address, the checks of a state-changing form (Origin, CSRF), and
rendering. What the request says of its scheme, host and client is judged in `site.py`.

Cookie: an opaque id only (`services/sessions.py`), `HttpOnly`, `SameSite=Strict`, `Path=/`; when
Secure (`cookie_secure`; auto: in production, else over HTTPS) also the `__Host-` prefix, which
browsers accept only from HTTPS, without a Domain, for the whole site. The name is derived per request.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmgw.errors import LlmgwError
from llmgw.portal.site import HSTS, Site
from llmgw.services import sessions
from llmgw.services.database import Store
from llmgw.services.login_throttle import LoginThrottle, throttle_for
from llmgw.services.money import usd_amount
from llmgw.services.sessions import Session

__all__ = ["Backend", "HostCheck", "PageError", "SecurityHeaders", "templates"]

log = logging.getLogger("llmgw")

PREFIX = "/ui"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["timestamp"] = lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")
templates.env.filters["usd"] = usd_amount  # amounts with their digits: 0.002, never 0.00
_TABLE = re.compile(r"<table\b.*?</table>", re.S)


def table_boxes(html: str) -> Markup:
    """Each table of a rendered page in a box of its own that scrolls sideways (`.table-box`): a table
    wider than the screen, a phone's or a desktop's, scrolls there instead of widening the page, and one
    that fits still fills the width. The layout (base.html) applies it to every page's content, so a
    page added later gets it too. The pages' own templates hold no nested tables."""
    return Markup(_TABLE.sub(lambda m: f'<div class="table-box">{m.group(0)}</div>', str(html)))


templates.env.filters["table_boxes"] = table_boxes

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


class PageError(LlmgwError):
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
    a revoked key is refused, and a new one accepted, by the time the page answers), and the site:
    how the portal is reached (cookie policy, host names, trusted proxies)."""

    store: Store
    changed: Callable[[], Awaitable[None]]
    site: Site = field(default_factory=Site)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    def __post_init__(self) -> None:
        if self.store.postgres and not self.throttle.blocking:  # instances share the counts
            self.throttle = throttle_for(self.store)


def _site(scope: Scope) -> Site | None:
    found: Backend | None = getattr(scope["app"].state, "backend", None)
    return None if found is None else found.site


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
        site = _site(scope)
        hsts = site is not None and site.hsts(HTTPConnection(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + _HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                if hsts:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HostCheck:
    """A plain 400, before any page, for a request addressed to a host name the portal does not answer
    to (`site.py`): a DNS-rebinding page, a misrouted proxy. The name is logged, never echoed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        site = _site(scope) if scope["type"] == "http" else None
        if site is not None and not site.host_allowed(conn := HTTPConnection(scope)):
            log.warning(
                "portal refused host %r: not public_url's, allowed_hosts' or a loopback name",
                site.authority(conn)[:100],
            )
            refusal = PlainTextResponse("Bad request: this site does not answer to that host name.\n", 400)
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def backend(request: Request) -> Backend:
    found: Backend | None = getattr(request.app.state, "backend", None)
    if found is None:
        raise PageError(503, "Starting", "The gateway is starting; try again in a moment.")
    return found


def client_address(request: Request) -> str | None:
    """The client's address: the peer's, or the IP address a trusted proxy vouches for (`site.py`)."""
    return backend(request).site.client_address(request)


def same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from a page of this site (`site.Site.same_origin`)."""
    return backend(request).site.same_origin(request)


def session_cookie(request: Request) -> str | None:
    """The session id the request presents, under the one name this request's cookie policy has."""
    return request.cookies.get(backend(request).site.cookie_name(request))


async def current_session(request: Request) -> Session | None:
    session_id = session_cookie(request)
    if not session_id:
        return None
    return await asyncio.to_thread(
        sessions.resume, backend(request).store, session_id, client_address(request)
    )


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


async def admin_session(request: Request) -> Session:
    """An administrator's session, for their pages; anyone else gets the 404 page (administrators'
    pages are not there for others, not merely refused)."""
    session = await current_session(request)
    if session is None or not session.is_admin:
        raise not_found()
    return session


async def admin_post(request: Request) -> tuple[Session, FormData]:
    """`checked_post`, then the 404 page for anyone but an administrator."""
    session, form = await checked_post(request)
    if not session.is_admin:
        raise not_found()
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


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    site = backend(request).site
    response.set_cookie(
        site.cookie_name(request),
        session_id,
        max_age=int(sessions.ABSOLUTE_TIMEOUT),
        path="/",
        secure=site.secure_cookies(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    site = backend(request).site
    secure = site.secure_cookies(request)
    response.delete_cookie(
        site.cookie_name(request), path="/", secure=secure, httponly=True, samesite="strict"
    )
