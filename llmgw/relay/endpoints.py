"""The model-calling endpoints clients reach, one row each: the table a client dialect registers in.

A row says the path, the client's dialect and operation, the body field every request must carry, and
which of the client's headers and query parameters are part of the request's meaning (passed upstream
to a provider of the same dialect; every other header, the client's key above all, never is). The app's
routes for these paths are made from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmgw.dialects import ClientDialect, Operation

STREAMING = frozenset({Operation.CHAT, Operation.COMPLETIONS})  # the operations a client may stream

ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")  # part of an Anthropic request's meaning
ANTHROPIC_QUERY = ("beta",)  # `?beta=true`, from the SDK's beta client: beta-only body fields need it


@dataclass(frozen=True, slots=True)
class ClientEndpoint:
    path: str
    dialect: ClientDialect
    op: Operation
    required: str  # the body field besides `model` every request must have
    passed_headers: tuple[str, ...] = ()
    passed_query: tuple[str, ...] = ()

    @property
    def streams(self) -> bool:
        """Whether a request here may ask for a stream (`"stream": true`)."""
        return self.op in STREAMING


# The OpenAI endpoints (the Responses API's too) pass Anthropic's headers too: they reach only an Anthropic
# upstream's adapter, and clients of OpenAI's format aimed at Claude models set `anthropic-beta` for
# features such as caching.
ENDPOINTS: tuple[ClientEndpoint, ...] = (
    ClientEndpoint("/v1/chat/completions", "openai", Operation.CHAT, "messages", ANTHROPIC_HEADERS),
    ClientEndpoint("/v1/completions", "openai", Operation.COMPLETIONS, "prompt", ANTHROPIC_HEADERS),
    ClientEndpoint("/v1/embeddings", "openai", Operation.EMBEDDINGS, "input", ANTHROPIC_HEADERS),
    ClientEndpoint("/v1/responses", "responses", Operation.CHAT, "input", ANTHROPIC_HEADERS),
    ClientEndpoint(
        "/v1/messages", "anthropic", Operation.CHAT, "messages", ANTHROPIC_HEADERS, ANTHROPIC_QUERY
    ),
    ClientEndpoint(
        "/v1/messages/count_tokens",
        "anthropic",
        Operation.COUNT_TOKENS,
        "messages",
        ANTHROPIC_HEADERS,
        ANTHROPIC_QUERY,
    ),
)

# Longest first: the most specific endpoint path a request's path falls under names its dialect.
_BY_LENGTH = sorted(ENDPOINTS, key=lambda e: len(e.path), reverse=True)


def path_dialect(path: str) -> ClientDialect:
    """The error format a client of `path` reads, for errors before or without a route (404, 405, a
    refused header, a CORS refusal): the dialect of the endpoint at or above `path`
    (`/v1/messages/batches` is Anthropic's), OpenAI's elsewhere."""
    for endpoint in _BY_LENGTH:
        if path == endpoint.path or path.startswith(endpoint.path + "/"):
            return endpoint.dialect
    return "openai"
