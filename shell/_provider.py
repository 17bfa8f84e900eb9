"""RefreshingProvider: one credential with a host of its own.

Most programs keep one or a few credentials fresh: for them, a provider is the driver of one
credential (``_driver``: the core's state, the hot path, parked callers, statistics) and the
host that runs it (``_host``: a task group, the timer, the mint tasks), opened and closed as
one ``async with``. A program with many credentials puts them on one ``Host`` instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import ClassVar, Self, TypeVar, final

from mintgate.policy import RefreshConfig
from mintgate.shell._clock import Clock
from mintgate.shell._driver import BaseDriver
from mintgate.shell._hooks import Hook, MintHook
from mintgate.shell._host import Host
from mintgate.shell._minted import Minted, MintFunction

__all__ = ["RefreshingProvider"]

V = TypeVar("V")


def _not_open() -> float:
    raise RuntimeError("use RefreshingProvider inside 'async with' (it owns background work)")


@final
class RefreshingProvider(BaseDriver[V]):
    """Keeps one credential fresh in the background and hands it out fast.

    Use it as an async context manager; it owns its background work, and leaving the block
    cancels the timer and any mint in flight::

        async with RefreshingProvider(mint, name="billing-api") as provider:
            token = await provider.token()

    A provider belongs to the event loop that opened it: using it from another loop (another
    thread) raises ``RuntimeError``. Closed, it can be opened again, in the same loop or a new
    one; it then starts afresh (no token, breaker closed, counters at zero).

    Args:
        mint: ``async def mint() -> Minted``. It may raise ``CredentialError``; anything else it
            raises is a retryable ``UNKNOWN`` error (``TIMEOUT`` for a ``TimeoutError``) whose
            message names the exception's type and its message, cut to 200 characters and
            scrubbed of the secrets the mint declares (an optional ``secrets()``).
        config: The refresh policy.
        name: The credential's name in notices, logs and statistics.
        hooks: Receive every notice of the core (``notice(credential, notice)``) and may wrap
            each mint call (``mint(credential, attempt)``, an async context manager). Whatever a
            hook raises is logged once per hook and kind of call, and ignored.
        rng: Where jitter draws come from (inject a seeded ``random.Random`` in tests).
        clock: The wall clock beside the loop's, and the one place that converts between them
            (an absolute ``Minted.expires_at`` or ``issued_at``, a known token).
        known: A token persisted or shared (another process minted it), installed through the
            core when the provider opens, without calling the mint, if it is still usable; it
            is then refreshed by the usual rules. Its ``expires_at`` and ``issued_at`` are
            wall-clock.
    """

    __slots__ = ()

    _not_running: ClassVar[Callable[[], float]] = staticmethod(_not_open)
    _closed_why: ClassVar[str] = "the provider closed"

    def __init__(
        self,
        mint: MintFunction[V],
        *,
        config: RefreshConfig | None = None,
        name: str = "credential",
        hooks: Iterable[Hook | MintHook] = (),
        rng: random.Random | None = None,
        clock: Clock | None = None,
        known: Minted[V] | None = None,
    ) -> None:
        host = Host(rng=rng, clock=clock)
        host._label = f"RefreshingProvider {name!r}"
        super().__init__(host, mint, config=config, name=name, hooks=hooks, known=known)
        host._hold(self)

    async def __aenter__(self) -> Self:
        await self._host.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._host.__aexit__(exc_type, exc, tb)
