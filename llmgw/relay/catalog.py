"""Model routing: a client's `model` → an ordered list of (provider, upstream model) targets.

`NAME/model` goes to provider NAME with everything after the first `/` as the upstream model
(`openrouter/openai/gpt-4o` works); an alias from `[models]` goes to its model, then its fallbacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmgw.errors import ModelNotFound
from llmgw.settings import Config


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str  # the upstream's name for it


class Catalog:
    def __init__(self, config: Config) -> None:
        self._allowed = {name: p.models for name, p in config.providers.items()}
        self._aliases: dict[str, tuple[Target, ...]] = {
            alias: tuple(self._split(ref) for ref in (a.model, *a.fallbacks))
            for alias, a in config.models.items()
        }

    @staticmethod
    def _split(ref: str) -> Target:
        provider, _, model = ref.partition("/")
        return Target(provider, model)

    @property
    def aliases(self) -> dict[str, tuple[Target, ...]]:
        return self._aliases

    @property
    def allowed(self) -> dict[str, tuple[str, ...] | None]:
        """Each provider's allow-list of upstream models (None: any)."""
        return self._allowed

    @property
    def providers(self) -> list[str]:
        return list(self._allowed)

    def resolve(self, model: str) -> tuple[Target, ...]:
        """Targets to try in order; raises ModelNotFound (404) when nothing matches."""
        targets = self._aliases.get(model)
        if targets is not None:
            return targets
        target = self._split(model)
        if target.provider in self._allowed and target.model:
            allowed = self._allowed[target.provider]
            if allowed is None or target.model in allowed:
                return (target,)
        raise ModelNotFound(f"The model `{model}` does not exist on this gateway.", param="model")
