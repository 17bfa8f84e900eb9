"""The shell runs under anyio on trio (virtual time, a fresh MockClock per test) and asyncio."""

from __future__ import annotations

from typing import Any

import pytest
import trio.testing


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "trio":
        return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})
    return "asyncio"
