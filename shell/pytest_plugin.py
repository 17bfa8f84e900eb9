"""pytest fixtures for code that uses mintgate, loaded through the ``pytest11`` entry point.

- ``fake_mint``: a fresh :class:`mintgate.shell.testing.FakeMint` (1-hour tokens, 50 ms).
- ``virtual_clock``: a fresh trio ``MockClock`` that jumps ahead whenever every task is blocked,
  so an hour of token refreshes runs in milliseconds.
- ``virtual_asyncio_backend``: the same for asyncio, on a
  :class:`~mintgate.shell.testing.VirtualTimeEventLoop`.
- ``virtual_time_backend``: anyio's backend spec for trio on that clock. Use either as your
  ``anyio_backend``::

      @pytest.fixture
      def anyio_backend(virtual_time_backend):
          return virtual_time_backend

The plugin overrides nothing of yours: it adds fixtures and no hooks, and imports trio only when
a trio fixture is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from mintgate.shell.testing import FakeMint, VirtualTimeEventLoop

if TYPE_CHECKING:
    import trio.testing


@pytest.fixture
def fake_mint() -> FakeMint:
    """A scripted mint: set ``fake_mint.outcome`` to make calls fail or hang."""
    return FakeMint()


@pytest.fixture
def virtual_clock() -> trio.testing.MockClock:
    """A fresh virtual clock for one test (trio starts it at a large random offset)."""
    import trio.testing  # noqa: PLC0415 - only a trio test pays for importing trio

    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture
def virtual_time_backend(virtual_clock: trio.testing.MockClock) -> tuple[str, dict[str, Any]]:
    """``("trio", {"clock": virtual_clock})``, the anyio backend for tests in virtual time."""
    return ("trio", {"clock": virtual_clock})


@pytest.fixture
def virtual_asyncio_backend() -> tuple[str, dict[str, Any]]:
    """``("asyncio", {"loop_factory": VirtualTimeEventLoop})``: asyncio in virtual time."""
    return ("asyncio", {"loop_factory": VirtualTimeEventLoop})
