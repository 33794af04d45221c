"""Model routing: provider/model, aliases with fallbacks, allow-lists."""

from __future__ import annotations

import pytest

from llmgw.errors import ModelNotFound
from llmgw.relay.catalog import MODELS_HINT, SUGGESTIONS, Catalog, Target
from llmgw.settings import Config

CONFIG = Config.model_validate(
    {
        "providers": {
            "openai": {"type": "openai"},
            "openrouter": {"type": "openrouter"},
            "local": {"type": "openai-compatible", "base_url": "http://127.0.0.1:1/v1", "models": ["llama"]},
        },
        "models": {
            "fast": "local/llama",
            "smart": {"model": "openai/gpt-4o", "fallbacks": ["openrouter/openai/gpt-4o", "local/llama"]},
        },
    }
)


@pytest.mark.parametrize(
    ("model", "targets"),
    [
        ("openai/gpt-4o", [Target("openai", "gpt-4o")]),
        ("openrouter/openai/gpt-4o", [Target("openrouter", "openai/gpt-4o")]),
        ("openrouter/meta-llama/llama-3:free", [Target("openrouter", "meta-llama/llama-3:free")]),
        ("local/llama", [Target("local", "llama")]),
        ("fast", [Target("local", "llama")]),
        (
            "smart",
            [Target("openai", "gpt-4o"), Target("openrouter", "openai/gpt-4o"), Target("local", "llama")],
        ),
    ],
)
def test_resolve(model: str, targets: list[Target]) -> None:
    assert list(Catalog(CONFIG).resolve(model)) == targets


@pytest.mark.parametrize("model", ["gpt-4o", "nope/gpt-4o", "openai/", "local/mistral", "FAST", "/gpt-4o"])
def test_unknown_is_404(model: str) -> None:
    with pytest.raises(ModelNotFound) as info:
        Catalog(CONFIG).resolve(model)
    assert info.value.status == 404 and info.value.param == "model"


def with_default(provider: str) -> Config:
    return CONFIG.model_copy(
        update={"server": CONFIG.server.model_copy(update={"default_provider": provider})}
    )


@pytest.mark.parametrize(
    ("default", "model", "targets"),
    [
        ("openai", "gpt-4o-mini", [Target("openai", "gpt-4o-mini")]),
        ("openrouter", "meta-llama/llama-3:free", [Target("openrouter", "meta-llama/llama-3:free")]),
        ("local", "llama", [Target("local", "llama")]),  # the allow-list applies
        ("openai", "fast", [Target("local", "llama")]),  # an alias first
        ("openai", "openrouter/openai/gpt-4o", [Target("openrouter", "openai/gpt-4o")]),  # a provider's
    ],
)
def test_bare_names_go_to_the_default_provider(default: str, model: str, targets: list[Target]) -> None:
    assert list(Catalog(with_default(default)).resolve(model)) == targets


@pytest.mark.parametrize("model", ["mistral", "local/mistral", "openai/"])
def test_the_default_provider_keeps_its_allow_list_and_takes_no_named_provider(model: str) -> None:
    with pytest.raises(ModelNotFound):
        Catalog(with_default("local")).resolve(model)


def test_an_unknown_bare_name_lists_the_routed_names_ending_in_it() -> None:
    config = Config.model_validate(
        {
            "providers": {
                "oai": {"type": "openai", "models": ["gpt-4o-mini", "gpt-4o"]},
                "router": {"type": "openrouter", "models": ["openai/gpt-4o-mini", "openai/o3-mini"]},
            },
            "models": {"team/gpt-4o-mini": "oai/gpt-4o-mini", "mini": "oai/gpt-4o-mini"},
        }
    )
    with pytest.raises(ModelNotFound) as info:
        Catalog(config).resolve("gpt-4o-mini")
    message = str(info.value)
    assert message.startswith("The model `gpt-4o-mini` does not exist on this gateway.")
    assert "Did you mean `team/gpt-4o-mini`, `oai/gpt-4o-mini`, `router/openai/gpt-4o-mini`?" in message
    assert "`mini`" not in message and "o3-mini" not in message  # only whole `/<name>` endings
    assert message.endswith(MODELS_HINT)
    with pytest.raises(ModelNotFound) as nothing:
        Catalog(config).resolve("claude")
    assert str(nothing.value) == f"The model `claude` does not exist on this gateway. {MODELS_HINT}"


