"""Fixtures for the core's tests: every scripted run is watched by the invariant checker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mintgate.policy import RefreshConfig
from mintgate.policy.testing import InvariantChecker, Script

MakeScript = Callable[..., Script[str]]

START = 1_234_567.25
"""Clocks in production start anywhere (trio's at a large random offset): never at 0."""


@pytest.fixture
def make_script() -> MakeScript:
    """Build a Script on a non-zero clock, checked by InvariantChecker after every step."""

    def make(**config: Any) -> Script[str]:
        cfg = RefreshConfig(**config)
        return Script(cfg, start=START, observer=InvariantChecker(cfg).observe)

    return make
