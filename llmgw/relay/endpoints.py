"""The model-calling endpoints clients reach, one row each: the table a client dialect registers in.

A row says the path, the client's dialect and operation, the body field every request must carry, and
which of the client's headers and query parameters are part of the request's meaning (passed upstream
to a provider of the same dialect; every other header, the client's key above all, never is). The app's
routes for these paths are made from this table.

Google's Gemini API puts the model and the operation in the path (`/v1beta/models/{model}:generateContent`)
and says "stream" by its operation (`:streamGenerateContent`): its rows have `model_in_path` and
`always_streams`, read by the handler's `check_body` and `make_call` only. Their `path` is the template the
ledger records (so reports group them); `route` is Starlette's, whose `{model:path}` takes a
`provider/model` sent percent-encoded (`openai%2Fgpt-4o-mini`, decoded before routing). The same rows
exist under `/v1/models/…` (google-genai's default); a plain `/v1/models/{id}` stays OpenAI's lookup.
"""

from __future__ import annotations

import re
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
    model_in_path: bool = False  # Gemini: the model is the path's `{model}`, never a body field
    always_streams: bool = False  # Gemini's `:streamGenerateContent`: the path, not the body, says so

    @property
    def streams(self) -> bool:
        """Whether a request here may ask for a stream (`"stream": true`, or its path)."""
        return self.op in STREAMING

    @property
    def route(self) -> str:
        """The Starlette route of `path`: `{model}` takes slashes too (a decoded `provider/model`)."""
        return self.path.replace("{model}", "{model:path}")


def _gemini(prefix: str) -> tuple[ClientEndpoint, ...]:
    """Gemini's model-calling endpoints under `prefix` (`/v1beta`, `/v1`)."""
    at = f"{prefix}/models/{{model}}:"
    return (
        ClientEndpoint(f"{at}generateContent", "gemini", Operation.CHAT, "contents", model_in_path=True),
        ClientEndpoint(
            f"{at}streamGenerateContent",
            "gemini",
            Operation.CHAT,
            "contents",
            model_in_path=True,
            always_streams=True,
        ),
        # countTokens takes `contents` or a whole `generateContentRequest` (check_body knows).
        ClientEndpoint(f"{at}countTokens", "gemini", Operation.COUNT_TOKENS, "contents", model_in_path=True),
        ClientEndpoint(f"{at}embedContent", "gemini", Operation.EMBEDDINGS, "content", model_in_path=True),
        ClientEndpoint(
            f"{at}batchEmbedContents", "gemini", Operation.EMBEDDINGS, "requests", model_in_path=True
        ),
    )


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
    *_gemini("/v1beta"),
    *_gemini("/v1"),
)

GEMINI_VERBS = (
    "generateContent",
    "streamGenerateContent",
    "countTokens",
    "embedContent",
    "batchEmbedContents",
)
# `/v1/models/<anything>:<verb>` is Gemini's, as is everything under `/v1beta` (its model listing too).
_GEMINI_PATH = re.compile(r"/v1(?:beta)?/models/.+:(?:" + "|".join(GEMINI_VERBS) + r")|/v1beta(?:/.*)?")

# Longest first: the most specific endpoint path a request's path falls under names its dialect.
_BY_LENGTH = sorted(ENDPOINTS, key=lambda e: len(e.path), reverse=True)


def path_dialect(path: str) -> ClientDialect:
    """The error format a client of `path` reads, for errors before or without a route (404, 405, a
    refused header, a CORS refusal): the dialect of the endpoint at or above `path`
    (`/v1/messages/batches` is Anthropic's), Gemini's under `/v1beta` and for a model path with one of
    Gemini's operations, OpenAI's elsewhere."""
    if _GEMINI_PATH.fullmatch(path):
        return "gemini"
    for endpoint in _BY_LENGTH:
        if path == endpoint.path or path.startswith(endpoint.path + "/"):
            return endpoint.dialect
    return "openai"
