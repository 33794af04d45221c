"""The pages every user has: log in and out, their keys (create, unless an administrator turned that
off for them; revoke, after a confirmation page), their password."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import (
    AccountError,
    AccountNotFound,
    InvalidAccountInput,
    PasswordChecksBusy,
    PermissionDenied,
)
from llmgw.portal.confirm import confirm_page, confirmed
from llmgw.portal.key_forms import expires_in
from llmgw.portal.overview_pages import landing
from llmgw.portal.web import (
    PREFIX,
    PageError,
    backend,
    checked_post,
    clear_session_cookie,
    client_address,
    current_session,
    field_text,
    not_found,
    read_form,
    redirect,
    render,
    same_origin,
    session_cookie,
    set_session_cookie,
)
from llmgw.services import keys, passwords, sessions, users
from llmgw.services.sessions import Session

T = TypeVar("T")

LOGIN_FAILED = "Login failed: check your user name and password, then try again in a moment."
LOGIN_BUSY = "Too many login attempts right now: try again in a few seconds."
_NOTICES = {
    "revoked": "The key was revoked.",
    "password": "Your password was changed. Log in with the new one.",
    "logout": "You are logged out.",
}


async def home(request: Request) -> Response:
    session = await current_session(request)
    return redirect(landing(session.is_admin) if session else f"{PREFIX}/login")


async def login_page(request: Request) -> Response:
    notice = _NOTICES.get(request.query_params.get("done", ""))
    return render(request, "login.html", None, {"notice": notice})


async def login(request: Request) -> Response:
    """Check the form (rate-limited, one message for every failure); a new session id on success,
    the one presented before (if any) ended: no fixation. The check runs in the password pool; when
    that is full, 429 at once, the same for every name."""
    b = backend(request)
    if not same_origin(request):
        raise PageError(403, "Request refused", "This form was not sent from this site's own page.")
    form = await read_form(request)
    name, password = field_text(form, "username").strip()[:64], field_text(form, "password")[:1024]
    address = client_address(request)
    user = None
    throttle = b.throttle
    let_in: bool = bool(name and password)
    if let_in:
        let_in = await _throttled(lambda: throttle.allowed(name, address), throttle.blocking)
    if let_in:
        # counted before the check: parallel guesses cannot slip past
        await _throttled(lambda: throttle.failed(name, address), throttle.blocking)
        try:
            user = await passwords.POOL.run(users.authenticate, b.store, name, password, address)
        except PasswordChecksBusy:
            await _throttled(lambda: throttle.unchecked(name, address), throttle.blocking)
            busy = render(request, "login.html", None, {"error": LOGIN_BUSY, "username": name}, status=429)
            busy.headers["retry-after"] = "5"
            return busy
    if user is None:
        return render(request, "login.html", None, {"error": LOGIN_FAILED, "username": name}, status=400)
    await _throttled(lambda: throttle.succeeded(name, address), throttle.blocking)
    old = session_cookie(request)
    if old:
        await asyncio.to_thread(sessions.discard, b.store, old)
    session_id, _ = await asyncio.to_thread(sessions.start, b.store, user, address)
    response = redirect(landing(user.role == "admin"))
    set_session_cookie(response, request, session_id)
    return response


async def _throttled(call: Callable[[], T], blocking: bool) -> T:
    """A throttle's call: in a worker thread when it waits on the database (PostgreSQL's shared counts)."""
    if blocking:
        return await asyncio.to_thread(call)
    return call()


async def logout(request: Request) -> Response:
    b = backend(request)
    session, _ = await checked_post(request)
    await asyncio.to_thread(sessions.end, b.store, session_cookie(request) or "", session.actor)
    response = redirect(f"{PREFIX}/login?done=logout")
    clear_session_cookie(response, request)
    return response


async def _keys_page(request: Request, session: Session, *, status: int = 200, **context: object) -> Response:
    b = backend(request)
    mine = await asyncio.to_thread(keys.list_keys, b.store, session.actor, session.user_name)
    may_create = await asyncio.to_thread(keys.may_create_own_keys, b.store, session.actor)
    notice = _NOTICES.get(request.query_params.get("done", ""))
    page = {"keys": mine, "notice": notice, "may_create": may_create, **context}
    return render(request, "keys.html", session, page, status)


async def keys_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    return await _keys_page(request, session)


async def create_key(request: Request) -> Response:
    """The new key's token is on this response only (`Cache-Control: no-store`, as every page)."""
    b = backend(request)
    session, form = await checked_post(request)
    name = field_text(form, "name").strip() or None
    typed = {"name": field_text(form, "name"), "expires_days": field_text(form, "expires_days")}
    try:
        expires = expires_in(typed["expires_days"])
        new = await asyncio.to_thread(
            keys.create_key, b.store, session.actor, session.user_name, name, expires
        )
    except PermissionDenied as exc:  # an administrator turned off their key creation
        return await _keys_page(request, session, status=403, error=str(exc))
    except AccountError as exc:
        return await _keys_page(request, session, status=400, error=str(exc), typed=typed)
    await b.changed()
    return await _keys_page(request, session, new_key=new)


