"""The shell's two clocks and the one place that converts between them.

The core runs on the running event loop's monotonic clock: anyio's deadlines use it, so the
shell can sleep until the core's ``wake_at``. Everything that leaves the process (a stored
record, a shared cache, another process's token, an operator reading a log) speaks wall-clock
Unix time, and a token issuer gives absolute expiries in it (AWS's ``Expiration``). The two
drift apart (NTP steps the wall clock; trio starts its clock at a random offset each run), so
an instant is converted only at the moment it crosses the boundary, from readings of both
clocks taken together, and only here.
"""

from __future__ import annotations

import datetime as _datetime
import math
import time
from collections.abc import Callable
from typing import final

import anyio

__all__ = ["Clock", "unix_time"]


def unix_time(name: str, value: float | _datetime.datetime) -> float:
    """A wall-clock instant as Unix seconds: a finite number, or a timezone-aware ``datetime``.

    Raises:
        ValueError: Naming ``name``: a naive ``datetime`` (its zone is a guess), a non-finite
            number, or something that is neither.
    """
    if isinstance(value, _datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name} must be a timezone-aware datetime (a naive one's zone is a guess), "
                f"got {value.isoformat()}"
            )
        return value.timestamp()
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and math.isfinite(value)):
        raise ValueError(f"{name} must be a Unix time or an aware datetime, got {value!r}")
    return float(value)


@final
class Clock:
    """The running loop's monotonic clock (``now()``) beside wall-clock Unix time (``wall()``).

    Args:
        wall: Unix time; ``time.time`` by default. Tests pass a fake one, or use
            :meth:`following_the_loop` for a wall clock that moves with a virtual loop clock.
    """

    __slots__ = ("_wall",)

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall

    def __repr__(self) -> str:
        return f"Clock(wall={getattr(self._wall, '__qualname__', self._wall)!r})"

    @classmethod
    def following_the_loop(cls, start: float) -> Clock:
        """A virtual pair for tests: the wall clock reads ``start`` at its first reading and then
        advances exactly as the running loop's clock does (trio's ``MockClock``, asyncio on a
        virtual-time loop), so hours of virtual time are hours of wall time too."""
        origin: list[float] = []

        def wall() -> float:
            now = anyio.current_time()
            if not origin:
                origin.append(now)
            return start + (now - origin[0])

        return cls(wall)

    def now(self) -> float:
        """The running event loop's clock: the one the core and anyio's deadlines use."""
        return anyio.current_time()

    def wall(self) -> float:
        """Wall-clock Unix time."""
        return self._wall()

    def to_loop(self, wall_time: float, *, now: float) -> float:
        """The loop-clock instant of a wall-clock one, given the loop clock's reading ``now``."""
        return now + (wall_time - self._wall())

    def to_wall(self, loop_time: float, *, now: float) -> float:
        """The wall-clock instant of a loop-clock one, given the loop clock's reading ``now``."""
        return self._wall() + (loop_time - now)
