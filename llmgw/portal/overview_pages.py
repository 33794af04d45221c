"""The administrators' overview (`/admin/overview`, `services.overview`), and where each user lands
after logging in and at the portal's root (`landing`): administrators on the overview, everyone else
on their own keys."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from llmgw.portal.web import (
    PREFIX,
    admin_session,
    backend,
    render,
)
from llmgw.services import overview
from llmgw.services.money import usd


def landing(is_admin: bool) -> str:
    """The page a logged-in user starts on."""
    return f"{PREFIX}/admin/overview" if is_admin else f"{PREFIX}/keys"


async def overview_page(request: Request) -> Response:
    session = await admin_session(request)
    found = await asyncio.to_thread(overview.admin_overview, backend(request).store, session.actor)
    context = {"o": found, "t": found.today, "kinds": overview.ERROR_KINDS, "usd": usd}
    return render(request, "overview.html", session, context)
