"""The budget alerts' settings: thresholds parsed and bounded; the webhook URL a secret (checked
without being shown, masked by `config check`, kept in the keyring as `budget-alert-webhook`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmgw.cli.config import describe
from llmgw.errors import ConfigError
from llmgw.services import credentials
from llmgw.settings import ServerConfig, load
from tests.support.tui_support import MemoryKeyring

URL = "https://hooks.slack.com/services/T000/B000/SECRETPART123"


def test_thresholds_default_parse_and_bounds() -> None:
    assert ServerConfig().budget_alert_thresholds == (80, 100)
    assert ServerConfig.model_validate({"budget_alert_thresholds": "100, 50,50"}).budget_alert_thresholds == (
        50,
        100,
    )
    for bad in ("0", "1001", "x"):
        with pytest.raises(ValueError):
            ServerConfig.model_validate({"budget_alert_thresholds": bad})


def test_a_bad_webhook_is_refused_without_showing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMGW_BUDGET_ALERT_WEBHOOK", "ftp://hooks.example/SECRETPART123")
    config = tmp_path / "llmgw.toml"
    config.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(str(config))
    assert "LLMGW_BUDGET_ALERT_WEBHOOK" in str(caught.value) and "SECRETPART" not in str(caught.value)


def test_config_check_masks_the_webhook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = MemoryKeyring()
    monkeypatch.setattr(credentials, "_keyring", lambda: memory)
    monkeypatch.setenv("LLMGW_BUDGET_ALERT_WEBHOOK", URL)
    config = tmp_path / "llmgw.toml"
    config.write_text(f"[server]\ndatabase = '{tmp_path / 'x.db'}'\n", encoding="utf-8")
    shown = describe(load(str(config)))
    assert "SECRETPART" not in shown
    assert 'budget_alert_webhook = "htt…T123"  # a secret, masked' in shown


def test_the_webhook_in_the_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = MemoryKeyring()
    monkeypatch.setattr(credentials, "_keyring", lambda: memory)
    assert credentials.budget_alert_webhook() is None
    assert credentials.parse_secret_name("budget-alert-webhook") == ("budget-alert-webhook", 1)
    with pytest.raises(ValueError, match="http:// or https:// URL"):
        credentials.set_secret("budget-alert-webhook", "hooks.slack.com/x")
    credentials.set_secret("budget-alert-webhook", URL)
    assert credentials.budget_alert_webhook() == URL
    listed: Any = credentials.list_secrets()
    assert [(s.name, s.masked) for s in listed] == [("budget-alert-webhook", "htt…T123")]
    with pytest.raises(ValueError, match="reserved"):
        credentials.check_provider_name("budget-alert-webhook")
