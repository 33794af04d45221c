"""What a translator must know about the target model: whether it takes reasoning parameters. Pure.

A client's `thinking` (or OpenAI's `reasoning_effort`) states a preference: think, and about this much.
A model that cannot think refuses the parameter outright (OpenAI: "Unsupported parameter:
'reasoning_effort' is not supported with this model."), although dropping it changes nothing about the
answer that model gives. So the translators drop it for such models, and say so (a note the relay logs
at DEBUG); they still refuse what would change the meaning of the request.

The tables follow the providers' own lists, by model-name prefix:

- OpenAI, https://platform.openai.com/docs/guides/reasoning (and each model's page): `o1`, `o3`, `o4-*`
  and `gpt-5*` take `reasoning_effort`; `o1-mini` and `o1-preview` never did, and the `gpt-5*-chat*`
  models are the non-reasoning ones of the family. Any other name (gpt-4o, gpt-4.1 ...) does not.
- Gemini, https://ai.google.dev/gemini-api/docs/thinking: the 2.5 and 3 series think and take
  `thinkingConfig`; the `-latest` aliases point into them. Gemini 2.0 and older do not.

Only these providers' own APIs are judged. OpenRouter and other OpenAI-compatible servers serve
models under names this table cannot know (a vLLM `deepseek-r1`, Groq's `openai/gpt-oss-120b`), and
OpenRouter itself ignores what a model cannot take: `reasoning_effort` passes to them unchanged.
"""

from __future__ import annotations

from typing import Final

__all__ = ["gemini_thinks", "openai_reasons"]

_OPENAI_REASONING: Final = ("o1", "o3", "o4-", "gpt-5")
_OPENAI_NOT_REASONING: Final = ("o1-mini", "o1-preview")
_GEMINI_THINKING: Final = ("gemini-2.5", "gemini-3", "gemini-flash-latest", "gemini-flash-lite-latest",
                           "gemini-pro-latest")  # fmt: skip


def openai_reasons(model: str) -> bool:
    """Whether an OpenAI model takes `reasoning_effort` (fine-tunes, `ft:<base>:...`, as their base)."""
    name = model.lower().removeprefix("ft:")
    if name.startswith(_OPENAI_NOT_REASONING) or (name.startswith("gpt-5") and "-chat" in name):
        return False
    return name.startswith(_OPENAI_REASONING)


def gemini_thinks(model: str) -> bool:
    """Whether a Gemini model takes `thinkingConfig` (`models/` prefix or not)."""
    return model.lower().removeprefix("models/").startswith(_GEMINI_THINKING)
