"""The administrators' pages: users (create, disable, enable, delete, reset a password, change a
role) with their and their keys' limits (rate limits, spend budgets), everyone's keys, the audit log.
Anyone else gets the 404 page: these pages do not exist for them."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import AccountError, AccountNotFound, InvalidAccountInput
from llmgw.portal.web import (
    PREFIX,
    backend,
    checked_post,
    current_session,
    field_text,
    not_found,
    redirect,
    render,
)
from llmgw.services import audit, keys, limits, users
from llmgw.services.sessions import Session

_NOTICES = {
    "created": "The user was created.",
    "disabled": "The user was disabled; their keys stop working and their sessions ended.",
    "enabled": "The user was enabled.",
    "deleted": "The user and their keys were deleted.",
    "role": "The role was changed.",
    "password": "The password was reset; the user's sessions ended.",
    "revoked": "The key was revoked.",
    "limits": "The limits were saved; the gateway applies them at once.",
    "limits-cleared": "The limits were removed.",
}
_DONE = {
    "disable": "disabled",
    "enable": "enabled",
    "delete": "deleted",
    "role": "role",
    "password": "password",
}
AUDIT_ROWS = 200


async def _admin(request: Request) -> Session:
    session = await current_session(request)
    if session is None or not session.is_admin:
        raise not_found()
    return session


async def _users_page(request: Request, session: Session, status: int = 200, **context: object) -> Response:
    store = backend(request).store
    everyone = await asyncio.to_thread(users.list_users, store, session.actor)
    limited = await asyncio.to_thread(limits.list_limits, store, session.actor)
    notice = _NOTICES.get(request.query_params.get("done", ""))
    page = {"users": everyone, "limits": limited, "notice": notice, **context}
    return render(request, "users.html", session, page, status)


async def users_page(request: Request) -> Response:
    return await _users_page(request, await _admin(request))


async def create_user(request: Request) -> Response:
    b = backend(request)
    session, form = await checked_post(request)
    if not session.is_admin:
        raise not_found()
    role: users.Role = "admin" if field_text(form, "role") == "admin" else "user"
    try:
        await asyncio.to_thread(
            users.create_user,
            b.store,
            session.actor,
            field_text(form, "username").strip(),
            field_text(form, "password"),
            role=role,
        )
    except AccountError as exc:
        return await _users_page(request, session, 400, error=str(exc))
    return redirect(f"{PREFIX}/admin/users?done=created")


async def user_action(request: Request) -> Response:
    """One change to one user, named in the path: disable, enable, delete, role, password."""
    b = backend(request)
    session, form = await checked_post(request)
    if not session.is_admin:
        raise not_found()
    name, action = request.path_params["name"], request.path_params["action"]
    try:
        if action == "disable":
            await asyncio.to_thread(users.disable_user, b.store, session.actor, name)
        elif action == "enable":
            await asyncio.to_thread(users.enable_user, b.store, session.actor, name)
        elif action == "delete":
            await asyncio.to_thread(users.delete_user, b.store, session.actor, name)
        elif action == "role":
            new_role: users.Role = "admin" if field_text(form, "role") == "admin" else "user"
            await asyncio.to_thread(users.set_role, b.store, session.actor, name, new_role)
        elif action == "password":
            await asyncio.to_thread(
                users.set_password, b.store, session.actor, name, field_text(form, "password")
            )
        else:
            raise not_found()
    except AccountNotFound as exc:
        raise not_found() from exc
    except AccountError as exc:
        return await _users_page(request, session, 400, error=str(exc))
    await b.changed()
    if name.lower() == session.user_name.lower() and action in ("disable", "delete", "role", "password"):
        return redirect(f"{PREFIX}/login")  # their own session ended with the change
    return redirect(f"{PREFIX}/admin/users?done={_DONE[action]}")


async def keys_page(request: Request) -> Response:
    session = await _admin(request)
    everyone = await asyncio.to_thread(keys.list_keys, backend(request).store, session.actor)
    notice = _NOTICES.get(request.query_params.get("done", ""))
    return render(request, "all_keys.html", session, {"keys": everyone, "notice": notice})


async def audit_page(request: Request) -> Response:
    session = await _admin(request)
    entries = await asyncio.to_thread(audit.entries, backend(request).store, session.actor)
    newest = list(reversed(entries[-AUDIT_ROWS:]))
    return render(request, "audit.html", session, {"entries": newest, "limit": AUDIT_ROWS})


def _number(form_value: str, name: str, kind: type[int] | type[float]) -> int | float | None:
    """A form's number; blank = no such limit."""
    text = form_value.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise InvalidAccountInput(f"{name} must be a number, or blank for none") from None


async def set_limits(request: Request) -> Response:
    """A user's or key's limits as the form states them (a blank field: no such limit)."""
    b = backend(request)
    session, form = await checked_post(request)
    if not session.is_admin:
        raise not_found()
    try:
        rpm = _number(field_text(form, "rpm"), "requests per minute", int)
        tpm = _number(field_text(form, "tpm"), "tokens per minute", int)
        budget = _number(field_text(form, "budget_usd"), "the budget", float)
        await asyncio.to_thread(
            limits.set_limits,
            b.store,
            session.actor,
            field_text(form, "subject"),
            rpm=None if rpm is None else int(rpm),
            tpm=None if tpm is None else int(tpm),
            budget_usd=budget,
            period=field_text(form, "period") or "month",
        )
    except AccountError as exc:
        return await _users_page(request, session, 400, error=str(exc))
    await b.changed()
    return redirect(f"{PREFIX}/admin/users?done=limits")


async def clear_limits(request: Request) -> Response:
    b = backend(request)
    session, _ = await checked_post(request)
    if not session.is_admin:
        raise not_found()
    try:
        await asyncio.to_thread(limits.clear_limits, b.store, session.actor, request.path_params["subject"])
    except AccountNotFound as exc:
        raise not_found() from exc
    await b.changed()
    return redirect(f"{PREFIX}/admin/users?done=limits-cleared")
