"""The vocabulary of dialects, said once: the client dialects the gateway answers in, the upstream
dialects (wire formats) it calls providers in, and the operations a request asks for whatever its
format. Names only: how each dialect writes its bytes lives in `llmgw/wire/`, the translations
between them in `llmgw/translate/` and `llmgw/relay/bridge.py`.

A client dialect is what a client's path speaks (`relay/endpoints.py`'s `ENDPOINTS`): OpenAI's Chat
Completions, Completions and Embeddings (`openai`), OpenAI's Responses API (`responses`), Anthropic's
Messages (`anthropic`), Google's Gemini API (`gemini`: generateContent, countTokens, embedContent). An
upstream dialect is what a provider type speaks (`ProviderAdapter.dialect`). The two sets share names
but not members: a name in both means the same API family, seen from each side.

An operation is what a request asks for. Client endpoints name theirs (`/v1/responses` asks for `CHAT`,
as `/v1/chat/completions` and `/v1/messages` do); the upstream operation is the bridge's choice
(`Bridge.upstream_op`): `RESPONSES` is upstream-only, OpenAI's Responses API, called only on provider
type `openai` when a Responses client's request passes through to OpenAI itself.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

__all__ = ["ClientDialect", "Operation", "UpstreamDialect"]

ClientDialect = Literal["openai", "anthropic", "responses", "gemini"]
UpstreamDialect = Literal["openai", "anthropic", "gemini"]


class Operation(Enum):
    """What a request asks an upstream to do, whatever the wire format."""

    CHAT = "chat"  # OpenAI chat completions, Anthropic messages, Gemini generateContent
    COMPLETIONS = "completions"  # OpenAI legacy text completions
    EMBEDDINGS = "embeddings"
    COUNT_TOKENS = "count_tokens"
    RESPONSES = "responses"  # upstream only: OpenAI's Responses API, a Responses client's passthrough
