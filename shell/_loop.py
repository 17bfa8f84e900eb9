"""Which event loop runs us, and its clock read the fast way.

A host belongs to the loop that opened it (its task group, its deadlines and every reading of
its clock are that loop's), so it remembers the loop's identity and refuses calls from another.
The hot path reads the loop's clock on every ``token()``: these helpers find the C function
behind the loop's standard clock once, when the host opens, instead of asking anyio each time.
Neither imports trio: an asyncio program never loads it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio
import sniffio

__all__ = ["current_loop", "loop_clock"]


def current_loop() -> object | None:
    """What identifies the running event loop (trio's run token, the asyncio loop), or None."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
    if library == "trio":
        token: object = _trio().lowlevel.current_trio_token()
        return token
    if library == "asyncio":
        return asyncio.get_running_loop()
    return library


def loop_clock() -> tuple[Callable[[], float], float]:
    """The running loop's clock, the one anyio's deadlines use, as ``raw() + offset``.

    ``anyio.current_time()`` looks the backend up on every call, and even the loops' own
    functions wrap a C clock in Python calls; the hot path cannot afford either. When the loop
    runs on its standard clock (trio's ``SystemClock``: ``offset + perf_counter()``; asyncio's
    ``BaseEventLoop.time``: ``monotonic()``), the C function is used directly with the same
    offset, so the reading is identical. Any other clock (trio's ``MockClock``, uvloop) is
    called as the loop defines it.
    """
    library = sniffio.current_async_library()
    if library == "trio":
        trio = _trio()
        clock = trio.lowlevel.current_clock()
        if type(clock).__name__ == "SystemClock" and type(clock).__module__.startswith("trio"):
            return time.perf_counter, float(clock.offset)
        return trio.current_time, 0.0
    if library == "asyncio":
        loop = asyncio.get_running_loop()
        if type(loop).time is asyncio.BaseEventLoop.time:
            return time.monotonic, 0.0
        return loop.time, 0.0
    return anyio.current_time, 0.0


def _trio() -> Any:
    """trio, which a trio program has imported already: the shell never imports it itself."""
    return sys.modules["trio"]
