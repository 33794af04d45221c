"""The web portal under /ui/: server-rendered pages (Jinja2), no JavaScript, for users (their keys,
their password, their usage) and administrators (users, everyone's keys and usage, the audit log).
It reaches the database only through `llmgw.services`; the server mounts it (`server/app.py`) and
gives it a `Backend` when the gateway starts."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from llmgw.errors import AccountError, AccountNotFound, PermissionDenied
from llmgw.portal import (
    access_pages,
    account_pages,
    admin_pages,
    key_forms,
    limit_pages,
    overview_pages,
    request_pages,
    usage_pages,
)
from llmgw.portal.site import Site
from llmgw.portal.web import (
    Backend,
    HostCheck,
    PageError,
    SecurityHeaders,
    current_session,
    not_found,
    render,
)

__all__ = ["Backend", "Site", "create_portal"]


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    session = None
    if exc.status != 503:
        try:
            session = await current_session(request)
        except PageError:
            session = None
    return render(request, "error.html", session, {"title": exc.title, "message": exc.message}, exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        title, message = "Not allowed", "This page does not take that kind of request."
    else:
        title, message = "Not found", "There is nothing here, or it is not yours to see."
    return await _page_error(request, PageError(status, title, message))


async def _account_error(request: Request, exc: Exception) -> Response:
    """A use case's refusal no page expected (the user was disabled or demoted a moment ago)."""
    if isinstance(exc, AccountNotFound):
        return await _page_error(request, not_found())
    if isinstance(exc, PermissionDenied):
        return await _page_error(request, PageError(403, "Not allowed", "You may not do that."))
    return await _page_error(request, PageError(400, "Refused", str(exc)))


def create_portal() -> Starlette:
    """The portal app, to mount at /ui; `app.state.backend` is set when the gateway starts."""
    routes = [
        Route("/", account_pages.home, methods=["GET"]),
        Route("/login", account_pages.login_page, methods=["GET"]),
        Route("/login", account_pages.login, methods=["POST"]),
        Route("/logout", account_pages.logout, methods=["POST"]),
        Route("/keys", account_pages.keys_page, methods=["GET"]),
        Route("/keys", account_pages.create_key, methods=["POST"]),
        Route("/keys/{public_id}/revoke", account_pages.revoke_page, methods=["GET"]),
        Route("/keys/{public_id}/revoke", account_pages.revoke_key, methods=["POST"]),
        Route("/usage", usage_pages.my_usage, methods=["GET"]),
        Route("/usage.csv", usage_pages.my_usage_csv, methods=["GET"]),
        Route("/requests", request_pages.log_page, methods=["GET"]),
        Route("/requests.csv", request_pages.log_csv, methods=["GET"]),
        Route("/requests/{request_id}", request_pages.detail_page, methods=["GET"]),
        Route("/password", account_pages.password_page, methods=["GET"]),
        Route("/password", account_pages.change_password, methods=["POST"]),
        Route("/admin/overview", overview_pages.overview_page, methods=["GET"]),
        Route("/admin/users", admin_pages.users_page, methods=["GET"]),
        Route("/admin/users", admin_pages.create_user, methods=["POST"]),
        Route("/admin/users/{name}/delete", admin_pages.delete_page, methods=["GET"]),
        Route("/admin/users/{name}/{action}", admin_pages.user_action, methods=["POST"]),
        Route("/admin/key-creation/{name}", admin_pages.set_key_creation, methods=["POST"]),
        Route("/limits", limit_pages.my_limits_page, methods=["GET"]),
        Route("/admin/limits", limit_pages.limits_page, methods=["GET"]),
        Route("/admin/limits", limit_pages.set_limits, methods=["POST"]),
        Route("/admin/limits/{subject}/clear", limit_pages.clear_page, methods=["GET"]),
        Route("/admin/limits/{subject}/clear", limit_pages.clear_limits, methods=["POST"]),
        Route("/admin/access", access_pages.access_page, methods=["GET"]),
        Route("/admin/access", access_pages.set_access, methods=["POST"]),
        Route("/admin/access/clear", access_pages.clear_access, methods=["POST"]),
        Route("/admin/keys", admin_pages.keys_page, methods=["GET"]),
        Route("/admin/keys/new", key_forms.new_key_page, methods=["GET"]),
        Route("/admin/keys/new", key_forms.create_key_for, methods=["POST"]),
        Route("/admin/audit", admin_pages.audit_page, methods=["GET"]),
        Route("/admin/usage", usage_pages.everyone_usage, methods=["GET"]),
        Route("/admin/usage.csv", usage_pages.everyone_usage_csv, methods=["GET"]),
        Route("/admin/usage/users/{name}", usage_pages.user_usage, methods=["GET"]),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        # HostCheck inside SecurityHeaders: a refused host's 400 gets the headers too
        middleware=[Middleware(SecurityHeaders), Middleware(HostCheck)],
        exception_handlers={
            PageError: _page_error,
            AccountError: _account_error,
            404: _http_error,
            405: _http_error,
        },
    )
    app.router.redirect_slashes = False
    return app
