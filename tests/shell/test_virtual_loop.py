"""VirtualTimeEventLoop: timers jump, real I/O still arrives, and the clock is the loop's."""

from __future__ import annotations

import asyncio
import socket
import time

import anyio

from mintgate.shell.testing import VirtualTimeEventLoop


def test_an_hour_of_timers_passes_at_once_on_the_virtual_clock() -> None:
    async def main() -> tuple[float, float]:
        started, wall = anyio.current_time(), time.perf_counter()
        await anyio.sleep(3600.0)
        with anyio.move_on_after(100.0):
            await anyio.sleep_forever()
        return anyio.current_time() - started, time.perf_counter() - wall

    virtual, real = anyio.run(
        main, backend="asyncio", backend_options={"loop_factory": VirtualTimeEventLoop}
    )
    assert virtual == 3700.0
    assert real < 1.0


def test_real_io_is_still_delivered() -> None:
    async def main() -> bytes:
        left, right = socket.socketpair()
        left.setblocking(False)  # asyncio's socket methods need non-blocking sockets
        loop = asyncio.get_running_loop()
        try:
            loop.call_later(0.01, right.send, b"ping")  # fires after a virtual 10 ms
            return await loop.sock_recv(left, 4)
        finally:
            left.close()
            right.close()

    with asyncio.Runner(loop_factory=VirtualTimeEventLoop) as runner:
        assert runner.run(main()) == b"ping"


def test_the_clock_starts_where_asked() -> None:
    loop = VirtualTimeEventLoop(start=42.5)
    try:
        assert loop.time() == 42.5
        loop.advance(1.5)
        assert loop.time() == 44.0
    finally:
        loop.close()
