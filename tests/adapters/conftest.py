"""Adapter tests talk to a real loopback token server, in real time, on trio and asyncio."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mintgate.adapters.testing import TokenServer


@pytest.fixture(params=["trio", "asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    with TokenServer().running() as server:
        yield server
