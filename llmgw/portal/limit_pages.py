"""Limit pages. Every user's own (`/limits`): what they spent this UTC day and month, and each limit
that binds them or one of their keys with what remains of its budget. Administrators': one user's or
key's limits, edited in a pre-filled form that changes only what was changed, and clearing them all
behind a confirmation page.

The form carries what it showed (`shown_*` hidden fields) and each field goes through
`limits.form_field`: left blank or as shown, it is kept as stored (another administrator's change
made while this form was open included); `remove_*` checkboxes remove one value, as `off` does in
`llmgw limit set`. A bad value comes back on the form with everything typed still in it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import AccountNotFound, InvalidAccountInput
from llmgw.portal.confirm import confirm_page, confirmed
from llmgw.portal.web import (
    PREFIX,
    PageError,
    admin_post,
    admin_session,
    backend,
    current_session,
    field_text,
    not_found,
    redirect,
    render,
)
from llmgw.services import limits
from llmgw.services.limits import LimitValues, SubjectLimits
from llmgw.services.sessions import Session


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # the form field's, and LimitValues' attribute
    label: str
    what: str  # in an error message
    kind: type[int] | type[float]
    unit: str  # in a summary: "30 requests/min"


_FIELDS = (
    _Field("rpm", "Requests per minute", "requests per minute", int, "requests/min"),
    _Field("tpm", "Tokens per minute", "tokens per minute", int, "tokens/min"),
    _Field("budget_usd", "Budget (USD)", "the budget", float, "USD"),
)


def _text(values: LimitValues | None, name: str) -> str:
    """A value as the form shows it: blank for none, a budget without trailing zeros."""
    value = None if values is None else getattr(values, name)
    if value is None:
        return ""
    return f"{value:.12g}" if isinstance(value, float) else str(value)


def summary(values: LimitValues) -> str:
    """`30 requests/min, 900 tokens/min, 2.50 USD/day`: the limits set, in words."""
    parts = [f"{values.rpm} requests/min"] if values.rpm is not None else []
    if values.tpm is not None:
        parts.append(f"{values.tpm} tokens/min")
    if values.budget_usd is not None:
        parts.append(f"{values.budget_usd:.2f} USD/{values.period}")
    return ", ".join(parts)


async def my_limits_page(request: Request) -> Response:
    """GET /limits: the signed-in user's own spend, limits and what remains of each budget."""
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    spend = await asyncio.to_thread(limits.user_spend, backend(request).store, session.actor)
    return render(request, "my_limits.html", session, {"spend": spend, "binds": limits.BINDS})


def _title(subject: SubjectLimits) -> str:
    if subject.scope == "user":
        return f"user {subject.subject}"
    return f"key {subject.subject} ({subject.key_name}, of {subject.owner})"


async def _subject(request: Request, session: Session, ref: str) -> SubjectLimits:
    try:
        return await asyncio.to_thread(limits.subject_limits, backend(request).store, session.actor, ref)
    except AccountNotFound as exc:
        raise PageError(400, "No such user or key", str(exc)) from exc


def _edit_page(
    request: Request,
    session: Session,
    subject: SubjectLimits,
    form: FormData | None = None,
    error: str | None = None,
) -> Response:
    """The form: pre-filled with the stored values, or (after an error) with what was sent."""
    rows: list[dict[str, Any]] = []
    for f in _FIELDS:
        stored = _text(subject.values, f.name)
        shown = stored if form is None else field_text(form, f"shown_{f.name}")
        rows.append(
            {
                "name": f.name,
                "label": f.label,
                "now": stored or "none",
                "shown": shown,
                "typed": shown if form is None else field_text(form, f.name),
                "removed": form is not None and bool(field_text(form, f"remove_{f.name}")),
            }
        )
    period = subject.values.period if subject.values else "month"
    page = {
        "subject": subject,
        "heading": _title(subject),
        "rows": rows,
        "period_now": period if subject.values and subject.values.budget_usd is not None else "none",
        "period_shown": period if form is None else field_text(form, "shown_period"),
        "period_typed": period if form is None else field_text(form, "period"),
        "error": error,
    }
    return render(request, "limits.html", session, page, 400 if error else 200)


async def limits_page(request: Request) -> Response:
    """GET /admin/limits?subject=NAME: the edit form of one user's or key's limits."""
    session = await admin_session(request)
    ref = request.query_params.get("subject", "").strip()
    if not ref:
        return redirect(f"{PREFIX}/admin/users#limits")
    return _edit_page(request, session, await _subject(request, session, ref))


def _changes(form: FormData) -> dict[str, Any]:
    """What the form asks to change: `limits.set_limits`' keyword arguments, KEEP for the rest."""
    changes: dict[str, Any] = {}
    for f in _FIELDS:
        value = limits.form_field(
            field_text(form, f"shown_{f.name}"), field_text(form, f.name), f.kind, f.what
        )
        if field_text(form, f"remove_{f.name}"):
            if value is not limits.KEEP and value is not None:
                raise InvalidAccountInput(f"{f.label}: remove it or give a new value, not both")
            value = None
        changes[f.name] = value
    period = field_text(form, "period").strip()
    changes["period"] = period if period and period != field_text(form, "shown_period") else limits.KEEP
    return changes


async def set_limits(request: Request) -> Response:
    """POST /admin/limits: change the values the form changed, keep the others as stored."""
    b = backend(request)
    session, form = await admin_post(request)
    ref = field_text(form, "subject").strip()
    try:
        change = await asyncio.to_thread(limits.set_limits, b.store, session.actor, ref, **_changes(form))
    except AccountNotFound as exc:
        raise PageError(400, "No such user or key", str(exc)) from exc
    except InvalidAccountInput as exc:
        return _edit_page(request, session, await _subject(request, session, ref), form, str(exc))
    if not change.changed:
        return redirect(f"{PREFIX}/admin/users?done=limits-unchanged")
    await b.changed()
    return redirect(f"{PREFIX}/admin/users?done=limits")


def _clear_path(subject: str) -> str:
    return f"{PREFIX}/admin/limits/{subject}/clear"


async def clear_page(request: Request) -> Response:
    """GET /admin/limits/{subject}/clear: what removing every limit of a subject gives up."""
    session = await admin_session(request)
    subject = await _subject(request, session, request.path_params["subject"])
    if subject.values is None:
        return redirect(f"{PREFIX}/admin/users?done=limits-none")
    if subject.scope == "user":
        who = f"Requests with any of {subject.owner}'s keys are no longer held to them"
        still = "Limits set on one of their keys stay."
    else:
        who = f"Requests with key {subject.subject} are no longer held to them"
        still = f"{subject.owner}'s own limits (all their keys), if any, still apply."
    losses = [
        f"Now: {summary(subject.values)} ({subject.binds}).",
        f"{who}, at once. {still}",
        "To remove one value only, edit the limits instead.",
    ]
    return confirm_page(
        request,
        session,
        title=f"Remove every limit of {_title(subject)}?",
        losses=losses,
        action=_clear_path(subject.subject),
        button="Remove every limit",
        cancel=f"{PREFIX}/admin/users#limits",
    )


async def clear_limits(request: Request) -> Response:
    """POST /admin/limits/{subject}/clear, from its confirmation page only."""
    b = backend(request)
    session, form = await admin_post(request)
    subject = request.path_params["subject"]
    if not confirmed(form):
        return redirect(_clear_path(subject))
    try:
        await asyncio.to_thread(limits.clear_limits, b.store, session.actor, subject)
    except AccountNotFound as exc:
        raise not_found() from exc
    await b.changed()
    return redirect(f"{PREFIX}/admin/users?done=limits-cleared")
