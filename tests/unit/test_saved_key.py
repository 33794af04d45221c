"""The user's saved key for `llmgw run` (`services/saved_key.py`) and the Gemini CLI settings file
`llmgw run gemini` writes (`services/gemini_settings.py`): private files, the variable first."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from llmgw.errors import LaunchError
from llmgw.services import gemini_settings, saved_key

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_saved_private_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "llmgw" / "api-key"
    old = os.umask(0)
    try:
        assert saved_key.save_key("  tok-123\n", path) == path
    finally:
        os.umask(old)
    assert path.read_text() == "tok-123\n"
    assert mode(path) == 0o600 and mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    assert saved_key.find_key({}, path) == saved_key.FoundKey("tok-123", str(path))


@posix_only
def test_saving_again_replaces_and_makes_it_private(tmp_path: Path) -> None:
    path = tmp_path / "api-key"
    path.write_text("old\n")
    path.chmod(0o644)
    found = saved_key.find_key({}, path)
    assert found is not None and found.value == "old"
    assert found.warning and "chmod 600" in found.warning  # named, not changed
    assert mode(path) == 0o644
    saved_key.save_key("new", path)
    assert path.read_text() == "new\n" and mode(path) == 0o600
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_the_variable_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "api-key"
    saved_key.save_key("from-file", path)
    assert saved_key.find_key({"LLMGW_API_KEY": "from-env"}, path) == saved_key.FoundKey(
        "from-env", "LLMGW_API_KEY"
    )
    assert saved_key.find_key({"LLMGW_API_KEY": ""}, path) == saved_key.FoundKey("from-file", str(path))


def test_no_key_anywhere(tmp_path: Path) -> None:
    assert saved_key.find_key({}, tmp_path / "api-key") is None


@pytest.mark.parametrize("value", ["", "  \n", "two words", "tab\there", "ünïcode"])
def test_a_bad_key_is_refused(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        saved_key.save_key(value, tmp_path / "api-key")
    assert not (tmp_path / "api-key").exists()
    with pytest.raises(ValueError, match="LLMGW_API_KEY") as info:
        saved_key.find_key({"LLMGW_API_KEY": value or " "}, tmp_path / "api-key")
    assert value.strip() == "" or value not in str(info.value), "the value is never shown"


def test_remove(tmp_path: Path) -> None:
    path = tmp_path / "api-key"
    assert saved_key.remove_key(path) is False
    saved_key.save_key("k", path)
    assert saved_key.remove_key(path) is True
    assert not path.exists()


def test_gemini_settings_over_the_administrators(tmp_path: Path) -> None:
    system = tmp_path / "system.json"
    system.write_text(json.dumps({"tools": {"sandbox": True}}))
    target = tmp_path / "llmgw" / "gemini-settings.json"
    env = gemini_settings.prepare({"GEMINI_CLI_SYSTEM_SETTINGS_PATH": str(system)}, target)
    assert env == {"GEMINI_CLI_SYSTEM_SETTINGS_PATH": str(target)}
    written = json.loads(target.read_text())
    assert written["tools"] == {"sandbox": True}
    assert written["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert json.loads(system.read_text()) == {"tools": {"sandbox": True}}  # never written
    if os.name == "posix":
        assert mode(target) == 0o600
    # launched again from within a launch: its own file is not read as the administrator's
    target.write_text(json.dumps({"left": "over"}))
    gemini_settings.prepare(env, target)
    assert "left" not in json.loads(target.read_text())


def test_gemini_settings_unreadable_are_said(tmp_path: Path) -> None:
    system = tmp_path / "system.json"
    system.write_text("{ // a comment\n}")
    with pytest.raises(LaunchError, match="selectedType"):
        gemini_settings.prepare({"GEMINI_CLI_SYSTEM_SETTINGS_PATH": str(system)}, tmp_path / "g.json")
    system.write_text("[]")
    with pytest.raises(LaunchError, match="not a JSON object"):
        gemini_settings.prepare({"GEMINI_CLI_SYSTEM_SETTINGS_PATH": str(system)}, tmp_path / "g.json")


@pytest.mark.skipif(os.name != "posix", reason="Gemini CLI's ownership rule is POSIX's")
def test_gemini_settings_unheeded_below_tmp_are_warned_about_unless_the_user_chose_the_auth_type(
    tmp_path: Path,
) -> None:
    target = tmp_path / "llmgw" / "gemini-settings.json"
    gemini_settings.prepare({}, target)
    target.parent.chmod(0o777)  # as /tmp is, above every temporary directory
    assert not gemini_settings.heeded_by_gemini_cli(target)
    home = tmp_path / "home"
    warning = gemini_settings.settings_warning({"HOME": str(home)}, target)
    assert warning is not None and str(target) in warning and "llmgw run --gemini-auth" in warning
    (home / ".gemini").mkdir(parents=True)
    settings = home / ".gemini" / "settings.json"
    settings.write_text(json.dumps({"security": {"auth": {"selectedType": "oauth-personal"}}}))
    assert gemini_settings.settings_warning({"HOME": str(home)}, target) is not None
    settings.write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
    assert gemini_settings.settings_warning({"HOME": str(home)}, target) is None
    # GEMINI_CLI_HOME moves Gemini CLI's home, and with it the settings it reads
    assert (
        gemini_settings.settings_warning({"HOME": "/nonexistent", "GEMINI_CLI_HOME": str(home)}, target)
        is None
    )
    assert gemini_settings.settings_warning({"HOME": str(home), "GEMINI_CLI_HOME": "/nonexistent"}, target)


@pytest.mark.skipif(os.name != "posix", reason="Gemini CLI's ownership rule is POSIX's")
def test_a_root_owned_file_in_root_owned_directories_is_heeded(tmp_path: Path) -> None:
    assert gemini_settings.heeded_by_gemini_cli(Path("/etc/passwd"))  # root's, 644, in /etc (755)
    assert gemini_settings.settings_warning({"HOME": str(tmp_path)}, Path("/etc/passwd")) is None
    assert not gemini_settings.heeded_by_gemini_cli(tmp_path / "missing.json")


def test_gemini_auth_is_chosen_in_the_users_settings_keeping_the_rest(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    settings = tmp_path / ".gemini" / "settings.json"
    assert gemini_settings.choose_api_key_auth(env) == settings  # none yet: created
    assert json.loads(settings.read_text()) == {"security": {"auth": {"selectedType": "gemini-api-key"}}}
    theirs = {"theme": "Dracula", "security": {"auth": {"selectedType": "oauth-personal", "x": 1}, "y": 2}}
    settings.write_text(json.dumps(theirs))
    gemini_settings.choose_api_key_auth(env)
    assert json.loads(settings.read_text()) == {
        "theme": "Dracula",
        "security": {"auth": {"selectedType": "gemini-api-key", "x": 1}, "y": 2},
    }
    assert gemini_settings.settings_warning(env, tmp_path / "not-root-owned.json") is None  # now chosen
    settings.write_text('{\n  // a comment Gemini CLI allows\n  "theme": "Dracula"\n}')
    with pytest.raises(LaunchError, match="to it yourself"):
        gemini_settings.choose_api_key_auth(env)
    assert "// a comment" in settings.read_text()  # left as it was


def test_gemini_settings_warning_names_the_fix(tmp_path: Path) -> None:
    target = tmp_path / "llmgw" / "gemini-settings.json"  # the test's own: not owned by root's chain
    warning = gemini_settings.settings_warning({"HOME": str(tmp_path)}, target)
    assert warning is not None and "llmgw run --gemini-auth" in warning
