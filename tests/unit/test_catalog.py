"""Model routing: provider/model, aliases with fallbacks, allow-lists."""

from __future__ import annotations

import pytest

from llmgw.errors import ModelNotFound
from llmgw.relay.catalog import Catalog, Target
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
