"""One error hierarchy, rendered once in the caller's dialect (OpenAI error JSON for now).

Exception
├── ConfigError                  bad configuration: a located message, never a traceback
└── GatewayError                 answered to a client with `status` and OpenAI error JSON
    ├── InvalidRequest           400 malformed JSON, missing or wrong fields
    ├── PayloadTooLarge          413 body over server.max_body_bytes
    ├── Unauthenticated          401 missing or wrong gateway key
    ├── ModelNotFound            404 no alias, provider or allowed model of that name
    ├── RateLimited              429 every upstream key is cooling down (carries Retry-After)
    ├── NoUsableKey              503 a provider has no key, or all were rejected upstream
    ├── UpstreamUnavailable      502 connect error, reset, or an unreadable upstream answer
    └── UpstreamTimeout          504 first-byte or between-chunk timeout
"""

from __future__ import annotations

from typing import Any

import orjson


class ConfigError(Exception):
    """Configuration is invalid; the message says where and why."""


class GatewayError(Exception):
    status = 500
    type = "api_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}

    def openai_body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def openai_json(self) -> bytes:
        return orjson.dumps(self.openai_body())


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class Unauthenticated(GatewayError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class ModelNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


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


class UpstreamTimeout(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"
