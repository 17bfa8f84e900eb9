"""A scripted fake mint for the shell's tests: latencies, failures, hangs, lifetimes."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from mintgate.policy import CredentialError, ErrorKind
from mintgate.shell import Minted


class FakeMint:
    """``await mint()`` after ``latency`` seconds: a token of ``lifetime``, or what ``fail`` says.

    Attributes:
        calls: Mints started. ``in_flight``/``max_in_flight``: concurrency seen.
        fail: None to succeed, else a function of the call number returning the error to raise
            (or ``"hang"`` to never answer).
    """

    def __init__(self, *, lifetime: float | None = 3600.0, latency: float = 0.05) -> None:
        self.lifetime = lifetime
        self.latency = latency
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail: Callable[[int], CredentialError | str | None] | None = None
        self.started_at: list[float] = []

    async def __call__(self) -> Minted[str]:
        self.calls += 1
        call = self.calls
        self.started_at.append(anyio.current_time())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            outcome = None if self.fail is None else self.fail(call)
            if outcome == "hang":
                await anyio.sleep_forever()
            await anyio.sleep(self.latency)
            if isinstance(outcome, CredentialError):
                raise outcome
            return Minted(f"token-{call}", expires_in=self.lifetime)
        finally:
            self.in_flight -= 1


def unavailable(_: int) -> CredentialError:
    return CredentialError(kind=ErrorKind.UNAVAILABLE, message="token endpoint answered HTTP 503")
