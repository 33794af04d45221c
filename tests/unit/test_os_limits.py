"""The limits checked at `llmgw serve`'s start: the listen backlog handed to hypercorn and compared with
the kernel's cap, and the soft open-files limit raised to the hard one, each branch run against a
faked `resource` module (Linux's, macOS's unlimited hard limit, a refusing setrlimit, Windows)."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from llmgw.server import os_limits
from llmgw.server.listeners import hypercorn_config, metrics_hypercorn_config
from llmgw.settings import Config

INFINITY = -1  # Linux's resource.RLIM_INFINITY (macOS's is 2**63 - 1: see the test that uses both)


class FakeResource(types.ModuleType):
    """`getrlimit`/`setrlimit` over one RLIMIT_NOFILE pair; `refuse_above` makes setrlimit raise
    ValueError (as CPython does for EINVAL) for a soft limit past it, as macOS does past
    kern.maxfilesperproc or for an unlimited one."""

    RLIMIT_NOFILE = 7

    def __init__(
        self, soft: int, hard: int, refuse_above: int | None = None, infinity: int = INFINITY
    ) -> None:
        super().__init__("resource")
        self.RLIM_INFINITY = infinity
        self.limits = (soft, hard)
        self.refuse_above = refuse_above
        self.calls: list[tuple[int, int]] = []

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == self.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        assert which == self.RLIMIT_NOFILE
        self.calls.append(limits)
        soft, hard = limits
        assert hard == self.limits[1], "the hard limit is never changed"
        if soft == self.RLIM_INFINITY or (self.refuse_above is not None and soft > self.refuse_above):
            raise ValueError("current limit exceeds maximum limit")
        self.limits = limits


def fake(monkeypatch: pytest.MonkeyPatch, resource: FakeResource) -> FakeResource:
    monkeypatch.setitem(sys.modules, "resource", resource)
    return resource


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name == "llmgw"]


# --- the backlog setting -----------------------------------------------------------------------------


def test_the_backlog_reaches_hypercorn_and_defaults_well_above_its_100() -> None:
    assert hypercorn_config(Config()).backlog == 4096
    assert hypercorn_config(Config.model_validate({"server": {"backlog": 20000}})).backlog == 20000


def test_the_metrics_listener_keeps_hypercorn_s_backlog() -> None:
    # One local scraper: no burst to absorb.
    mhc = metrics_hypercorn_config(Config.model_validate({"server": {"metrics_listen": "127.0.0.1:9464"}}))
    assert mhc is not None and mhc.backlog == 100


@pytest.mark.parametrize("bad", [0, -1, 65536, "many"])
def test_a_backlog_out_of_bounds_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(ValidationError, match="backlog"):
        Config.model_validate({"server": {"backlog": bad}})


def test_the_backlog_is_read_from_its_environment_variable() -> None:
    from llmgw.settings.server import ENV_VARS

    assert ENV_VARS["backlog"] == "LLMGW_BACKLOG"


def test_a_backlog_above_somaxconn_warns_once_naming_the_sysctl(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    somaxconn = tmp_path / "somaxconn"
    somaxconn.write_text("4096\n", encoding="ascii")
    with caplog.at_level(logging.INFO, logger="llmgw"):
        os_limits.check_backlog(4096, somaxconn)
        assert not caplog.records, "equal to the cap: nothing to say"
        os_limits.check_backlog(8192, somaxconn)
    [warning] = messages(caplog, logging.WARNING)
    assert "net.core.somaxconn" in warning and "4096" in warning and "8192" in warning


@pytest.mark.parametrize("content", [None, "", "a lot\n"])
def test_an_unreadable_somaxconn_is_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | None
) -> None:
    path = tmp_path / "somaxconn"  # missing: macOS, Windows, a sandbox without /proc
    if content is not None:
        path.write_text(content, encoding="ascii")
    assert os_limits.kernel_backlog_cap(path) is None
    with caplog.at_level(logging.INFO, logger="llmgw"):
        os_limits.check_backlog(65535, path)
    assert not caplog.records


# --- the open-files limit ----------------------------------------------------------------------------


def test_the_soft_limit_is_raised_to_the_hard_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    resource = fake(monkeypatch, FakeResource(1024, 524288))
    with caplog.at_level(logging.INFO, logger="llmgw"):
        assert os_limits.raise_open_files(4096, platform="linux") == 524288
    assert resource.calls == [(524288, 524288)]
    assert messages(caplog, logging.INFO) == [
        "open files: soft limit raised from 1024 to 524288 (hard 524288)"
    ]
    assert not messages(caplog, logging.WARNING)


def test_a_soft_limit_already_at_the_hard_one_is_left_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    resource = fake(monkeypatch, FakeResource(20000, 20000))
    with caplog.at_level(logging.INFO, logger="llmgw"):
        assert os_limits.raise_open_files(4096, platform="linux") == 20000
    assert resource.calls == []
    assert messages(caplog, logging.INFO) == ["open files: limit 20000 (hard 20000)"]
    assert not messages(caplog, logging.WARNING)


@pytest.mark.parametrize("infinity", [INFINITY, 2**63 - 1])
def test_an_unlimited_hard_limit_gives_macos_s_documented_cap(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, infinity: int
) -> None:
    resource = fake(monkeypatch, FakeResource(256, infinity, infinity=infinity))
    with caplog.at_level(logging.INFO, logger="llmgw"):
        assert os_limits.raise_open_files(1024, platform="darwin") == os_limits.OPEN_MAX
    assert resource.calls == [(os_limits.OPEN_MAX, infinity)], "never an unlimited soft limit"
    assert messages(caplog, logging.INFO) == [
        "open files: soft limit raised from 256 to 10240 (hard unlimited)"
    ]


def test_a_refused_hard_limit_falls_back_to_the_cap(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # macOS with a finite hard limit above kern.maxfilesperproc.
    resource = fake(monkeypatch, FakeResource(256, 100_000, refuse_above=24576))
    with caplog.at_level(logging.INFO, logger="llmgw"):
        assert os_limits.raise_open_files(1024, platform="darwin") == os_limits.OPEN_MAX
    assert resource.calls == [(100_000, 100_000), (os_limits.OPEN_MAX, 100_000)]
    assert resource.limits == (os_limits.OPEN_MAX, 100_000)
    assert not messages(caplog, logging.WARNING)


def test_every_raise_refused_keeps_the_soft_limit_and_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    resource = fake(monkeypatch, FakeResource(256, 100_000, refuse_above=256))
    with caplog.at_level(logging.INFO, logger="llmgw"):
        assert os_limits.raise_open_files(16, platform="darwin") == 256
    assert resource.limits == (256, 100_000)
    [refused] = messages(caplog, logging.WARNING)
    assert "stays at 256" in refused and "refused" in refused
    assert not messages(caplog, logging.INFO)


def test_a_hard_limit_too_low_for_the_backlog_warns_with_the_figure_needed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake(monkeypatch, FakeResource(1024, 4096))
    with caplog.at_level(logging.INFO, logger="llmgw"):
        assert os_limits.raise_open_files(4096, platform="linux") == 4096
    assert messages(caplog, logging.INFO) == ["open files: soft limit raised from 1024 to 4096 (hard 4096)"]
    [low] = messages(caplog, logging.WARNING)
    needed = 2 * 4096 + os_limits.RESERVED_DESCRIPTORS
    assert os_limits.descriptors_needed(4096) == needed
    assert f"at least {needed}" in low and "about 2016 concurrent streams" in low and "LimitNOFILE" in low


def test_exactly_enough_descriptors_is_no_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    needed = os_limits.descriptors_needed(100)
    fake(monkeypatch, FakeResource(needed, needed))
    with caplog.at_level(logging.INFO, logger="llmgw"):
        os_limits.raise_open_files(100, platform="linux")
        os_limits.raise_open_files(101, platform="linux")
    [low] = messages(caplog, logging.WARNING)
    assert "backlog of 101" in low


def test_an_unlimited_soft_limit_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    resource = fake(monkeypatch, FakeResource(INFINITY, INFINITY))
    with caplog.at_level(logging.INFO, logger="llmgw"):
        assert os_limits.raise_open_files(65535, platform="linux") == INFINITY
    assert resource.calls == []
    assert messages(caplog, logging.INFO) == ["open files: no limit"]
    assert not messages(caplog, logging.WARNING)


def test_windows_has_no_resource_module_and_nothing_is_tried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "resource", None)  # `import resource` raises, as on Windows
    with caplog.at_level(logging.DEBUG, logger="llmgw"):
        assert os_limits.raise_open_files(4096, platform="win32") is None
    assert not caplog.records
