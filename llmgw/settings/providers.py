"""`[providers.NAME]`: an upstream's settings, each declared once as a field; the provider types, their
default API roots, the ones known by name, and base URLs completed as the SDKs' docs spell them.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, field_validator

from llmgw.settings.fields import Shown, Table

ProviderType = Literal["openai", "openrouter", "openai-compatible", "anthropic", "gemini"]
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
}
# Providers known by name: each is served without a [providers] table (type = its name, default URL),
# and its table, when it has one, may leave `type` out.
WELL_KNOWN_PROVIDERS: tuple[ProviderType, ...] = ("openai", "anthropic", "gemini", "openrouter")
# A full endpoint pasted where the API root belongs: refused, with the root it contains.
_ENDPOINT = re.compile(
    r"/(?:chat/completions|completions|embeddings|messages(?:/count_tokens)?|models(?:/[^/]+:\w+)?)$"
)
_GEMINI_VERSION = re.compile(r"/v1(?:alpha|beta)?$")


def effective_base_url(type_: str, base_url: str) -> str:
    """The API root requests go to, from a `base_url` as users copy it from an SDK's docs.

    The Anthropic SDKs' base URL has no `/v1` and google-genai's no version (they append them), while
    llmgw's roots include them: the missing part is added. OpenAI-format URLs keep their path (compatible
    servers mount the API anywhere), except an empty one on `openai` and `openrouter`, which has one place.
    """
    url = base_url.rstrip("/")
    path = urllib.parse.urlsplit(url).path
    if type_ == "anthropic" and not path.endswith("/v1"):
        return url + "/v1"
    if type_ == "gemini" and not _GEMINI_VERSION.search(path):
        return url + "/v1beta"
    if type_ == "openai" and not path:
        return url + "/v1"
    if type_ == "openrouter" and path in ("", "/api"):
        return url.removesuffix("/api") + "/api/v1"
    return url


def _code_list(items: tuple[str, ...]) -> str:
    return ", ".join(f"`{item}`" for item in items)


class ProviderConfig(Table):
    type: Annotated[ProviderType, Shown(f"(required; the name for {_code_list(WELL_KNOWN_PROVIDERS)})")] = (
        Field(
            description=(
                "`openai`, `openrouter`, `openai-compatible` (Groq, Mistral, DeepSeek, vLLM, Ollama …), "
                "`anthropic` (the Messages API) or `gemini` (Google's native generateContent API)."
            )
        )
    )
    base_url: Annotated[str | None, Shown("per type")] = Field(
        None,
        description=(
            "Upstream API root: "
            + ", ".join(f"`{url}` for `{type_}`" for type_, url in DEFAULT_BASE_URLS.items())
            + "; required for `openai-compatible`. Accepted as the SDKs spell it: `anthropic` gets `/v1` "
            "appended unless its path ends in `/v1` (`https://api.anthropic.com`, "
            "`https://api.deepseek.com/anthropic`), `gemini` gets `/v1beta` unless it ends in `/v1`, "
            "`/v1beta` or `/v1alpha`; `openai` with no path gets `/v1`, `openrouter` with none (or "
            "`/api`) `/api/v1`; `openai-compatible` is used as given. A trailing `/` never matters; a "
            "full endpoint (`…/v1/messages`, `…/chat/completions`, `…:generateContent`) is refused "
            "with the root to use."
        ),
    )
    models: tuple[str, ...] | None = Field(
        None,
        description=(
            "Allow-list of upstream model names. Unset: any model is routed, and `/v1/models` lists the "
            "upstream's own `/models`."
        ),
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Extra headers sent upstream (values of secret-looking names are masked by `config check`). "
            "Put no secrets here: they belong in the keyring."
        ),
    )
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to open a connection to the upstream.")
    first_byte_timeout: float = Field(
        600.0,
        gt=0,
        description=(
            "Seconds to wait for the upstream's response (for a non-stream request: the whole answer)."
        ),
    )
    chunk_timeout: float = Field(120.0, gt=0, description="Seconds allowed between two chunks of a stream.")
    # Not httpx's and aiohttp's 100: one connection per concurrent stream, and past the pool a request
    # waits for a free one, so 100 would quietly cap a team's concurrent streams (issue #22).
    max_connections: int = Field(
        1000,
        ge=1,
        description=(
            "Connection pool size towards this upstream: the most requests in flight to it at once (one "
            "connection each); more wait for a free connection."
        ),
    )
    http_referer: str | None = Field(
        None, description="OpenRouter only: `HTTP-Referer` sent for app attribution."
    )
    x_title: str | None = Field(None, description="OpenRouter only: `X-Title` sent for app attribution.")
    hosted_tools: Literal["leave_out", "refuse"] = Field(
        "leave_out",
        description=(
            "What a `/v1/responses` request's hosted tools (`file_search`, `code_interpreter`, "
            "`image_generation`, `mcp`, ...) do on this provider when it has no equivalent (type `openai` "
            "runs them all; `anthropic` and `gemini` have one for `web_search`). `leave_out`: the request "
            "goes without them, and the answer's `x-llmgw-tools-left-out` header names them (Codex CLI "
            "sends `web_search` with every request). `refuse`: a 400 naming the first one."
        ),
    )
    _implicit: bool = PrivateAttr(False)  # not settable from a file: only `implicit()` makes one

    @classmethod
    def implicit(cls, name: ProviderType) -> ProviderConfig:
        """The provider a well-known name stands for when the configuration has no table for it."""
        p = cls(type=name)
        p._implicit = True
        return p

    @property
    def is_implicit(self) -> bool:
        """Served because its name is well known, not because the configuration has its table."""
        return self._implicit

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        v = v.rstrip("/")
        if endpoint := _ENDPOINT.search(v):
            raise ValueError(f"this is an endpoint, not the API root: use {v[: endpoint.start()]!r}")
        return v

    @property
    def url(self) -> str:
        """The effective base URL: `base_url` completed as `effective_base_url` says, or the type's default
        (validated to exist by `load`)."""
        return effective_base_url(self.type, self.base_url) if self.base_url else DEFAULT_BASE_URLS[self.type]
