"""Upstream API keys of one provider, used in rotation, with cool-downs and exclusions.

What an upstream's error means for the key it was sent with (read from the body by
`llmgw.wire.upstream_errors`, acted on by `relay.forward`):

- A verdict about the key retires it until its secret changes (`UpstreamError.auth_failure`): HTTP
  401, Gemini's `API_KEY_*` reasons (API_KEY_INVALID comes with 400), Anthropic's
  `authentication_error`, OpenAI's `invalid_api_key`. A 403 alone is not one: OpenRouter answers 403 to
  input its moderation flagged, Anthropic's `permission_error` is about a resource. It goes back to
  the client, and no other key is tried.
- A 429 cools the pair (key, model): Gemini's quotas are per model, Anthropic's rate limits per model
  class, OpenAI's per model. It cools the whole key when the error says the account is out of money
  or quota (`UpstreamError.key_wide`: OpenAI `insufficient_quota`, billing errors).
- For how long: the wait the upstream states (Retry-After in seconds or as an HTTP date,
  retry-after-ms, Gemini's RetryInfo), at most an hour; else the gateway's guess, escalating per
  (key, model) — 1 s, 2 s, 4 s … 60 s — and reset by a success.
- A stated wait keeps the key out for that model until it ends; when one holds every usable key of
  every target, the gateway answers 429 itself, with Retry-After = what remains. A guessed wait only
  orders the keys: free keys round-robin first, then the cooling ones by which frees first. The
  gateway never refuses a request on its own guess.

`refresh` (fed by a periodic re-read of the keyring) compares fingerprints, so a rotated secret is
picked up without a restart, the old one is never retried, and an unchanged key keeps its state.
Requests hold the `Key` object, not its position, so a refresh meanwhile cannot misdirect a report.
A key an HTTP header cannot carry (a CR, a space, non-ASCII) is left out with one log line. The pool
holds secrets in memory only; logs name keys by number (`openai.N`, `LLMGW_OPENAI_API_KEY_N`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from llmgw.providers import is_header_value

log = logging.getLogger("llmgw.keys")

# Told of a stated wait or a rejection, to share it with other instances (relay/shared.py):
# (key, model, until (monotonic; None: rejected), key-wide, HTTP status, reason).
Observer = Callable[["Key", str | None, float | None, bool, int, str | None], None]

BASE_COOLDOWN = 1.0
MAX_COOLDOWN = 60.0  # the longest guess
MAX_STATED = 3600.0  # the longest upstream-stated wait honoured


def fingerprint(secret: str) -> str:
    """First 12 hex digits of the SHA-256 of `secret`: notices a changed secret without keeping it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]


@dataclass(slots=True)
class _CoolDown:
    until: float = 0.0
    stated: bool = False  # the upstream said how long; else it is the gateway's guess
    strikes: int = 0  # consecutive guesses, for escalation


@dataclass(eq=False, slots=True)
class Key:
    """One key of a pool, as a request holds it (by identity: a refresh may move or drop it meanwhile)."""

    number: int  # 1-based place in its source (keyring `openai.N`): for logs and the ledger
    secret: str = field(repr=False)
    fingerprint: str
    rejected: bool = False
    cooling: dict[str | None, _CoolDown] = field(default_factory=dict)  # by model; None: the whole key
    # What the gateway publishes about the key (relay/key_states.py); monotonic times.
    uses: int = 0
    failures: int = 0  # refusals about the key: 429s and auth verdicts
    last_used: float | None = None
    last_error: float | None = None
    reason: str | None = None  # the last refusal's "status type", e.g. "429 rate_limit_exceeded"

    def blocking(self, model: str | None, now: float) -> list[_CoolDown]:
        """The cool-downs running now that apply to `model` (None: only the key-wide one)."""
        if not self.cooling:  # the usual case, on every request: nothing to build
            return []
        scopes = (None,) if model is None else (None, model)
        return [c for s in scopes if (c := self.cooling.get(s)) is not None and c.until > now]


