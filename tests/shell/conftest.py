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


@pytest.fixture(params=["trio", "asyncio"])
def virtual_backend(
    request: pytest.FixtureRequest, virtual_time_backend: Any, virtual_asyncio_backend: Any
) -> Any:
    """Both backends in virtual time: trio on a MockClock, asyncio on a VirtualTimeEventLoop.
    A module that wants it overrides ``anyio_backend`` with it."""
    return virtual_time_backend if request.param == "trio" else virtual_asyncio_backend
