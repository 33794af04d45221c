"""Model access through the real stack: `llmgw access …` and `llmgw key create --models` in a
subprocess, and a real `llmgw serve` whose openai SDK client is refused a model its key may not call
(`openai.PermissionDeniedError`, the message naming the model), lists only what it may, and sees a
restriction the CLI sets or clears applied without a restart."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from tests.conftest import UPSTREAM_KEY, provider
from tests.process.test_cli_accounts import Cli, ok, refused
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

pytestmark = pytest.mark.usefixtures("fast_hashes")
PW = "correct horse battery"


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    config = tmp_path / "llmgw.toml"
    config.write_text(f'[server]\ndatabase = "{tmp_path / "llmgw.db"}"\n', encoding="utf-8")
    return Cli(config)


def test_access_commands(run: Cli) -> None:
    assert ok(run("access", "list")).startswith("no model restrictions")
    ok(run("user", "add", "ada", "--password-stdin", stdin=PW))
    key = ok(run("key", "create", "ada", "--name", "ci", "--models", "up/*", "smart")).strip().split("-")[1]
    assert ok(run("access", "set", "ada", "up/*", "anthropic/claude-*")) == (
        "user 'ada' may call: up/*, anthropic/claude-* (set)\n"
    )
    assert "(unchanged)" in ok(run("access", "set", "ada", "up/*", "anthropic/claude-*"))
    assert ok(run("access", "set", key, "up/m")) == (
        f"key {key} (of 'ada') may call: up/m (set)\n"
        "and is held to its user's list too: up/*, anthropic/claude-*\n"
    )
    listed = json.loads(ok(run("access", "list", "--json")))
    assert listed == [
        {
            "scope": "user",
            "subject": "ada",
            "owner": "ada",
            "models": ["up/*", "anthropic/claude-*"],
            "owner_models": None,
        },
        {
            "scope": "key",
            "subject": key,
            "owner": "ada",
            "models": ["up/m"],
            "owner_models": listed[0]["models"],
        },
    ]
    table = ok(run("access", "list")).splitlines()
    assert table[0].split() == ["scope", "subject", "owner", "models", "user's", "models"]
    assert json.loads(ok(run("key", "list", "--json")))[0]["models"] == ["up/m"]
    refused(run("access", "set", "bob", "up/*"), "no user or key 'bob'")
    refused(run("access", "set", "ada", "up/gpt-4?"), "'up/gpt-4?' contains '?'")
    refused(run("key", "create", "ada", "--models", "a b"), "contains whitespace")
    assert run("access", "set", "ada").returncode == 2  # argparse: a pattern is required
    assert ok(run("access", "clear", key)) == (
        f"key {key} (of 'ada') may call any model (still held to its user's: up/*, anthropic/claude-*)\n"
    )
    assert ok(run("access", "clear", "ada")) == "user 'ada' may call any model\n"
    assert ok(run("access", "clear", "ada")) == "user 'ada' had no model restriction of its own\n"
    actions = [e["action"] for e in json.loads(ok(run("audit", "--json")))]
    assert actions.count("model_access.set") == 3 and actions.count("model_access.cleared") == 2


def wait_for(check: Callable[[], bool], what: str) -> None:
    """Poll `check()` until it is true: the gateway reloads its key index within a poll (0.25 s)."""
    deadline = time.monotonic() + 20  # generous: a loaded machine polls late
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not seen: {what}")


def test_the_openai_sdk_against_a_real_gateway(fake: FakeOpenAI, tmp_path: Path) -> None:
    env = {"LLMGW_AUTH_MODE": "users", "LLMGW_UP_API_KEY": UPSTREAM_KEY, "DBUS_SESSION_BUS_ADDRESS": ""}
    toml = provider("up", fake.base_url, 'models = ["m", "other"]') + '\n[models]\nfast = "up/m"\n'
    with GatewayProcess(tmp_path, toml, env) as gw, contextlib.ExitStack() as stack:
        run = Cli(gw.config_path)
        ok(run("user", "add", "ada", "--password-stdin", stdin=PW))
        token = ok(run("key", "create", "ada", "--models", "up/m")).strip()
        client = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=token, max_retries=0)
        stack.callback(client.close)  # closed however the test ends: no socket left to a later test
        messages: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]

        def chat(model: str) -> None:
            client.chat.completions.create(model=model, messages=messages)

        def listed() -> list[str] | None:
            try:
                return [m.id for m in client.models.list()]
            except openai.AuthenticationError:  # the new key not in the gateway's index yet
                return None

        wait_for(lambda: listed() == ["fast", "up/m"], "the key's own list")
        chat("up/m")
        chat("fast")  # an alias reaching an allowed model
        with pytest.raises(openai.PermissionDeniedError) as caught:
            chat("up/other")
        assert caught.value.status_code == 403 and caught.value.code == "model_not_allowed"
        assert "The model `up/other` is not allowed for this API key" in caught.value.message
        ok(run("access", "set", "ada", "up/other"))  # the user's list: nothing in common with the key's

        def refused_now() -> bool:
            try:
                chat("up/m")
            except openai.PermissionDeniedError:
                return True
            return False

        wait_for(refused_now, "the user's restriction")
        assert [m.id for m in client.models.list()] == []
        ok(run("access", "clear", "ada"))
        wait_for(lambda: not refused_now(), "the restriction lifted")
