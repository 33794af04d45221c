"""Every exception of the package, in one hierarchy under `LlmgwError`. Errors are data here: a status,
the `type` / `code` / `param` of a body, a message for people, headers; and `UpstreamError`, an
upstream's error answer as read. How an error becomes the bytes a client gets, in its dialect, is
`llmgw/wire/` (`render`, `error_body`); the CLI's exit code for each is `llmgw/cli/exit_codes.py`.

Exception
└── LlmgwError                       every exception the package raises on purpose
    ├── ConfigError                  bad configuration: a located message, never a traceback
    ├── SecretBackendUnavailable     no usable OS keyring (the CLI says so; environment secrets still work)
    ├── DatabaseInUse                another `llmgw serve` holds the database's serve lock
    ├── DatabaseUnreadable           not a SQLite database, or damaged (exit 2; `db check` reports it)
    ├── DatabaseTooNew               migrations this llmgw does not know: a newer one upgraded the database
    ├── DatabaseNotEmpty             `llmgw db copy`'s target already holds rows: nothing copied
    ├── CopyFailed                   `llmgw db copy` failed (a row refused, totals that differ): rolled back
    ├── LaunchError                  `llmgw run` cannot start the agent: no key, a gateway URL not http(s)
    │   └── AgentNotFound            the agent's program is not on PATH
    ├── AccountError                 an account use case refused (the CLI exits 1; the portal says why)
    │   ├── AccountNotFound          no such user or key
    │   ├── PermissionDenied         the acting principal may not do that
    │   ├── InvalidAccountInput      a bad name, a password against the policy, a bad expiry
    │   ├── AccountRuleViolation     the change would break a rule: the last active admin, a disabled owner
    │   └── PasswordChecksBusy       every password-hashing slot taken, and its queue full: try again shortly
    ├── Unsupported                  a provider type has no such operation (the relay answers 400)
    └── GatewayError                 answered to a client with `status` and an error body in its dialect
        ├── InvalidRequest           400 malformed JSON, missing or wrong fields
        │   └── PreviousResponseNotFound 400 a `previous_response_id` the gateway cannot continue from
        ├── Unauthenticated          401 missing or wrong gateway key
        ├── Forbidden                403 without auth: a Host or Origin that is not loopback
        ├── ModelNotPriced           403 a budget applies and the model has no price: budgets fail closed
        ├── ModelNotAllowed          403 the caller's user or key may not call that model (model access)
        ├── ModelNotFound            404 no alias, provider or allowed model of that name
        ├── UnknownEndpoint          404 no such path
        ├── ResponseNotFound         404 no stored response of that id that is the caller's to see
        ├── MethodNotAllowed         405 a path that exists, another method (carries Allow)
        ├── RequestTimeout           408 body not complete within server.body_timeout
        ├── PayloadTooLarge          413 body over server.max_body_bytes
        ├── HeadersTooLarge          431 more headers than server.max_header_count, or past max_header_bytes
        ├── RateLimited              429 every upstream key is cooling down (carries Retry-After)
        │   ├── LimitExceeded        429 a user's or key's requests or tokens per minute (Retry-After)
        │   └── BudgetExceeded       429 a user's or key's spend budget for the day or month
        ├── ClientClosed             499 the client left before its body arrived (recorded, never sent)
        ├── InternalError            500 a failure of the gateway itself while handling the request
        ├── UpstreamUnavailable      502 connect error, reset, or an unreadable upstream answer
        │   └── OutputCapIgnored     502 a stream under a budget passed the output cap the upstream was sent
        ├── NoUsableKey              503 a provider has no key, or all were rejected upstream
        ├── TokenizerUnavailable     503 no offline tokenizer to count tokens with
        ├── UpstreamTimeout          504 first-byte or between-chunk timeout
        └── UpstreamStatusError      the upstream's own 4xx/5xx answer, passed on with a scrubbed message

Every `GatewayError` has a `kind`, what the ledger counts it as (`UsageRow.error_kind`): "client" (the
request was bad or the client left), "policy" (the gateway refused it by a rule: a limit, a budget, an
unknown or unpriced model, model access) or "upstream" (the provider, or the gateway's way to it,
failed). `kind_of(status, code)` says the same of a row that has only its status and code.

Outside this module, one more: `portal.web.PageError` (LlmgwError), an error page's status, title and
message, which only the portal raises and answers. `tests/unit/test_errors.py` checks that no exception class
of llmgw or llmgw_tui has another root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmgw.dialects import UpstreamDialect


class LlmgwError(Exception):
    """The root of every exception the package raises on purpose: `except LlmgwError` catches them all,
    and nothing else."""


@dataclass(frozen=True, slots=True)
class UpstreamError:
    """An upstream's error answer, read (`wire.upstream_errors.parse_upstream_error`): `type` is the
    upstream's own error type; `auth_failure` a verdict about the key, `key_wide` the whole key or account
    out, `retry_after` a wait the upstream stated (see that module's doc)."""

    dialect: UpstreamDialect
    status: int
    message: str
    type: str
    code: str | None = None
    param: str | None = None
    auth_failure: bool = False
    key_wide: bool = False
    retry_after: float | None = None
    request_id: str | None = None


class ConfigError(LlmgwError):
    """Configuration is invalid; the message says where and why."""


class SecretBackendUnavailable(LlmgwError):
    """No usable OS keyring: no backend at all, no D-Bus session, or a locked Secret Service collection."""

    def __init__(self, reason: str, env_hint: str) -> None:
        self.reason = reason
        super().__init__(f"no OS keyring backend is available ({reason}); {env_hint}")


class DatabaseInUse(LlmgwError):
    """Another `llmgw serve` runs on this database file: budgets, rate limits and key state live in one
    server's memory, so a second one would enforce its own."""

    def __init__(self, database: str, pid: int | None, address: str | None) -> None:
        self.database = database
        self.pid = pid
        self.address = address
        holder = f"pid {pid if pid is not None else '?'}, {address or 'address unknown'}"
        super().__init__(
            f"another llmgw serve ({holder}) is already using {database}; "
            "stop it or give this one another database"
        )


class DatabaseUnreadable(LlmgwError):
    """A database file SQLite cannot read (not a database, damaged), or a backup of it that failed;
    the message is SQLite's."""


class DatabaseTooNew(LlmgwError):
    """The database records migrations this version does not know: a newer llmgw upgraded it. Every
    command that would write to it refuses before changing anything (an older binary would write rows
    the newer schema does not expect); the message says what to do."""

    def __init__(self, database: str, unknown: tuple[str, ...]) -> None:
        self.database = database
        self.unknown = unknown
        super().__init__(
            f"refusing the database {database}: it was upgraded by a newer llmgw (migrations this version "
            f"does not know: {', '.join(unknown)}); nothing was changed. Run that newer llmgw, or restore "
            "the backup taken before the upgrade and run this version with it."
        )


class DatabaseNotEmpty(LlmgwError):
    """`llmgw db copy` refuses a target that already holds rows: a copy merged into another installation's
    data would mix two ledgers and two sets of ids."""

    def __init__(self, database: str, tables: tuple[str, ...]) -> None:
        self.database = database
        self.tables = tables
        super().__init__(
            f"refusing to copy into {database}: it already holds rows ({', '.join(tables)}); nothing was "
            "copied. Copy into a new, empty database (createdb), or drop this one's tables first."
        )


class CopyFailed(LlmgwError):
    """`llmgw db copy` failed after it began: the target refused a row, or the counts and totals read
    back differ from the source's. Its one transaction was rolled back: the target is as it was."""


class LaunchError(LlmgwError):
    """`llmgw run` cannot start a coding agent on the gateway; the message says what to do."""


class AgentNotFound(LaunchError):
    """The coding agent's program is not on PATH; the message says how to install it."""


class AccountError(LlmgwError):
    """An account use case (`llmgw.services.users`, `.keys`) refused; the message is for people."""


class AccountNotFound(AccountError):
    """No user or key of that name or id."""


class PermissionDenied(AccountError):
    """The acting principal may not do this (a user acting on someone else, a disabled actor)."""


class InvalidAccountInput(AccountError):
    """A user name, key name, password or expiry that the rules do not accept."""


class AccountRuleViolation(AccountError):
    """The change would break an invariant: no active admin left, a key for a disabled owner."""


class PasswordChecksBusy(AccountError):
    """The password-hashing pool is full (`services/passwords.HashingPool`): refused at once, unchecked."""


class Unsupported(LlmgwError):
    """The provider type has no such operation; the caller turns this into a 400."""


ErrorKind = Literal["client", "policy", "upstream"]


class GatewayError(LlmgwError):
    """An error answered to the client: `status`, and the OpenAI `type` / `code` / `param` of its body;
    `kind`, whose fault it was (the module's doc)."""

    status = 500
    type = "api_error"
    code: str | None = None
    kind: ErrorKind = "upstream"  # the server side failed unless a subclass says otherwise

    def __init__(self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    kind: ErrorKind = "client"


class PreviousResponseNotFound(InvalidRequest):
    """A `previous_response_id` (or an earlier response of its conversation) that is not the caller's,
    or was deleted, or is past retention: OpenAI's code for it."""

    code = "previous_response_not_found"


class Forbidden(GatewayError):
    status = 403
    type = "invalid_request_error"
    code = "forbidden"
    kind: ErrorKind = "policy"


class UnknownEndpoint(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "unknown_url"
    kind: ErrorKind = "client"


class ResponseNotFound(GatewayError):
    """`/v1/responses/{id}`: none of that id, another user's, deleted or past retention (one answer for
    all, as OpenAI's: `code` null)."""

    status = 404
    type = "invalid_request_error"
    kind: ErrorKind = "client"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"
    kind: ErrorKind = "client"


class RequestTimeout(GatewayError):
    status = 408
    type = "invalid_request_error"
    code = "request_timeout"
    kind: ErrorKind = "client"


class HeadersTooLarge(GatewayError):
    status = 431
    type = "invalid_request_error"
    code = "request_header_fields_too_large"
    kind: ErrorKind = "client"


class ClientClosed(GatewayError):
    """The client went away mid-request: nginx's 499 "client closed request", for the ledger only."""

    status = 499
    type = "invalid_request_error"
    code = "client_closed"
    kind: ErrorKind = "client"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"
    kind: ErrorKind = "client"


class Unauthenticated(GatewayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"
    kind: ErrorKind = "policy"


class ModelNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"
    kind: ErrorKind = "policy"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class LimitExceeded(RateLimited):
    """A limit the gateway's administrator set: requests or tokens per minute of a user or a key."""

    code = "gateway_rate_limit_exceeded"
    kind: ErrorKind = "policy"


class BudgetExceeded(RateLimited):
    """A spend budget the gateway's administrator set, for a user or a key, per UTC day or month."""

    code = "budget_exceeded"
    kind: ErrorKind = "policy"


class ModelNotPriced(GatewayError):
    """A budget applies to the caller and the gateway knows no price for the model: it cannot bound
    what the request would cost, so it refuses (budgets fail closed)."""

    status = 403
    type = "invalid_request_error"
    code = "model_not_priced"
    kind: ErrorKind = "policy"


class ModelNotAllowed(GatewayError):
    """An administrator restricted which models the caller's user or key may call, and this model is
    not one of them (`services/model_patterns.py`)."""

    status = 403
    type = "invalid_request_error"
    code = "model_not_allowed"
    kind: ErrorKind = "policy"


class InternalError(GatewayError):
    status = 500
    type = "api_error"
    code = "internal_error"


class NoUsableKey(GatewayError):
    status = 503
    type = "api_error"
    code = "no_usable_upstream_key"


class UpstreamUnavailable(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_unavailable"


class OutputCapIgnored(UpstreamUnavailable):
    code = "upstream_ignored_output_cap"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"


class TokenizerUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "tokenizer_unavailable"


class UpstreamStatusError(GatewayError):
    """An upstream's error answer, passed on: status, type, code and param are the upstream's own."""

    def __init__(self, upstream: UpstreamError) -> None:
        super().__init__(upstream.message, param=upstream.param)
        self.upstream = upstream  # as read, with its message scrubbed of our key by the caller
        self.status = upstream.status
        self.type = upstream.type
        self.code = upstream.code
        self.kind = upstream_kind(upstream.status)


def upstream_kind(status: int) -> ErrorKind:
    """Whose fault an upstream's error answer was: the client's request (a 4xx about it: 400, 404, 413,
    422 …) or the upstream's side (5xx; 401/403, a verdict about the gateway's key; 429, its account's
    rate)."""
    return "upstream" if status >= 500 or status in (401, 403, 429) else "client"


_POLICY_CODES = frozenset(
    c.code
    for c in (
        Forbidden,
        Unauthenticated,
        ModelNotFound,
        LimitExceeded,
        BudgetExceeded,
        ModelNotPriced,
        ModelNotAllowed,
    )
)
_CLIENT_CODES = frozenset(
    c.code
    for c in (
        PreviousResponseNotFound,
        UnknownEndpoint,
        MethodNotAllowed,
        RequestTimeout,
        HeadersTooLarge,
        ClientClosed,
        PayloadTooLarge,
    )
)


def kind_of(status: int, code: str | None) -> ErrorKind | None:
    """The kind of a ledger row known only by its status and error code (a row from before m012, an
    upstream's in-stream error): None when it is no error; else a gateway policy or client code
    decides, then the status (`upstream_kind`); a 2xx stream that failed later is the upstream's."""
    if status < 400 and code is None:
        return None
    if code in _POLICY_CODES:
        return "policy"
    if code in _CLIENT_CODES:
        return "client"
    return upstream_kind(status) if status >= 400 else "upstream"
