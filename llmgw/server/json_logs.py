"""`log_format = "json"`: every log record on stderr as one JSON object on one line, for Loki,
Elasticsearch and other collectors.

A record is `{"time", "level", "logger", "message"}` (plus `"exception"`, the traceback as one string,
when it has one). A finished model call's record (`relay/record.py`, the logger `llmgw.access`) carries
its fields in `record.request` instead of a message: they become the object's own keys, with
`"message": "request"`. Text is escaped by `json.dumps` (ASCII only), so no value a client chose can end
the line or forge a key.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["JsonFormatter"]


def _iso(created: float) -> str:
    """`created` as an ISO 8601 UTC time with milliseconds (what collectors parse without a pattern)."""
    seconds = int(created)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((created - seconds) * 1000):03d}Z"
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields: dict[str, Any] | None = getattr(record, "request", None)
        if fields is not None:
            out["message"] = "request"
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, separators=(",", ":"), default=str)
