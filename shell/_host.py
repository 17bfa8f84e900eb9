"""The host: one task group, one timer and the mint tasks for many credentials' drivers.

A credential's runtime (its state, its parked callers, its statistics) is a driver
(``_driver``); what runs it on the event loop is a host. The host owns one task group, in which
it runs one timer task and each mint while it runs, and keeps every driver's next wake time in
one heap (``_wakeups``): the timer sleeps in a cancel scope whose deadline is the heap's
earliest entry (moved when an earlier one arrives), so it never polls, and a hundred thousand
idle credentials cost one sleeping task between them. When it wakes, every driver that is due
gets a ``Tick`` at the same reading of the clock.

What the application hands us is fenced off from what we run: an exception from the body of
``async with`` leaves it as itself (never in our task group's ``ExceptionGroup``); the
background tasks catch and log their own failures, so they cannot cancel the body. A host
belongs to the event loop that opened it, and opening it again (in any loop) starts every
driver afresh, because the loop clock their state was written in is gone.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Self, TypeVar, final

import anyio
import anyio.abc

from mintgate.policy import RefreshConfig, Tick
from mintgate.shell._clock import Clock
from mintgate.shell._driver import BaseDriver, Driver, log_internal
from mintgate.shell._hooks import Hook, MintHook
from mintgate.shell._loop import current_loop, loop_clock
from mintgate.shell._minted import Minted, MintFunction
from mintgate.shell._telemetry import log, log_traceback
from mintgate.shell._wakeups import Wakeups

__all__ = ["Host"]

V = TypeVar("V")

_RETRY_AFTER_BUG = 1.0  # a wake-up that failed with a bug of ours is retried this much later


def _not_open() -> float:
    raise RuntimeError("the host is not open")


@final
class Host:
    """Runs many credentials in one task group with one timer.

    Use it as an async context manager, and add credentials to it; each is a :class:`Driver`
    with the surface of a ``RefreshingProvider``::

        async with Host() as host:
            billing = host.add(billing_mint, name="billing-api")
            search = host.add(search_mint, name="search-api")
            token = await billing.token()

    Leaving the block cancels the timer and every mint in flight, and the drivers stop running
    (each is started afresh if the host is opened again). A host belongs to the event loop that
    opened it.

    Args:
        rng: Where every driver's jitter draws come from (a seeded ``random.Random`` in tests).
        clock: The wall clock beside the loop's, and the one place that converts between them,
            for every driver of the host.
    """

    __slots__ = (
        "_clock_offset",
        "_drivers",
        "_label",
        "_loop",
        "_raw_clock",
        "_task_group",
        "_timer",
        "_wakeups",
        "clock",
        "rng",
    )

    def __init__(self, *, rng: random.Random | None = None, clock: Clock | None = None) -> None:
        self.rng = random.Random() if rng is None else rng
        self.clock = Clock() if clock is None else clock
        self._label = "Host"  # how errors name it: a provider's host names the provider
        self._drivers: dict[BaseDriver[Any], None] = {}  # insertion-ordered set
        self._wakeups: Wakeups[BaseDriver[Any]] = Wakeups()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._loop: object | None = None
        self._timer: anyio.CancelScope | None = None
        self._raw_clock: Callable[[], float] = _not_open
        self._clock_offset = 0.0

    def __repr__(self) -> str:
        state = "open" if self._task_group is not None else "closed"
        return f"<Host {state}, {len(self._drivers)} credentials>"

    def __len__(self) -> int:
        """How many credentials the host holds."""
        return len(self._drivers)

    def add(
        self,
        mint: MintFunction[V],
        *,
        config: RefreshConfig | None = None,
        name: str = "credential",
        hooks: Iterable[Hook | MintHook] = (),
        known: Minted[V] | None = None,
    ) -> Driver[V]:
        """Host one more credential; it runs at once if the host is open, else when it opens.

        The arguments are ``RefreshingProvider``'s (``rng`` and ``clock`` are the host's).
        """
        driver: Driver[V] = Driver(self, mint, config=config, name=name, hooks=hooks, known=known)
        self._hold(driver)
        return driver

    def remove(self, driver: Driver[Any]) -> None:
        """Stop hosting ``driver``: its mint in flight is cancelled (parked callers get the
        token if one is still usable, else ``UNAVAILABLE``), its subscriptions end, and any
        further call on it raises ``RuntimeError``.

        Raises:
            ValueError: ``driver`` is not this host's.
        """
        if driver not in self._drivers:
            raise ValueError(f"credential {driver.name!r} is not hosted here")
        driver._check_loop()
        del self._drivers[driver]
        driver._detach("the credential was removed from its host", removed=True)
        self._schedule(driver, None)

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        loop = current_loop()
        if self._task_group is not None:
            if loop is not self._loop:
                raise RuntimeError(
                    f"{self._label} is open in another event loop; it serves only the loop "
                    "that opened it (open one per loop)"
                )
            raise RuntimeError(f"this {self._label} is already open")
        self._raw_clock, self._clock_offset = loop_clock()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group, self._loop = task_group, loop
        self._wakeups.clear()
        task_group.start_soon(self._run_timer)
        for driver in list(self._drivers):
            driver._attach()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task_group = self._task_group
        assert task_group is not None
        # Our tasks never fail (each catches and logs its own errors), so nothing but this
        # exit cancels our scope, and the body's exception is never ours. The task group is
        # left as if the body had ended well, so it cannot wrap the body's exception in an
        # ExceptionGroup; the body's exception then leaves the block as itself.
        ours = task_group.cancel_scope.cancel_called
        task_group.cancel_scope.cancel()
        try:
            if exc is None or ours:  # nothing to protect, or a cancellation of our own making
                return await task_group.__aexit__(exc_type, exc, tb)
            try:
                await task_group.__aexit__(None, None, None)
            except BaseException as background:  # the body's exception wins
                if not isinstance(background, anyio.get_cancelled_exc_class()):
                    log.error(
                        "%s: a background task failed (%s) while the body raised %s; the "
                        "body's exception is raised",
                        self._label,
                        type(background).__name__,
                        type(exc).__name__,
                    )
                    log_traceback(self._label, "the background task's failure", background)
            return False
        finally:
            self._close()

    def _close(self) -> None:
        self._timer = None
        for driver in list(self._drivers):
            driver._detach(driver._closed_why)
        self._wakeups.clear()
        self._raw_clock, self._clock_offset = _not_open, 0.0
        self._task_group, self._loop = None, None

    # -- what drivers call -------------------------------------------------------------------

    def _hold(self, driver: BaseDriver[Any]) -> None:
        self._drivers[driver] = None
        if self._task_group is not None:
            driver._check_loop()
            driver._attach()

    def _schedule(self, driver: BaseDriver[Any], wake_at: float | None) -> None:
        """Make ``wake_at`` the driver's next wake time (None: none)."""
        if self._task_group is None:  # closed: each driver's time is reset when it reopens
            driver._wake_at, driver._wake_seq = wake_at, 0
            return
        wakeups = self._wakeups
        wakeups.schedule(driver, wake_at)
        timer = self._timer
        if timer is not None:
            earliest = wakeups.earliest()  # later, too, when the earliest driver moved on
            if earliest != timer.deadline:  # moving it re-registers the deadline with the loop
                timer.deadline = earliest

    async def _run_timer(self) -> None:
        wakeups = self._wakeups
        while True:
            with anyio.CancelScope(deadline=wakeups.earliest()) as scope:
                self._timer = scope
                await anyio.sleep_forever()
            self._timer = None
            now = self._raw_clock() + self._clock_offset
            for driver in wakeups.pop_due(now):  # a step may push its next time: next round
                try:
                    driver._apply(Tick(now))
                except Exception as bug:  # the timer must outlive our own bug...
                    log_internal(driver.name, "a wake-up", bug)
                    self._schedule(driver, now + _RETRY_AFTER_BUG)  # ...without spinning
