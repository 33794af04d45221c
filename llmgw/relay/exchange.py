"""One client request from the ASGI entry to its ledger row: the `Exchange`.

It holds the row, the clock and the client's dialect, and it is the only caller of the recorder: however
a request ends (answered, failed, its client gone, its stream cut), it ends here, and its row is recorded
once. Requests refused for a missing or wrong key never get an exchange's row (`record.AuthFailures`).
"""

from __future__ import annotations

import time

from starlette.responses import Response

from llmgw.errors import ClientClosed, GatewayError, kind_of
from llmgw.relay.endpoints import ClientEndpoint
from llmgw.relay.record import LineContext
from llmgw.relay.responses import error_response, new_request_id
from llmgw.relay.runtime import Gateway
from llmgw.services.key_index import Principal
from llmgw.storage import UsageRow
from llmgw.translate.usage import Usage


class Exchange:
    """A request's life: `row` (filled on the way), `started` (its clock), `endpoint` (its dialect)."""

    __slots__ = ("endpoint", "gw", "line", "recorded", "row", "started")

    def __init__(self, gw: Gateway, endpoint: ClientEndpoint) -> None:
        self.gw = gw
        self.endpoint = endpoint
        self.started = time.perf_counter()
        self.row = UsageRow(
            request_id=new_request_id(), created_at=time.time(), endpoint=endpoint.path, attempts=0
        )
        self.recorded = False
        self.line: LineContext | None = None  # the JSON request line's context (`log_format = "json"`)

    @property
    def request_id(self) -> str:
        return self.row.request_id

    def attribute(self, principal: Principal) -> None:
        """The request belongs to this user and key (none for the proxy key's `legacy` principal)."""
        self.row.user_id, self.row.api_key_id = principal.user_id, principal.api_key_id
        if self.line is not None:
            self.line.user, self.line.key = principal.user_name, principal.key_public_id

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)

    def apply_usage(self, usage: Usage | None) -> None:
        """The upstream's own counts into the row (`usage_source` "provider"); None changes nothing."""
        if usage is None:
            return
        row = self.row
        row.usage_source = "provider"
        row.prompt_tokens = usage.prompt_tokens
        row.completion_tokens = usage.completion_tokens
        row.total_tokens = usage.total_tokens
        row.cached_tokens = usage.cached_tokens
        row.cache_write_tokens = usage.cache_write_tokens
        row.reasoning_tokens = usage.reasoning_tokens

    def done(self) -> None:
        """Record the row (priced, queued for the ledger, one access-log line): the first call only."""
        if self.recorded:
            return
        self.recorded = True
        if self.row.error_kind is None:  # an error no exception named (an upstream's, passed on)
            self.row.error_kind = kind_of(self.row.status, self.row.error_type)
        self.gw.recorder.finish(self.row, self.started, self.line)

    def fail(self, exc: GatewayError) -> Response:
        """The request ends with `exc`, answered in the client's dialect."""
        self.row.status = exc.status
        self.row.error_type = self.row.error_type or exc.code or exc.type
        self.row.error_kind = self.row.error_kind or exc.kind
        self.done()
        return error_response(exc, self.row.request_id, self.endpoint.dialect)

    def client_left(self) -> Response:
        """The client left before its answer: recorded as nginx's 499 (client closed request); the
        response goes nowhere."""
        row = self.row
        row.status, row.client_closed, row.error_type = ClientClosed.status, True, ClientClosed.code
        row.error_kind = ClientClosed.kind
        self.done()
        return Response(status_code=ClientClosed.status, headers={"x-request-id": row.request_id})