class KeyPool:
    """Round-robin over the usable keys of one provider."""

    def __init__(self, provider: str, secrets: list[str]) -> None:
        self.provider = provider
        self._keys: list[Key] = []
        self._next = 0
        self._unfit: set[str] = set()  # fingerprints of keys already logged as left out
        self._loaded = False
        self.cooldowns_started = 0  # cool-downs applied since start (for /metrics)
        self.observer: Observer | None = None  # PostgreSQL: what other instances must learn
        self.refresh(secrets)

    def __len__(self) -> int:
        return len(self._keys)

    def current(self) -> tuple[Key, ...]:
        """The keys in use now, in their source's order (a refresh replaces the list, never edits it)."""
        return tuple(self._keys)

    def find(self, fingerprint: str) -> Key | None:
        """The key in use now whose secret has that fingerprint: the one that made a response an
        upstream keeps (`services.stored_responses`), which only it can read or continue."""
        return next((k for k in self._keys if k.fingerprint == fingerprint), None)

    def acquire(
        self, model: str | None = None, now: float | None = None, exclude: Collection[Key] = ()
    ) -> Key | None:
        """The key to try next for `model`, skipping `exclude`; None if every other key is rejected or
        waiting as its upstream said."""
        now = time.monotonic() if now is None else now
        n = len(self._keys)
        guessed: Key | None = None
        guessed_until = math.inf
        for step in range(n):
            i = (self._next + step) % n
            k = self._keys[i]
            if k.rejected or k in exclude:
                continue
            if not k.cooling:  # the usual case, inlined: this runs for every request
                self._next = (i + 1) % n
                k.uses += 1
                k.last_used = now
                return k
            blocking = k.blocking(model, now)
            if not blocking:
                self._next = (i + 1) % n
                k.uses += 1
                k.last_used = now
                return k
            until = max(c.until for c in blocking)
            if not any(c.stated for c in blocking) and until < guessed_until:
                guessed, guessed_until = k, until
        if guessed is not None:
            guessed.uses += 1
            guessed.last_used = now
        return guessed

    def waits(self, model: str, now: float | None = None) -> list[float | None]:
        """Per usable (not rejected) key: seconds left of an upstream-stated wait for `model`, or None
        if it has none running (it may be tried)."""
        now = time.monotonic() if now is None else now
        out: list[float | None] = []
        for k in self._keys:
            if not k.rejected:
                stated = [c.until for c in k.blocking(model, now) if c.stated]
                out.append(max(stated) - now if stated else None)
        return out

    def rate_limited(
        self,
        key: Key,
        model: str,
        wait: float | None,
        *,
        key_wide: bool = False,
        now: float | None = None,
        reason: str | None = None,
    ) -> float:
        """Cool `key` for `model` (or every model if `key_wide`): `wait` seconds if the upstream stated
        it, else the next guess. Returns the cool-down applied. `reason`: the upstream's "status type"."""
        now = time.monotonic() if now is None else now
        key.failures, key.last_error, key.reason = key.failures + 1, now, reason or "429"
        c = key.cooling.setdefault(None if key_wide else model, _CoolDown())
        self.cooldowns_started += 1
        if wait is not None and wait >= 0:
            applied = min(wait, MAX_STATED)
            c.until, c.stated = now + applied, True  # the upstream's latest word, even if shorter
            if self.observer is not None:
                self.observer(key, model, c.until, key_wide, 429, key.reason)
            return applied
        applied = min(BASE_COOLDOWN * 2.0 ** min(c.strikes, 16), MAX_COOLDOWN)
        c.strikes += 1
        if not (c.stated and c.until > now):  # a guess never shortens what the upstream said
            c.until, c.stated = now + applied, False
        return applied

    def states(self, now: float | None = None) -> tuple[int, int, int]:
        """(usable, cooling, retired) key counts now: cooling = some cool-down running (for one model or
        the whole key), retired = rejected by the upstream. For /metrics, at scrape time."""
        now = time.monotonic() if now is None else now
        retired = sum(1 for k in self._keys if k.rejected)
        cooling = sum(
            1 for k in self._keys if not k.rejected and any(c.until > now for c in k.cooling.values())
        )
        return len(self._keys) - retired - cooling, cooling, retired

    def rejected(self, key: Key, status: int, *, reason: str | None = None) -> None:
        """The upstream refused `key` itself: out until its secret changes. Logged once."""
        key.failures, key.last_error, key.reason = key.failures + 1, time.monotonic(), reason or str(status)
        if not key.rejected:
            key.rejected = True
            if self.observer is not None:
                self.observer(key, None, None, False, status, key.reason)
            log.warning(
                "provider %s key #%d rejected by upstream (HTTP %d); disabled until its secret changes",
                self.provider,
                key.number,
                status,
            )

    def succeeded(self, key: Key, model: str) -> None:
        """`key` answered for `model`: its cool-downs there and key-wide are over, the guesses reset."""
        key.cooling.pop(model, None)
        key.cooling.pop(None, None)

    def refresh(self, secrets: list[str]) -> None:
        """Adopt a re-read key list; keys whose secret is unchanged keep their state."""
        old = {k.fingerprint: k for k in self._keys}
        fresh: list[Key] = []
        seen: set[str] = set()
        for number, secret in enumerate(secrets, start=1):
            fp = fingerprint(secret)
            if not is_header_value(secret):
                if fp not in self._unfit:
                    self._unfit.add(fp)
                    log.warning(
                        "provider %s key #%d contains characters an HTTP header cannot carry (only visible "
                        "ASCII: no spaces, line breaks or accents); left out until it is replaced",
                        self.provider,
                        number,
                    )
                continue
            if fp in seen:
                continue  # the same secret twice would only be tried twice
            seen.add(fp)
            key = old.get(fp) or Key(number, secret, fp)
            key.number = number
            fresh.append(key)
        if self._loaded and [k.fingerprint for k in fresh] != [k.fingerprint for k in self._keys]:
            log.info("provider %s: key list changed (%d keys)", self.provider, len(fresh))
        self._keys, self._loaded = fresh, True
        self._next = self._next % len(fresh) if fresh else 0
