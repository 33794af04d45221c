"""Model access patterns: which models a user or a personal key may call, as an administrator writes them.
Pure.

A pattern names what a request routes to: `provider/model` (`openai/gpt-4o-mini`), an alias of
`[models]` (`smart`), or a glob over those where `*` stands for any run of characters, `/` included
(`openai/*`, `anthropic/claude-*`, `openrouter/*:free`). Case counts, as in model names. A bare name a
client sends (`gpt-4o-mini`) is checked as the `provider/model` it routes to. Other glob characters
(`?`, `[`, `]`, `{`, `}`), whitespace and control characters are refused, so no one writes a pattern
that looks like it works and does not.

A list allows a name when one of its patterns matches it; no list (None) allows every model. A key's
effective access is the intersection of its user's list and its own (`ModelAccess`): a model must be
allowed by both, and a list that is absent allows all. A list allows an alias by the alias's own name
(then every model it routes to, fallbacks included) or else through what it routes to (then only the
targets it allows). The targets tried are those both lists allow, in the alias's order; none, and the
alias is refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llmgw.errors import InvalidAccountInput

__all__ = ["MAX_PATTERNS", "UNRESTRICTED", "ModelAccess", "check_patterns", "describe", "matches"]

MAX_PATTERNS = 100
MAX_PATTERN_CHARS = 256  # the relay's own bound on a model name (relay/handler.MODEL_MAX_CHARS)
_REFUSED = re.compile(r"[\s\x00-\x1f\x7f-\x9f?\[\]{}]")


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """The patterns as stored: stripped, repeats dropped, in the order given. Raises
    InvalidAccountInput, naming the pattern and why, for an empty list or a pattern that is refused."""
    out: list[str] = []
    for raw in patterns:
        pattern = raw.strip()
        if not pattern:
            continue
        if len(pattern) > MAX_PATTERN_CHARS:
            raise InvalidAccountInput(
                f"model pattern {pattern[:40]!r}… is longer than {MAX_PATTERN_CHARS} characters"
            )
        bad = _REFUSED.search(pattern)
        if bad is not None:
            what = "whitespace" if bad.group().isspace() else repr(bad.group())
            raise InvalidAccountInput(
                f"model pattern {pattern!r} contains {what}: a pattern is `provider/model`, an alias, "
                "or either with `*` for any characters (`openai/*`, `anthropic/claude-*`)"
            )
        if pattern.startswith("/") or pattern.endswith("/"):
            raise InvalidAccountInput(
                f"model pattern {pattern!r} starts or ends with `/`: write `provider/model` or `provider/*`"
            )
        if pattern not in out:
            out.append(pattern)
    if not out:
        raise InvalidAccountInput(
            "give at least one model pattern (to lift the restriction, clear it instead)"
        )
    if len(out) > MAX_PATTERNS:
        raise InvalidAccountInput(f"at most {MAX_PATTERNS} model patterns")
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def matches(pattern: str, name: str) -> bool:
    """Whether `pattern` matches the whole of `name` (`*`: any run of characters, `/` included)."""
    if "*" not in pattern:
        return pattern == name
    return _regex(pattern).fullmatch(name) is not None


def _allows(patterns: tuple[str, ...] | None, name: str) -> bool:
    return patterns is None or any(matches(p, name) for p in patterns)


def _reachable(patterns: tuple[str, ...] | None, alias: str, targets: Sequence[str]) -> set[int]:
    """The positions of the targets one list lets an alias reach: all by its name, else those it allows."""
    if _allows(patterns, alias):
        return set(range(len(targets)))
    return {i for i, target in enumerate(targets) if _allows(patterns, target)}


def describe(patterns: tuple[str, ...] | None) -> str:
    """`openai/*, smart`, or `any model`: a list in one line (audit detail, listings)."""
    return "any model" if patterns is None else ", ".join(patterns)


@dataclass(frozen=True, slots=True)
class ModelAccess:
    """What one request's principal may call: its user's list and its key's (None: no restriction)."""

    user: tuple[str, ...] | None = None
    key: tuple[str, ...] | None = None

    @property
    def restricted(self) -> bool:
        return self.user is not None or self.key is not None

    def allows(self, name: str) -> bool:
        """Whether both lists allow `name` (an alias, or a routed `provider/model`)."""
        return _allows(self.user, name) and _allows(self.key, name)

    def alias_targets(self, alias: str, targets: Sequence[str]) -> list[int]:
        """The positions, in order, of an alias's targets (`provider/model`) both lists let it reach."""
        return sorted(_reachable(self.user, alias, targets) & _reachable(self.key, alias, targets))


UNRESTRICTED = ModelAccess()
