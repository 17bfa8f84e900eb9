"""Committed sections: the part of a mint that must not be abandoned once it has started.

A refresh with a rotating refresh token spends a secret: from the moment the old refresh token
is sent until the answer (and the new refresh token in it) is persisted, cutting the mint off
loses the grant, and sending the old token again looks like reuse to a strict issuer, which
revokes the whole grant. So a mint runs that part as ``await committed(fn, bound=...)``:

- it runs in the provider's task group, shielded from the mint's own cancellation, bounded by
  its own deadline (``bound`` seconds), and the mint awaits its result;
- at ``mint_timeout`` the core still hears ``TIMEOUT`` on time: the mint is cut off, the
  committed part is not;
- the next attempt's mint call for that credential waits until the committed part has ended
  (inside that attempt's own ``mint_timeout``), so it uses whatever the committed part persisted;
- when the provider closes it waits for the committed part up to its bound, then abandons it and
  logs that it did.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.abc

from mintgate.shell._telemetry import log

__all__ = ["CommittedSections", "committed"]

T = TypeVar("T")


class CommittedSections:
    """One credential's committed sections: at most one running at a time, in its host's group."""

    __slots__ = ("_done", "_group", "name")

    def __init__(self, name: str, group: anyio.abc.TaskGroup) -> None:
        self.name = name
        self._group = group
        self._done: anyio.Event | None = None

    async def settled(self) -> None:
        """Wait until no committed section of this credential is running."""
        done = self._done
        if done is not None:
            await done.wait()

    async def run(self, fn: Callable[[], Awaitable[T]], bound: float) -> T:
        await self.settled()
        done = anyio.Event()
        self._done = done
        outcome: list[Any] = []

        async def section() -> None:
            try:
                with anyio.CancelScope(shield=True), anyio.move_on_after(bound) as limit:
                    outcome.append(("value", await fn()))
                if limit.cancelled_caught:
                    log.error(
                        "%s: a committed section ran past its bound of %g s and was abandoned",
                        self.name,
                        bound,
                    )
                    outcome.append(("error", TimeoutError(f"committed section past {bound:g} s")))
            except Exception as error:  # the mint's, if it still waits; else the next attempt
                outcome.append(("error", error))  # sees only what the section persisted
            finally:
                done.set()

        self._group.start_soon(section)
        await done.wait()  # the mint may be cut off here; the section goes on
        kind, value = outcome[0]
        if kind == "error":
            raise value
        result: T = value
        return result


_current: contextvars.ContextVar[CommittedSections | None] = contextvars.ContextVar(
    "mintgate_committed_sections", default=None
)


async def committed(fn: Callable[[], Awaitable[T]], *, bound: float) -> T:
    """Run ``fn()`` as the committed part of the mint that calls it, and return its result.

    Called by a mint that a host runs (a ``RefreshingProvider``, a ``Host``'s driver), ``fn``
    runs in the host's task group, as the module says. Called anywhere else (a mint awaited by
    hand), there is no host to hand it to: ``fn`` runs in the caller's task, still shielded
    from the caller's cancellation and bounded by ``bound``.

    Args:
        fn: The part that must run to its end once started (send the rotating refresh token,
            read the answer, persist the new refresh token).
        bound: Seconds it may take at most; past them it is abandoned (and logged), and the
            caller gets a ``TimeoutError``.

    Raises:
        ValueError: ``bound`` is not a positive finite number.
    """
    if not (isinstance(bound, int | float) and math.isfinite(bound) and bound > 0):
        raise ValueError(f"committed() bound must be a positive number of seconds, got {bound!r}")
    sections = _current.get()
    if sections is not None:
        return await sections.run(fn, bound)
    with anyio.CancelScope(shield=True), anyio.move_on_after(bound):
        return await fn()
    log.error("a committed section ran past its bound of %g s and was abandoned", bound)
    raise TimeoutError(f"committed section past {bound:g} s")


def enter(sections: CommittedSections) -> None:
    """Make ``sections`` the current credential's, for the mint this task is about to call."""
    _current.set(sections)
