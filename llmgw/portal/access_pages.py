"""Administrators' model access pages: which models one user or key may call, edited as a list of
patterns (one per line: `provider/model`, an alias, `openai/*`), and lifted with one button. A bad
pattern comes back on the form with everything typed still in it. The rules are
`services/model_access.py`'s; the gateway in this process reloads its key index before the answer."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import AccountNotFound, InvalidAccountInput
from llmgw.portal.web import (
    PREFIX,
    PageError,
    admin_post,
    admin_session,
    backend,
    field_text,
    redirect,
    render,
)
from llmgw.services import model_access
from llmgw.services.model_access import SubjectAccess
from llmgw.services.sessions import Session


async def _subject(request: Request, session: Session, ref: str) -> SubjectAccess:
    try:
        return await asyncio.to_thread(
            model_access.subject_access, backend(request).store, session.actor, ref
        )
    except AccountNotFound as exc:
        raise PageError(400, "No such user or key", str(exc)) from exc


def title(subject: SubjectAccess) -> str:
    if subject.scope == "user":
        return f"user {subject.subject}"
    return f"key {subject.subject} ({subject.key_name}, of {subject.owner})"


def patterns_typed(text: str) -> list[str]:
    """A form's patterns: one per line (spaces and commas separate them too)."""
    return text.replace(",", " ").split()


def _page(
    request: Request,
    session: Session,
    subject: SubjectAccess,
    typed: str | None = None,
    error: str | None = None,
) -> Response:
    page = {
        "subject": subject,
        "heading": title(subject),
        "typed": "\n".join(subject.patterns or ()) if typed is None else typed,
        "error": error,
        "notice": _NOTICES.get(request.query_params.get("done", "")),
    }
    return render(request, "access.html", session, page, 400 if error else 200)


_NOTICES = {
    "set": "Saved: the gateway applies it at once.",
    "unchanged": "Nothing changed: the list was already that.",
    "cleared": "The restriction was lifted.",
    "none": "There was no restriction to lift.",
}


async def access_page(request: Request) -> Response:
    """GET /admin/access?subject=NAME|KEY_ID: one user's or key's model access."""
    session = await admin_session(request)
    ref = request.query_params.get("subject", "").strip()
    if not ref:
        return redirect(f"{PREFIX}/admin/users#access")
    return _page(request, session, await _subject(request, session, ref))


async def set_access(request: Request) -> Response:
    """POST /admin/access: replace the subject's list with the patterns typed."""
    b = backend(request)
    session, form = await admin_post(request)
    ref = field_text(form, "subject").strip()
    typed = field_text(form, "patterns")
    try:
        change = await asyncio.to_thread(
            model_access.set_access, b.store, session.actor, ref, patterns_typed(typed)
        )
    except AccountNotFound as exc:
        raise PageError(400, "No such user or key", str(exc)) from exc
    except InvalidAccountInput as exc:
        return _page(request, session, await _subject(request, session, ref), typed, str(exc))
    if change.changed:
        await b.changed()
    done = "set" if change.changed else "unchanged"
    return redirect(f"{PREFIX}/admin/access?subject={quote(change.access.subject, safe='')}&done={done}")


async def clear_access(request: Request) -> Response:
    """POST /admin/access/clear: lift the subject's own restriction (a key keeps its user's)."""
    b = backend(request)
    session, form = await admin_post(request)
    ref = field_text(form, "subject").strip()
    try:
        change = await asyncio.to_thread(model_access.clear_access, b.store, session.actor, ref)
    except AccountNotFound as exc:
        raise PageError(400, "No such user or key", str(exc)) from exc
    if change.changed:
        await b.changed()
    done = "cleared" if change.changed else "none"
    return redirect(f"{PREFIX}/admin/access?subject={quote(change.access.subject, safe='')}&done={done}")
