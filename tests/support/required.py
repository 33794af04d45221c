"""What a test needs that CI installs (the executable, the image, systemd's tools, the TLS proxies, a
real Secret Service): where it is missing the test is skipped, unless the run requires it with
`LLMGW_REQUIRE_<WHAT>` (set by scripts/test and .ci/run), and then it fails, so CI never passes by
skipping it."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def required(variable: str) -> bool:
    """Whether the run requires what `variable` names (set to anything but empty or 0)."""
    return os.environ.get(variable, "") not in ("", "0")


def unavailable(variable: str, reason: str) -> NoReturn:
    """Skip for `reason`, or fail with it when `variable` requires what is missing."""
    if required(variable):
        pytest.fail(f"{variable} is set, but {reason}")
    pytest.skip(reason)
