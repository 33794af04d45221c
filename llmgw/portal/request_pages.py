"""The request log's pages (`services.request_log`): `/requests`, filtered by user (administrators),
key, model, status, error kind and time, newest first, a page at a time (a keyset cursor in the
`after` link); finding one request by its id (`?id=`, the `x-request-id` clients get); one request's
every ledger column (`/requests/{request_id}`); the filtered set as CSV (`/requests.csv`, capped).
Administrators see everyone's requests, a user only their own: the service decides, whatever the
query asks, and another user's request id is the same 404 as an unknown one. A bad filter value is
shown on the page with what a good one looks like, never a server error."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import AccountNotFound
from llmgw.portal.web import PREFIX, backend, current_session, not_found, redirect, render
from llmgw.services import request_log
from llmgw.services.request_log import InvalidFilter, LogFilter, LogPage
from llmgw.services.sessions import Session


def _page(
    request: Request,
    session: Session,
    f: LogFilter,
    page: LogPage | None,
    error: str | None,
    status: int = 200,
) -> Response:
    context = {
        "filter": f,
        "page": page,
        "error": error,
        "statuses": request_log.STATUSES,
        "kinds": request_log.ERROR_KINDS,
        "cap": request_log.CSV_CAP,
        "rows": request_log.PAGE_ROWS,
        "first_page": not request.query_params.get("after"),
        "found_id": request.query_params.get("id", ""),
    }
    return render(request, "requests.html", session, context, status)


async def log_page(request: Request) -> Response:
    """The filtered log, one page; `?id=req_…` goes to that request's page."""
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    f = LogFilter.from_mapping(request.query_params)
    wanted = request.query_params.get("id", "").strip()
    try:
        if wanted:
            return redirect(f"{PREFIX}/requests/{quote(request_log.parse_request_id(wanted), safe='')}")
        page = await asyncio.to_thread(
            request_log.search,
            backend(request).store,
            session.actor,
            f,
            after=request.query_params.get("after") or None,
        )
    except InvalidFilter as exc:
        return _page(request, session, f, None, str(exc), 400)
    return _page(request, session, f, page, None)


async def detail_page(request: Request) -> Response:
    """One request, every ledger column; 404 when it is not there or not the viewer's."""
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    try:
        found = await asyncio.to_thread(
            request_log.find, backend(request).store, session.actor, request.path_params["request_id"]
        )
    except (AccountNotFound, InvalidFilter):
        raise not_found() from None
    return render(request, "request_detail.html", session, {"detail": found, "r": found.row})


async def log_csv(request: Request) -> Response:
    """The filtered set as CSV, newest first, at most `CSV_CAP` rows: the file's name says when the
    cap cut it (`…-newest-10000.csv`), as the page does before the link is followed."""
    session = await current_session(request)
    if session is None:
        return redirect(f"{PREFIX}/login")
    f = LogFilter.from_mapping(request.query_params)
    try:
        export = await asyncio.to_thread(request_log.export_csv, backend(request).store, session.actor, f)
    except InvalidFilter as exc:
        return _page(request, session, f, None, str(exc), 400)
    name = f"llmgw-requests-newest-{export.rows}.csv" if export.capped else "llmgw-requests.csv"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if export.capped:
        headers["x-llmgw-rows-capped"] = str(export.rows)
    return Response(export.text, media_type="text/csv; charset=utf-8", headers=headers)