@pytest.mark.parametrize(
    ("model", "suggested"),
    [
        ("gpt-4o-mini", ["azure/gpt-4o-mini", "openai/gpt-4o-mini"]),  # allow-lists first, then the type's
        ("o3-mini", ["azure/o3-mini", "openai/o3-mini"]),
        ("o1", ["azure/o1", "openai/o1"]),
        ("text-embedding-3-small", ["azure/text-embedding-3-small", "openai/text-embedding-3-small"]),
        ("claude-sonnet-4-5", ["anthropic/claude-sonnet-4-5"]),
        ("gemini-2.5-flash", []),  # no provider of type gemini is configured
        ("gpt-4o", ["openai/gpt-4o"]),  # azure's allow-list has no gpt-4o
        ("o3x", []),  # not a family: an `o` series name is o<digit>, then `-` or nothing
        ("llama-3.1-8b", []),  # an OpenAI-compatible server's names say nothing of their family
        ("mistral/gpt-4o-mini", []),  # not bare: a name with a `/` is never guessed
    ],
)
def test_a_bare_name_of_a_known_family_suggests_it_under_its_providers(
    model: str, suggested: list[str]
) -> None:
    config = Config.model_validate(
        {
            "providers": {
                "openai": {"type": "openai"},
                "azure": {
                    "type": "openai",
                    "base_url": "https://a.test/v1",
                    "models": ["gpt-4o-mini", "o3-mini", "o1", "text-embedding-3-small"],
                },
                "anthropic": {"type": "anthropic"},
                "local": {"type": "openai-compatible", "base_url": "http://l.test/v1"},
            }
        }
    )
    with pytest.raises(ModelNotFound) as info:
        Catalog(config).resolve(model)
    message = str(info.value)
    assert message.endswith(MODELS_HINT)
    if suggested:
        assert f"Did you mean {', '.join(f'`{s}`' for s in suggested)}?" in message
    else:
        assert "Did you mean" not in message


def test_the_list_is_bounded() -> None:
    config = Config.model_validate(
        {"providers": {f"p{i}": {"type": "openai", "models": ["m"]} for i in range(15)}}
    )
    with pytest.raises(ModelNotFound) as info:
        Catalog(config).resolve("m")
    assert str(info.value).count("`p") == SUGGESTIONS and "(and 5 more)" in str(info.value)


def test_a_gemini_clients_bare_name_goes_to_the_gemini_provider_else_the_default() -> None:
    with_gemini = Config.model_validate(
        {
            "server": {"default_provider": "openai"},
            "providers": {**CONFIG.model_dump()["providers"], "gemini": {"type": "gemini"}},
        }
    )
    catalog = Catalog(with_gemini)
    assert catalog.resolve("gemini-2.5-flash", "gemini") == (Target("gemini", "gemini-2.5-flash"),)
    assert catalog.resolve("gemini-2.5-flash") == (Target("openai", "gemini-2.5-flash"),)  # other dialects
    assert catalog.resolve("openai/gpt-4o", "gemini") == (Target("openai", "gpt-4o"),)  # named: as named
    without = Catalog(with_default("openai"))
    assert without.resolve("gpt-4o-mini", "gemini") == (Target("openai", "gpt-4o-mini"),)
    with pytest.raises(ModelNotFound):
        Catalog(CONFIG).resolve("gemini-2.5-flash", "gemini")  # no gemini provider, no default