async def _visible_key(request: Request, session: Session, public_id: str) -> keys.Key:
    """One of the user's own keys, or (administrators) anyone's; any other id is a 404, as a missing
    one is."""
    visible = await asyncio.to_thread(keys.list_keys, backend(request).store, session.actor)
    found = next((k for k in visible if k.public_id == public_id), None)
    if found is None:
        raise not_found()
    return found


def _back(session: Session, back: str) -> str:
    """The list a key's revocation returns to: everyone's keys for an administrator who came from it."""
    return f"{PREFIX}/admin/keys" if back == "admin" and session.is_admin else f"{PREFIX}/keys"


async def revoke_page(request: Request) -> Response:
    """GET /keys/{public_id}/revoke: what revoking the key ends, with the Revoke button."""
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    key = await _visible_key(request, session, request.path_params["public_id"])
    back = request.query_params.get("back", "")
    if key.state == "revoked":
        return redirect(_back(session, back))
    mine = key.owner.lower() == session.user_name.lower()
    title = f"Revoke your key {key.name}?" if mine else f"Revoke the key {key.name} of {key.owner}?"
    used = "never used" if key.last_used_at is None else f"last used {_utc(key.last_used_at)}"
    return confirm_page(
        request,
        session,
        title=title,
        losses=[
            f"Key {key.name}, id {key.public_id}, created {_utc(key.created_at)}, {used}.",
            "Programs using it are refused at once.",
            "This cannot be undone: a revoked key never works again (create a new key instead).",
        ],
        action=f"{PREFIX}/keys/{key.public_id}/revoke",
        button="Revoke the key",
        cancel=_back(session, back),
        hidden={"back": "admin"} if back == "admin" and session.is_admin else None,
    )


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def revoke_key(request: Request) -> Response:
    """Revoke one of one's own keys; an administrator, anyone's; from the confirmation page only.
    Another user's key, like a missing one, is a 404."""
    b = backend(request)
    session, form = await checked_post(request)
    public_id = request.path_params["public_id"]
    back = field_text(form, "back")
    if not confirmed(form):
        await _visible_key(request, session, public_id)  # a 404 before any redirect
        query = "?back=admin" if back == "admin" and session.is_admin else ""
        return redirect(f"{PREFIX}/keys/{public_id}/revoke{query}")
    try:  # the service answers AccountNotFound for a key of someone else's
        await asyncio.to_thread(keys.revoke_key, b.store, session.actor, public_id)
    except (AccountNotFound, InvalidAccountInput) as exc:
        raise not_found() from exc
    await b.changed()
    return redirect(f"{_back(session, back)}?done=revoked")


async def password_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    return render(request, "password.html", session)


async def change_password(request: Request) -> Response:
    """Change one's own password (the current one required); every session of the user ends, this
    one included."""
    b = backend(request)
    session, form = await checked_post(request)
    new, again = field_text(form, "new_password"), field_text(form, "new_password_again")
    if new != again:
        return render(request, "password.html", session, {"error": "The new passwords differ."}, 400)
    try:  # two hashes: in the password pool, like a login
        await passwords.POOL.run(
            users.set_password,
            b.store,
            session.actor,
            session.user_name,
            new,
            current_password=field_text(form, "current_password"),
        )
    except (InvalidAccountInput, PermissionDenied, PasswordChecksBusy) as exc:
        return render(request, "password.html", session, {"error": str(exc)}, 400)
    response = redirect(f"{PREFIX}/login?done=password")
    clear_session_cookie(response, request)
    return response
