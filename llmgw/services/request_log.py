"""The request log: the ledger's requests one by one, newest first, filtered by user, key, model,
status, error kind and time, found by request id, exported as CSV. For the portal's pages and the
TUI's screen.

Who sees what: an administrator (or the local administrator at the CLI or the TUI) every request; a
user only the requests made with their own keys, whatever the filter asks (`find`: another's request
id is "not found", as an unknown one is). Filters arrive as people typed them (`LogFilter`, text) and
are checked here: a bad one raises `InvalidFilter`, whose message says what a good one looks like.

Paging is a keyset: a page ends with the (created_at, request_id) of its last row (`LogPage.next`,
an opaque text for a link), and the next page starts strictly after it, so a page reads about as many
rows as it shows whatever the ledger's size, and rows written meanwhile never shift a page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from llmgw.errors import AccountNotFound, InvalidAccountInput
from llmgw.services import account_labels, audit
from llmgw.services.account_labels import AccountLabels
from llmgw.services.audit import Actor
from llmgw.services.csv_export import csv_document
from llmgw.services.subjects import PUBLIC_ID
from llmgw.storage import LEDGER_COLUMNS, Accounts, Cursor, LogQuery, Store

__all__ = [
    "CSV_CAP",
    "CSV_COLUMNS",
    "ERROR_KINDS",
    "PAGE_ROWS",
    "STATUSES",
    "CsvExport",
    "InvalidFilter",
    "LogFilter",
    "LogPage",
    "LogRow",
    "RequestDetail",
    "column_text",
    "export_csv",
    "find",
    "parse_request_id",
    "search",
]

PAGE_ROWS: Final = 50
MAX_PAGE_ROWS: Final = 500
CSV_CAP: Final = 10_000  # rows in one export: a spreadsheet's worth; narrow the filter for more
STATUSES: Final = ("ok", "error")
ERROR_KINDS: Final = ("client", "policy", "upstream")
_REQUEST_ID = re.compile(r"req_[A-Za-z0-9_-]{1,64}")
_MAX_TEXT = 200


class InvalidFilter(InvalidAccountInput):
    """A filter value the request log cannot take; the message says what it should look like."""


@dataclass(frozen=True, slots=True)
class LogFilter:
    """The filters as typed (every field text; empty: any). `since` and `until` are UTC times,
    `2026-12-01`, `2026-12-01 14:30` or `2026-12-01T14:30:00`; a date alone as `until` takes in
    that whole day."""

    user: str = ""  # a user's name (administrators only)
    key: str = ""  # a key's public id
    model: str = ""  # as the request named it
    status: str = ""  # ok | error
    error_kind: str = ""  # client | policy | upstream
    since: str = ""
    until: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> LogFilter:
        """The filter a query string (or a form) gives; other names are ignored."""
        return cls(**{f.name: str(values.get(f.name, "")).strip() for f in fields(cls)})

    def query(self, **extra: str) -> str:
        """The non-empty filters (and `extra`) as a URL query string, without its `?`."""
        pairs = [(f.name, getattr(self, f.name)) for f in fields(self)] + list(extra.items())
        return urlencode([(k, v) for k, v in pairs if v])

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True, slots=True)
class LogRow:
    """One request as the log lists it; the key is its name and public id, never its token."""

    request_id: str
    at: float
    user: str  # a name, "deleted user …", or "(no user)" for the proxy key
    key: str  # "name (public id)", "deleted key …", or "(no key)"
    endpoint: str
    provider: str | None
    model_requested: str | None
    model_upstream: str | None
    status: int
    error_kind: str | None
    error_type: str | None  # the error's code, e.g. budget_exceeded
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None  # None: no price known
    latency_ms: float | None
    streamed: bool

    @property
    def ok(self) -> bool:
        return self.status < 400 and self.error_type is None


@dataclass(frozen=True, slots=True)
class LogPage:
    rows: list[LogRow]
    next: str | None  # the cursor of the next (older) page; None: this is the last
    everyone: bool  # the rows may be anyone's (an administrator's view)


@dataclass(frozen=True, slots=True)
class RequestDetail:
    """One request with every ledger column, in the ledger's order (`columns`: name, raw value)."""

    row: LogRow
    columns: tuple[tuple[str, Any], ...]

    def shown(self) -> list[tuple[str, str]]:
        """The columns as every front end shows them (`column_text`)."""
        return [(name, column_text(name, value)) for name, value in self.columns]


