"""The retry loop: try each target's keys in order until one upstream answers, and take its answer in
(`answers.py`: a whole body read, or a stream primed up to its first bytes for the client).

Nothing has reached the client while this runs, so retrying is safe: a 429 cools the key (for the model,
or wholly if the account is out) and tries the next, a verdict about the key (401, …) retires it, 5xx
tries the next key, connect errors and timeouts move to the next fallback, any other 4xx (a 403 too)
goes back to the client. What each error means for a key is `relay.keypool`'s docstring. What no
attempt could answer becomes the most telling error (`final_error`).
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from llmgw.dialects import Operation
from llmgw.errors import (
    GatewayError,
    InvalidRequest,
    NoUsableKey,
    RateLimited,
    Unsupported,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from llmgw.relay.answers import Answer, PrimedStream, prime_stream, read_answer
from llmgw.relay.bridge import Context, bridge_for
from llmgw.relay.catalog import Target
from llmgw.relay.conversation import Conversation
from llmgw.relay.endpoints import ClientEndpoint
from llmgw.relay.exchange import Exchange
from llmgw.relay.keypool import Key
from llmgw.relay.runtime import Gateway
from llmgw.relay.transport import UpstreamResponse
from llmgw.relay.upstream import Upstream
from llmgw.wire.upstream_errors import parse_upstream_error

ERROR_BODY_LIMIT = 64 * 1024  # an error body past this is cut: it is only a message


@dataclass(frozen=True, slots=True)
class Call:
    """A checked client request, ready to be bridged to any target."""

    endpoint: ClientEndpoint
    body: dict[str, Any]
    stream: bool
    ctx: Context
    client_headers: dict[str, str]
    client_query: dict[str, str] = field(default_factory=dict)
    conversation: Conversation | None = None  # a Responses request's (relay/conversation.py)


async def forward(
    gw: Gateway, call: Call, targets: tuple[Target, ...], ex: Exchange
) -> Answer | PrimedStream:
    """Try the targets' keys in order until one upstream answers; raise the most telling error. Each
    attempt is counted, and its provider, model and key noted, in the exchange's row."""
    server = gw.config.server
    row = ex.row
    deadline = ex.started + server.retry_deadline
    last: GatewayError | None = None
    limited: UpstreamStatusError | None = None  # the last 429, the upstream's own words
    refused: GatewayError | None = None  # a target that cannot continue the client's conversation
    for target in targets:
        up = gw.upstreams[target.provider]
        endpoint, config = call.endpoint, up.config
        bridge = bridge_for(
            endpoint.dialect, endpoint.op, up.adapter.dialect, call.ctx, config.type, config.hosted_tools
        )
        body, pinned, conv = call.body, None, call.conversation
        if conv is not None:
            translated = bridge.upstream_op is not Operation.RESPONSES
            found = await conv.continuation(translated)
            if found.upstream is not None:  # a response OpenAI keeps: only its key can continue it
                pinned = conv.pinned(found, target.provider, up.keys)
                if pinned is None:
                    refused = continuation_refused(found.upstream.provider, target.provider)
                    continue
            body = conv.body_for(found, translated)
        upstream_body = bridge.request(body, target.model, call.stream)
        tried: set[Key] = set()
        while row.attempts < server.max_attempts and (not row.attempts or time.perf_counter() < deadline):
            key = up.keys.acquire(target.model, exclude=tried) if pinned is None else pinned
            if key is None or key in tried:
                break
            tried.add(key)  # the key itself, not its place: a key refresh may run while we wait
            row.attempts += 1
            row.provider, row.model_upstream, row.key_index = target.provider, target.model, key.number
            try:
                req = up.adapter.build(
                    bridge.upstream_op,
                    upstream_body,
                    target.model,
                    key.secret,
                    stream=call.stream,
                    client_headers=call.client_headers,
                    client_query=call.client_query,
                )
            except Unsupported as exc:
                raise InvalidRequest(str(exc), param="model") from None
            try:
                resp = await up.send(req)
                if resp.status_code < 400:
                    up.keys.succeeded(key, target.model)
                    if conv is not None:
                        conv.served_by(target.provider, key, translated, found)
                    if call.stream and resp.headers.get("content-type", "").startswith("text/event-stream"):
                        return await prime_stream(up, resp, bridge, server.max_event_bytes)
                    return await read_answer(up, resp, bridge)
                err = await upstream_error(up, resp, key.secret)
            except (UpstreamTimeout, UpstreamUnavailable) as exc:
                gw.metrics.upstream_error(target.provider, target.model, exc.status, exc.code or exc.type)
                last = exc
                break  # the provider itself is failing: go to the next fallback
            gw.metrics.upstream_error(target.provider, target.model, err.status, err.code or err.type)
            if err.status == 429:
                wait = retry_after(resp.headers)
                wait = err.upstream.retry_after if wait is None else wait  # Retry-After: 0 is a wait too
                up.keys.rate_limited(
                    key, target.model, wait, key_wide=err.upstream.key_wide, reason=key_reason(err)
                )
                limited = err
            elif err.upstream.auth_failure:
                up.keys.rejected(key, resp.status_code, reason=key_reason(err))
            elif err.status < 500:
                raise err  # the upstream says the request itself is wrong: the client should know
            last = err
    if refused is not None and not row.attempts:
        raise refused
    raise final_error(gw, targets, last, limited)


