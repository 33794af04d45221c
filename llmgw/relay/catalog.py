"""Model routing: a client's `model` → an ordered list of (provider, upstream model) targets. `NAME/model`
goes to provider NAME with everything after the first `/` as the upstream model
(`openrouter/openai/gpt-4o` works); an alias from `[models]` goes to its model, then its fallbacks. A
bare name (no alias, and what precedes its first `/`, if any, names no provider) goes whole to
`server.default_provider` when one is set; a Gemini client's bare name (`gemini-2.5-flash` in its path)
goes first to a provider named `gemini`, if one is configured (`bare_provider`). A name that routes
nowhere is a 404 listing the routed names (aliases, and `provider/model` of the allow-lists) that end in
`/<name>`: some clients strip a provider prefix they take for theirs (the Agents SDK sends `gpt-4o-mini`
for `openai/gpt-4o-mini`).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmgw.errors import ModelNotFound
from llmgw.settings import Config

SUGGESTIONS = 10  # routed names a 404 lists at most


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str  # the upstream's name for it

    @property
    def name(self) -> str:
        """`provider/model`, as clients and model access patterns name it."""
        return f"{self.provider}/{self.model}"


class Catalog:
    def __init__(self, config: Config) -> None:
        self._allowed = {name: p.models for name, p in config.providers.items()}
        self._aliases: dict[str, tuple[Target, ...]] = {
            alias: tuple(self._split(ref) for ref in (a.model, *a.fallbacks))
            for alias, a in config.models.items()
        }
        self._default = config.server.default_provider or None

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

    @property
    def default_provider(self) -> str | None:
        """Where bare model names go (`server.default_provider`), if anywhere."""
        return self._default

    def resolve(self, model: str, bare_provider: str | None = None) -> tuple[Target, ...]:
        """Targets to try in order; raises ModelNotFound (404) when nothing matches. A bare name goes to
        `bare_provider` when it is configured, else to the default provider."""
        targets = self._aliases.get(model)
        if targets is not None:
            return targets
        target = self._split(model)
        default = bare_provider if bare_provider in self._allowed else self._default
        if target.provider in self._allowed:
            if target.model and self._allows(target.provider, target.model):
                return (target,)
        elif default is not None and self._allows(default, model):
            return (Target(default, model),)
        raise ModelNotFound(self._not_found(model), param="model")

    def _allows(self, provider: str, model: str) -> bool:
        allowed = self._allowed[provider]
        return allowed is None or model in allowed

    def _not_found(self, model: str) -> str:
        """The 404's message: what the name could have meant, if any routed name ends in `/<name>`."""
        message = f"The model `{model}` does not exist on this gateway."
        suffix = "/" + model
        routed = [alias for alias in self._aliases if alias.endswith(suffix)]
        for provider, models in self._allowed.items():
            routed.extend(f"{provider}/{m}" for m in models or () if f"/{m}".endswith(suffix))
        if routed:
            shown = ", ".join(f"`{name}`" for name in routed[:SUGGESTIONS])
            more = f" (and {len(routed) - SUGGESTIONS} more)" if len(routed) > SUGGESTIONS else ""
            message += f" Routed names ending in it: {shown}{more}."
        return message
