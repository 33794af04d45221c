"""Creating keys in the portal: an administrator's one form for a user's new key (owner, name, expiry,
limits and models; the token shown once), and the expiry field both it and a user's own key form read.

The parts go through their own use cases: the key with its models in one transaction
(`keys.create_key`), then its limits (`limits.set_limits`, whose checks are the limits' own). Every
field is read before anything is written; a limit value the limits then refuse revokes the new key
before its token was shown, so a refused form never leaves a usable key behind. A refused form comes
back with everything typed still in it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import AccountError, InvalidAccountInput
from llmgw.portal.access_pages import patterns_typed
from llmgw.portal.limit_pages import summary
from llmgw.portal.web import (
    admin_post,
    admin_session,
    backend,
    field_text,
    render,
)
from llmgw.services import keys, limits, users
from llmgw.services.limits import LimitValues
from llmgw.services.sessions import Session

MAX_DAYS = 36500
FIELDS = ("owner", "name", "expires_days", "rpm", "tpm", "budget_usd", "period", "models")
_LIMITS: tuple[tuple[str, type[int] | type[float], str], ...] = (
    ("rpm", int, "requests per minute"),
    ("tpm", int, "tokens per minute"),
    ("budget_usd", float, "the budget"),
)


def expires_in(text: str) -> timedelta | None:
    """An expiry field: blank for never, else a whole number of days from 1 to 36500."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise InvalidAccountInput(
            f"the expiry is a whole number of days from 1 to {MAX_DAYS}, or blank for never"
        )
    return timedelta(days=int(text))


@dataclass(frozen=True, slots=True)
class _Wanted:
    """What the form asks for, read and parsed before anything is written."""

    owner: str
    name: str | None
    expires: timedelta | None
    limits: dict[str, Any]  # `limits.set_limits`' keyword arguments, only those given
    models: list[str] | None


def _read(form: FormData) -> _Wanted:
    owner = field_text(form, "owner").strip()
    if not owner:
        raise InvalidAccountInput("choose the user the key is for")
    wanted: dict[str, Any] = {}
    for name, kind, what in _LIMITS:
        value = limits.form_field("", field_text(form, name), kind, what)
        if value is not limits.KEEP and value is not None:  # `off` on a new key: nothing to set
            wanted[name] = value
    if "budget_usd" in wanted:
        wanted["period"] = field_text(form, "period") or "month"
    limits.check_values(LimitValues(**wanted))  # refused before the key exists, not after
    models = patterns_typed(field_text(form, "models"))
    return _Wanted(
        owner,
        field_text(form, "name").strip() or None,
        expires_in(field_text(form, "expires_days")),
        wanted,
        models or None,
    )


async def _page(
    request: Request, session: Session, typed: dict[str, str], status: int = 200, **context: object
) -> Response:
    everyone = await asyncio.to_thread(users.list_users, backend(request).store, session.actor)
    owners = [u.name for u in everyone if not u.disabled]
    page = {"owners": owners, "typed": typed, "periods": limits.PERIODS, **context}
    return render(request, "new_key.html", session, page, status)


async def new_key_page(request: Request) -> Response:
    """GET /admin/keys/new[?owner=NAME]: the form."""
    session = await admin_session(request)
    typed = {f: "" for f in FIELDS} | {"owner": request.query_params.get("owner", ""), "period": "month"}
    return await _page(request, session, typed)


def _said(new: keys.NewKey, wanted: dict[str, Any]) -> list[str]:
    """What was set, in words, beside the token."""
    k = new.key
    lines = [f"For {k.owner}, named {k.name}, id {k.public_id}."]
    if wanted:
        lines.append(f"Limits (this key only): {summary(LimitValues(**wanted))}.")
    models = "any its owner may" if k.model_access is None else ", ".join(k.model_access)
    lines.append(f"Models: {models}.")
    return lines


async def create_key_for(request: Request) -> Response:
    """POST /admin/keys/new: the key, its models and its limits; the token on this response only."""
    b = backend(request)
    session, form = await admin_post(request)
    typed = {f: field_text(form, f) for f in FIELDS}
    try:
        wanted = _read(form)
        new = await asyncio.to_thread(
            keys.create_key,
            b.store,
            session.actor,
            wanted.owner,
            wanted.name,
            wanted.expires,
            models=wanted.models,
        )
    except AccountError as exc:
        return await _page(request, session, typed, 400, error=str(exc))
    if wanted.limits:
        try:
            await asyncio.to_thread(
                limits.set_limits, b.store, session.actor, new.key.public_id, **wanted.limits
            )
        except AccountError as exc:
            # Checked above; only a change made meanwhile (the owner's limits, a role) lands here.
            # The token was never shown: the key goes before anyone could use it.
            await asyncio.to_thread(keys.revoke_key, b.store, session.actor, new.key.public_id)
            await b.changed()
            message = f"{exc}. No key was handed out (the one made for this form was revoked)."
            return await _page(request, session, typed, 400, error=message)
    await b.changed()
    fresh = {f: "" for f in FIELDS} | {"owner": new.key.owner, "period": "month"}
    return await _page(request, session, fresh, new_key=new, said=_said(new, wanted.limits))