def continuation_refused(keeper: str, provider: str) -> GatewayError:
    """A `previous_response_id` that `provider` cannot continue: `keeper` made it and keeps it, in the
    account of a key this gateway no longer has, or for a target of another provider."""
    if keeper == provider:
        return InvalidRequest(
            f"The previous response was made with an API key of provider '{keeper}' that this gateway no "
            "longer has, and only that key can continue it: send the whole conversation in `input`.",
            param="previous_response_id",
        )
    return InvalidRequest(
        f"The previous response was made by provider '{keeper}', which keeps it: continue it with a "
        f"model of '{keeper}', or send the whole conversation in `input`.",
        param="previous_response_id",
    )


def key_reason(err: UpstreamStatusError) -> str:
    """What the published key state says an upstream's refusal was: "429 rate_limit_exceeded",
    "401 invalid_api_key" (its status, then its code or type)."""
    return f"{err.status} {err.code or err.type}"


def final_error(
    gw: Gateway,
    targets: tuple[Target, ...],
    last: GatewayError | None,
    limited: UpstreamStatusError | None = None,
) -> GatewayError:
    """What the client gets when no attempt succeeded. The gateway answers 429 itself only while an
    upstream-stated wait holds every usable key of every target; else a 429 is the upstream's own."""
    if isinstance(last, UpstreamTimeout | UpstreamUnavailable):
        return last
    if last is not None and last.status >= 500:
        return last
    now = time.monotonic()
    waits = [w for t in targets for w in gw.upstreams[t.provider].keys.waits(t.model, now)]
    if waits and None not in waits:
        after = max(1, math.ceil(min(w for w in waits if w is not None)))
        return RateLimited(
            f"Every upstream key for this model is rate limited; retry after {after}s.",
            headers={"retry-after": str(after)},
        )
    if limited is not None:
        return limited
    providers = sorted({t.provider for t in targets})
    keyless = [p for p in providers if not len(gw.upstreams[p].keys)]
    if keyless == providers:  # none has a key at all: the client is told to ask, the log what to run
        for p in keyless:
            gw.log_no_key(p)
        return NoUsableKey(" ".join(gw.no_key_hint(p) for p in keyless))
    names = ", ".join(providers)
    return NoUsableKey(f"No usable upstream API key for provider(s) {names}; ask an administrator.")


_KEYISH = re.compile(r"\b(?:sk|pk|rk|key|api)[-_][A-Za-z0-9_\-*.]{6,}|[A-Za-z0-9_\-]*\*{4,}[A-Za-z0-9_\-]*")


def scrub(text: str, key: str) -> str:
    """Remove our upstream key, and anything that looks like a (masked) key, from upstream text."""
    return _KEYISH.sub("[redacted]", text.replace(key, "[redacted]"))


async def upstream_error(up: Upstream, resp: UpstreamResponse, key: str) -> UpstreamStatusError:
    raw = await up.read(resp, ERROR_BODY_LIMIT, up.config.chunk_timeout, truncate=True)
    parsed = parse_upstream_error(up.adapter.dialect, resp.status_code, raw)
    message = f"Upstream provider '{up.name}' answered {resp.status_code}: {scrub(parsed.message, key)}"
    return UpstreamStatusError(replace(parsed, message=message.rstrip(": ")))


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait an upstream states in its headers, in seconds: `retry-after-ms` (OpenAI, Anthropic),
    `Retry-After` as seconds or as an HTTP date (RFC 9110); None if it states none."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None  # not an HTTP date (those are GMT)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