def column_text(name: str, value: Any) -> str:
    """A ledger value for people: "—" for none, yes/no for flags, `created_at` as ISO-8601 UTC with its
    unix seconds, other numbers without float noise (0.013, not 0.013000000000000001)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "created_at":
        return f"{_iso(value)} ({value!r})"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


@dataclass(frozen=True, slots=True)
class CsvExport:
    text: str
    rows: int
    capped: bool  # the filter matched more than `CSV_CAP` rows: only the newest are in `text`


# --- checking what was typed ------------------------------------------------------------------------------


def parse_request_id(text: str) -> str:
    """A request id as clients get it in `x-request-id` (`req_…`), or InvalidFilter."""
    text = text.strip()
    if not _REQUEST_ID.fullmatch(text):
        raise InvalidFilter("a request id looks like req_ then letters and digits (the x-request-id header)")
    return text


def _time(text: str, what: str, *, end: bool) -> float | None:
    if not text:
        return None
    try:
        if len(text) == 10:  # a date alone
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return (day + timedelta(days=1) if end else day).timestamp()
        at = datetime.fromisoformat(text)
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):  # not a time, or past the calendar's ends (9999-12-31 as `to`)
        raise InvalidFilter(
            f"{what} (UTC) must be a date or time like 2026-12-01 or 2026-12-01 14:30"
        ) from None


def _cursor(text: str | None) -> Cursor | None:
    if not text:
        return None
    at, _, request_id = text.partition(",")
    try:
        created_at = float(at)
    except ValueError:
        created_at = math.nan
    if not math.isfinite(created_at) or not _REQUEST_ID.fullmatch(request_id):
        raise InvalidFilter("that page link is not one the request log made: start again from the newest")
    return created_at, request_id


def _text(value: str, what: str) -> str | None:
    if not value:
        return None
    if len(value) > _MAX_TEXT or not value.isprintable():
        raise InvalidFilter(f"{what} must be printable text of at most {_MAX_TEXT} characters")
    return value


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise InvalidFilter(f"{what} is {' or '.join(allowed)}")
    return value


def _user_id(accounts: Accounts, name: str) -> int:
    """A live user by name, else a deleted one by the name they had (`deleted user ann (#7)` or
    `#7` work too: the labels the log shows)."""
    live = accounts.user_by_name(name)
    if live is not None:
        return live.id
    deleted = accounts.deleted_user_names()
    number = re.fullmatch(r"(?:deleted user .*)?\(?#(\d+)\)?", name)
    if number and int(number.group(1)) in deleted:
        return int(number.group(1))
    named = [uid for uid, was in deleted.items() if was.casefold() == name.casefold()]
    if len(named) == 1:
        return named[0]
    raise InvalidFilter(
        f"no user named {name!r}" if not named else f"several deleted users were {name!r}: use #id"
    )


def _key_id(accounts: Accounts, text: str, owner: int | None) -> int:
    """A key by its public id (16 hex digits, as key listings and the log show it), live or deleted;
    `owner`: only that user's (another's is "no such key", as an unknown one is)."""
    public_id = text.rsplit("(", 1)[-1].rstrip(")").strip()  # "laptop (0123…)" as the log shows it
    if not PUBLIC_ID.fullmatch(public_id):
        raise InvalidFilter("a key is named by its public id: 16 hex digits, as key listings show it")
    live = accounts.key_by_public_id(public_id)
    found = [(live.id, live.user_id)] if live is not None else []
    found += [(k.id, k.user_id) for k in accounts.deleted_keys() if k.public_id == public_id]
    for key_id, user_id in found:
        if owner is None or user_id == owner:
            return key_id
    raise InvalidFilter(f"no key {public_id}" + (" of yours" if owner is not None else ""))


def _query(accounts: Accounts, f: LogFilter, own: int | None) -> LogQuery:
    """The storage query of `f` for a viewer: `own` is the user whose rows alone they may see."""
    since = _time(f.since, "From", end=False)
    until = _time(f.until, "To", end=True)
    if since is not None and until is not None and since >= until:
        raise InvalidFilter("From must be before To")
    status = _choice(f.status, STATUSES, "status")
    kind = _choice(f.error_kind, ERROR_KINDS, "the error kind")
    if kind is not None and status == "ok":
        raise InvalidFilter("a request with an error kind is an error: choose status error, or any")
    return LogQuery(
        user_id=own if own is not None else _user_id(accounts, f.user) if _text(f.user, "the user") else None,
        api_key_id=_key_id(accounts, f.key, own) if f.key else None,
        model=_text(f.model, "the model"),
        outcome="error" if status == "error" else "ok" if status == "ok" else None,
        error_kind=kind,
        since=since,
        until=until,
    )


# --- the use cases --------------------------------------------------------------------------------------


def _viewer(accounts: Accounts, actor: Actor) -> int | None:
    """The user id a viewer is confined to: None for an administrator (everyone's rows)."""
    me = audit.acting_user(accounts, actor)
    return None if me is None or me.role == "admin" else me.id


def _row(r: dict[str, Any], labels: AccountLabels) -> LogRow:
    return LogRow(
        request_id=r["request_id"],
        at=r["created_at"],
        user=labels.user(r["user_id"]),
        key=labels.key(r["api_key_id"]),
        endpoint=r["endpoint"],
        provider=r["provider"],
        model_requested=r["model_requested"],
        model_upstream=r["model_upstream"],
        status=r["status"],
        error_kind=r.get("error_kind"),
        error_type=r["error_type"],
        prompt_tokens=r["prompt_tokens"],
        completion_tokens=r["completion_tokens"],
        total_tokens=r["total_tokens"],
        cost_usd=r["cost_usd"],
        latency_ms=r["latency_ms"],
        streamed=r["streamed"],
    )


def search(
    store: Store, actor: Actor, f: LogFilter, *, after: str | None = None, limit: int = PAGE_ROWS
) -> LogPage:
    """One page of the requests matching `f`, newest first, starting after the cursor `after` (a
    `LogPage.next`; None: the newest). A user's page holds only their own requests."""
    if not 1 <= limit <= MAX_PAGE_ROWS:
        raise ValueError(f"limit must be from 1 to {MAX_PAGE_ROWS}")
    before = _cursor(after)
    with store.accounts(write=False) as accounts:
        own = _viewer(accounts, actor)
        query = _query(accounts, f, own)
        labels = account_labels.load(accounts, own)
    found = store.request_log(query, before=before, limit=limit + 1)
    rows = [_row(r, labels) for r in found[:limit]]
    last = found[limit - 1] if len(found) > limit else None
    return LogPage(
        rows, None if last is None else f"{last['created_at']!r},{last['request_id']}", own is None
    )


def find(store: Store, actor: Actor, request_id: str) -> RequestDetail:
    """One request by its id, every ledger column. AccountNotFound when there is none or it is
    another user's (the same answer: a user cannot learn that someone else's id exists)."""
    request_id = parse_request_id(request_id)
    with store.accounts(write=False) as accounts:
        own = _viewer(accounts, actor)
        labels = account_labels.load(accounts, own)
    found = store.request_by_id(request_id)
    if found is None or (own is not None and found["user_id"] != own):
        raise AccountNotFound(f"no request {request_id}")
    return RequestDetail(_row(found, labels), tuple((c, found.get(c)) for c in LEDGER_COLUMNS))


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_LABELLED = ("request_id", "created_at")
# The export's columns: the request, its time (ISO-8601 UTC), who (as the log names them), whether it
# was an error, then every other ledger column under its own name (ids, tokens, cost, timings …).
CSV_COLUMNS: Final = (
    "request_id",
    "created_at",
    "user",
    "key",
    "outcome",
    *(c for c in LEDGER_COLUMNS if c not in _LABELLED),
)


def export_csv(store: Store, actor: Actor, f: LogFilter, *, cap: int | None = None) -> CsvExport:
    """The requests matching `f`, newest first, as CSV (`CSV_COLUMNS`; cells defused as every export
    of llmgw's: `csv_export.csv_document`), at most `cap` rows (None: `CSV_CAP`); `capped` says more
    matched."""
    cap = CSV_CAP if cap is None else cap
    with store.accounts(write=False) as accounts:
        own = _viewer(accounts, actor)
        query = _query(accounts, f, own)
        labels = account_labels.load(accounts, own)
    found = store.request_log(query, before=None, limit=cap + 1)
    rows = found[:cap]

    def line(r: dict[str, Any]) -> list[Any]:
        row = _row(r, labels)
        rest = [r.get(c) for c in LEDGER_COLUMNS if c not in _LABELLED]
        return [row.request_id, _iso(row.at), row.user, row.key, "ok" if row.ok else "error", *rest]

    return CsvExport(csv_document(CSV_COLUMNS, (line(r) for r in rows)), len(rows), len(found) > cap)
