"""Gemini's wire format, as far as the gateway reads it today (Gemini is an upstream dialect only):
the HTTP status of each google.rpc.Code an error body names. Pure."""

from __future__ import annotations

from typing import Final

__all__ = ["GRPC_HTTP_STATUS"]

# google.rpc.Code names → the HTTP status Google APIs answer them with.
GRPC_HTTP_STATUS: Final = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INTERNAL": 500,
    "DATA_LOSS": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
