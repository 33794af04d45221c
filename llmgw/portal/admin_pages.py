"""The administrators' pages: users (create, disable, enable, delete after a confirmation page,
reset a password, change a role, switch their own key creation) with the list of limits (edited in
`limit_pages.py`), everyone's keys, the audit log. Anyone else gets the 404 page: these pages do not
exist for them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import AccountError, AccountNotFound
from llmgw.portal.confirm import confirm_page, confirmed
from llmgw.portal.web import (
    PREFIX,
    admin_post,
    admin_session,
    backend,
    field_text,
    not_found,
    redirect,
    render,
)
from llmgw.services import audit, keys, limits, passwords, users
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
    "limits-unchanged": "Nothing changed: every value was left as it was.",
    "limits-none": "There were no limits to remove.",
    "key-creation-off": "The user may no longer create their own keys (administrators still can, for them); "
    "their existing keys keep working.",
    "key-creation-on": "The user may create their own keys again.",
}
_DONE = {
    "disable": "disabled",
    "enable": "enabled",
    "delete": "deleted",
    "role": "role",
    "password": "password",
}
AUDIT_ROWS = 200


async def _users_page(request: Request, session: Session, status: int = 200, **context: object) -> Response:
    store = backend(request).store
    everyone = await asyncio.to_thread(users.list_users, store, session.actor)
    limited = await asyncio.to_thread(limits.limits_with_spend, store, session.actor)
    notice = _NOTICES.get(request.query_params.get("done", ""))
    page = {"users": everyone, "limits": limited, "binds": limits.BINDS, "notice": notice, **context}
    return render(request, "users.html", session, page, status)


async def users_page(request: Request) -> Response:
    return await _users_page(request, await admin_session(request))


async def create_user(request: Request) -> Response:
    b = backend(request)
    session, form = await admin_post(request)
    role: users.Role = "admin" if field_text(form, "role") == "admin" else "user"
    try:  # a hash: in the password pool, like a login
        await passwords.POOL.run(
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
    session, form = await admin_post(request)
    name, action = request.path_params["name"], request.path_params["action"]
    if action == "delete" and not confirmed(form):
        return redirect(f"{PREFIX}/admin/users/{name}/delete")
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
            await passwords.POOL.run(  # a hash: in the password pool, like a login
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


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


async def delete_page(request: Request) -> Response:
    """GET /admin/users/{name}/delete: what deleting the user takes with them."""
    session = await admin_session(request)
    store = backend(request).store
    name = request.path_params["name"]
    everyone = await asyncio.to_thread(users.list_users, store, session.actor)
    user = next((u for u in everyone if u.name.lower() == name.lower()), None)
    if user is None:
        raise not_found()
    theirs = await asyncio.to_thread(keys.list_keys, store, session.actor, user.name)
    limited = await asyncio.to_thread(limits.list_limits, store, session.actor)
    active = sum(k.state == "active" for k in theirs)
    if not theirs:
        losses = ["They have no keys."]
    else:
        verb = "is" if len(theirs) == 1 else "are"
        losses = [
            f"Their {_count(len(theirs), 'key')} ({active} active) {verb} deleted: "
            "programs using them are refused at once."
        ]
    losses.append("Their portal sessions end.")
    if any(row.owner == user.name for row in limited):
        losses.append("Their limits, and those set on their keys, are removed.")
    losses.append("Their usage history stays in the usage reports and exports.")
    if user.name.lower() == session.user_name.lower():
        losses.append("This is your own account: you are logged out at once.")
    losses.append("This cannot be undone. To stop their access but keep the account, disable them instead.")
    return confirm_page(
        request,
        session,
        title=f"Delete user {user.name}?",
        losses=losses,
        action=f"{PREFIX}/admin/users/{user.name}/delete",
        button=f"Delete {user.name}",
        cancel=f"{PREFIX}/admin/users",
    )


async def keys_page(request: Request) -> Response:
    session = await admin_session(request)
    everyone = await asyncio.to_thread(keys.list_keys, backend(request).store, session.actor)
    notice = _NOTICES.get(request.query_params.get("done", ""))
    return render(request, "all_keys.html", session, {"keys": everyone, "notice": notice})


AUDIT_PERIODS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "all": "All time"}
_PERIOD_SECONDS = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}


def _day(text: str, what: str) -> float | None:
    """A `YYYY-MM-DD` field as the start of that UTC day; blank: None."""
    if not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise AccountError(f"{what}: a date as YYYY-MM-DD") from None


def audit_filter(query: Mapping[str, str], now: float) -> audit.AuditFilter:
    """The audit page's filter from its query: `period` (24h, 7d, 30d, all), or `from` and `until`
    (UTC days, both included) when given; `actor`; `action` (one, or a family such as `key`)."""
    since_day, until_day = _day(query.get("from", ""), "From"), _day(query.get("until", ""), "Until")
    if since_day is not None or until_day is not None:
        until = None if until_day is None else until_day + 86400
        if since_day is not None and until is not None and since_day >= until:
            raise AccountError("From must not be after Until")
        since = since_day
    else:
        seconds = _PERIOD_SECONDS.get(query.get("period", "7d"))
        since, until = (None if seconds is None else now - seconds), None
    return audit.AuditFilter(since, until, query.get("actor", "").strip(), query.get("action", "").strip())


async def audit_page(request: Request) -> Response:
    """GET /admin/audit: the log, newest first, filtered by period or dates, actor and action."""
    session = await admin_session(request)
    query = request.query_params
    period = query.get("period", "7d") if query.get("period") in AUDIT_PERIODS else "7d"
    error = None
    try:
        wanted = audit_filter({**query, "period": period}, time.time())
    except AccountError as exc:
        error, wanted = str(exc), audit_filter({"period": period}, time.time())
    found = await asyncio.to_thread(audit.search, backend(request).store, session.actor, wanted)
    families = sorted({a.partition(".")[0] for a in found.actions})
    page = {
        "entries": found.entries[:AUDIT_ROWS],
        "matched": len(found.entries),
        "limit": AUDIT_ROWS,
        "periods": AUDIT_PERIODS,
        "period": period,
        "actors": sorted({*found.actors, *([wanted.actor] if wanted.actor else [])}, key=str.lower),
        "actions": [*(f for f in families if f not in found.actions), *found.actions],
        "chosen": {k: query.get(k, "") for k in ("from", "until", "actor", "action")},
        "error": error,
    }
    return render(request, "audit.html", session, page, 400 if error else 200)


async def set_key_creation(request: Request) -> Response:
    """Allow (`allowed=on`) or refuse (`off`) a user's creating their own keys."""
    b = backend(request)
    session, form = await admin_post(request)
    allowed = field_text(form, "allowed")
    if allowed not in ("on", "off"):
        return await _users_page(request, session, 400, error="Key creation is turned on or off.")
    name = request.path_params["name"]
    try:
        await asyncio.to_thread(users.set_key_creation, b.store, session.actor, name, allowed=allowed == "on")
    except AccountNotFound as exc:
        raise not_found() from exc
    except AccountError as exc:
        return await _users_page(request, session, 400, error=str(exc))
    return redirect(f"{PREFIX}/admin/users?done=key-creation-{allowed}")
