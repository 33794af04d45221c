"""How much output a request may produce: one table of the fields that cap output, per client dialect
and operation, read by both the budget's reservation (`relay/limits.py`) and the bridge that writes
the upstream request (`relay/bridge.py`), so what is reserved and what the upstream is told can never
disagree. Pure.

- A request's cap is the first of its dialect's fields it sets (OpenAI chat: `max_completion_tokens`,
  which OpenAI made the successor of `max_tokens`, then `max_tokens`), else `server.default_max_tokens`.
  Under a budget the bridge sends exactly that value upstream, in the one field the upstream reads, and
  none of the dialect's other cap fields.
- A cap field of another API (`max_output_tokens` on chat completions, `max_completion_tokens` on
  `/v1/messages`...) caps nothing here. Under a budget it is refused with a 400 naming it, since the
  client evidently meant it as a limit the gateway would not enforce (`refuse_foreign_caps`); without a
  budget the body goes upstream as it came, as always.
- The answers a request makes multiply it: OpenAI's `n` choices; legacy completions' prompts (a list of
  strings or of token arrays is one completion each) times `n` or `best_of` (the completions OpenAI
  generates server-side and bills), whichever is larger.
- An OpenAI `reasoning_effort` sent to an Anthropic model adds its thinking budget to each answer, as
  that translation does (`translate/openai_to_anthropic.py`); so does a Responses request's
  `reasoning.effort` (`translate/responses_to_anthropic.effort_budget`: the same table, `minimal` no
  thinking). A Responses request makes one answer.
- Gemini's cap is nested: `generationConfig.maxOutputTokens` (a field name with a dot is a path into the
  body, read and written as one). Its `thinkingConfig.thinkingBudget`, when positive, is reserved on top
  (the translation to Anthropic adds it to `max_tokens`); `candidateCount` multiplies the answers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

from llmgw.dialects import ClientDialect, Operation
from llmgw.errors import InvalidRequest
from llmgw.translate.openai_to_anthropic import EFFORT_BUDGET
from llmgw.translate.responses_to_anthropic import effort_budget

__all__ = ["CAP_FIELDS", "FOREIGN_CAP_FIELDS", "OutputCap", "output_cap", "refuse_foreign_caps", "with_cap"]

CAP_FIELDS: Final[dict[tuple[ClientDialect, Operation], tuple[str, ...]]] = {
    ("openai", Operation.CHAT): ("max_completion_tokens", "max_tokens"),
    ("openai", Operation.COMPLETIONS): ("max_tokens",),
    ("anthropic", Operation.CHAT): ("max_tokens",),
    ("responses", Operation.CHAT): ("max_output_tokens",),
    ("gemini", Operation.CHAT): ("generationConfig.maxOutputTokens",),
}

# Top-level names other APIs cap output with: the Responses API, old Anthropic Text Completions, Hugging
# Face TGI, Gemini's (inside generationConfig there, but sent flat by some clients).
FOREIGN_CAP_FIELDS: Final = frozenset(
    {"max_tokens", "max_completion_tokens", "max_output_tokens", "max_tokens_to_sample", "max_new_tokens",
     "maxOutputTokens"}
)  # fmt: skip

MAX_ANSWERS_FIELD = 128  # OpenAI's own bound on `n` and `best_of`


@dataclass(frozen=True, slots=True)
class OutputCap:
    """The output a request may produce, in tokens."""

    per_answer: int  # the maximum each answer may hold: the value the upstream is sent
    answers: int = 1  # answers generated and billed: `n`, `best_of`, completions' prompts
    thinking: int = 0  # a thinking budget the translation may add to each answer
    # The request's field `per_answer` came from (None: the default applied); for a refusal's words only.
    source: str | None = dataclasses.field(default=None, compare=False)

    @property
    def total(self) -> int:
        """Every answer at its maximum: what a budget reserves, and the most a stream may carry."""
        return (self.per_answer + self.thinking) * self.answers


def output_cap(body: dict[str, Any], dialect: ClientDialect, op: Operation, default: int) -> OutputCap | None:
    """The cap of a request (see the module docstring); None for operations without output
    (embeddings, token counting). 400 for a cap field or answer count that is not a usable integer."""
    fields = CAP_FIELDS.get((dialect, op))
    if fields is None:
        return None
    per_answer = default
    source = None
    for name in fields:
        value = _get(body, name)
        if value is not None:
            per_answer, source = _positive(value, name, None), name
            break
    if dialect == "gemini":
        config = body.get("generationConfig")
        config = config if isinstance(config, dict) else {}
        thinking = config.get("thinkingConfig")
        budget = thinking.get("thinkingBudget") if isinstance(thinking, dict) else None
        budget = budget if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0 else 0
        count = config.get("candidateCount")
        answers = 1 if count is None else _positive(count, "generationConfig.candidateCount", None)
        return OutputCap(per_answer, answers, budget, source)
    if dialect == "anthropic":
        return OutputCap(per_answer, source=source)
    if dialect == "responses":
        return OutputCap(per_answer, 1, effort_budget(body.get("reasoning")), source)
    n = _answers(body, "n")
    if op is Operation.CHAT:
        effort = body.get("reasoning_effort")
        thinking = EFFORT_BUDGET.get(effort, 0) if isinstance(effort, str) else 0
        return OutputCap(per_answer, n, thinking, source)
    return OutputCap(per_answer, _prompts(body.get("prompt")) * max(n, _answers(body, "best_of")), 0, source)


def refuse_foreign_caps(body: dict[str, Any], dialect: ClientDialect, op: Operation, path: str) -> None:
    """400 naming the first output cap of another API that `body` sets (see the module docstring)."""
    own = CAP_FIELDS.get((dialect, op))
    if own is None:  # no output to limit: embeddings, token counting
        return
    for name in body:
        if name in FOREIGN_CAP_FIELDS and name not in own and body[name] is not None:
            takes = " or ".join(f"`{f}`" for f in own)
            raise InvalidRequest(
                f"`{name}` is not an output limit of {path}, which takes {takes}; a spend budget applies, "
                f"so the gateway refuses a limit it would not enforce. Use {takes} instead.",
                param=name,
            )


def with_cap(
    body: dict[str, Any], dialect: ClientDialect, op: Operation, field: str, cap: int
) -> dict[str, Any]:
    """`body` with `cap` in `field` and none of the dialect's other cap fields: the one maximum the
    upstream will see."""
    own = CAP_FIELDS[(dialect, op)]
    out = {k: v for k, v in body.items() if k not in own}
    parent, _, name = field.rpartition(".")
    if not parent:
        out[field] = cap
        return out
    # A nested field (Gemini's `generationConfig.maxOutputTokens`): copy the objects on its path.
    at = out
    for key in parent.split("."):
        inner = at.get(key)
        at[key] = dict(inner) if isinstance(inner, dict) else {}
        at = at[key]
    at[name] = cap
    return out


def _get(body: dict[str, Any], name: str) -> Any:
    """The value at `name`, a top-level field or a dotted path into nested objects; None if absent."""
    value: Any = body
    for key in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _positive(value: Any, name: str, upper: int | None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1 or (upper and value > upper):
        bound = f" from 1 to {upper}" if upper else ""
        raise InvalidRequest(f"`{name}` must be a positive integer{bound}.", param=name)
    return value


def _answers(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    return 1 if value is None else _positive(value, name, MAX_ANSWERS_FIELD)


def _prompts(prompt: Any) -> int:
    """Legacy completions' prompt count: a string or one token array is one prompt; a list of strings or
    of token arrays is one each."""
    if isinstance(prompt, list) and prompt and all(isinstance(p, str | list) for p in prompt):
        return len(prompt)
    return 1
