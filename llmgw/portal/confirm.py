"""The confirmation step of a destructive action (delete a user, revoke a key, clear limits): a GET
page that names what will be lost, with a Confirm button posting `confirm=yes` and a Cancel link. The
action's POST runs only with that field, which only the confirmation page's form carries: a one-click
form, or a stale one from an older page, lands on the confirmation page instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from llmgw.portal.web import render
from llmgw.services.sessions import Session


def confirmed(form: FormData) -> bool:
    """Whether a destructive POST comes from its confirmation page."""
    return form.get("confirm") == "yes"


def confirm_page(
    request: Request,
    session: Session,
    *,
    title: str,
    losses: Sequence[str],
    action: str,
    button: str,
    cancel: str,
    hidden: Mapping[str, str] | None = None,
) -> Response:
    """The page asking "are you sure": `title` as its heading, one line per thing lost."""
    page = {
        "title": title,
        "losses": losses,
        "action": action,
        "button": button,
        "cancel": cancel,
        "hidden": hidden or {},
    }
    return render(request, "confirm.html", session, page)
