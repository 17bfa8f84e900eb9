"""Test your own configuration and mint the way mintgate tests its own.

- :class:`FakeMint`: a scripted mint with latency, lifetimes, failures and hangs, that records
  every call and the most mints it saw in flight at once.
- :class:`RecordingHook`: a ``Hook`` that keeps every notice.
- :class:`PlainCipher`: a ``Cipher`` that binds sealed bytes to their associated data but
  hides nothing: for tests of stores, never for secrets.
- The core's tools, re-exported: :class:`Script` (drive the pure core by hand),
  :class:`InvariantChecker` (the contract's invariants as a reusable check),
  :func:`outage_attempt_bound`, :func:`check_scenario`.
- :class:`VirtualTimeEventLoop`: asyncio in virtual time, as trio's ``MockClock`` gives trio.
- Hypothesis strategies live in :mod:`mintgate.shell.strategies` (``pip install
  'mintgate[testing]'``); pytest fixtures come from the plugin :mod:`mintgate.shell.pytest_plugin`,
  which pytest loads by itself once mintgate is installed.

See ``docs/testing.md`` for a complete example.
"""

from __future__ import annotations

import asyncio
import hashlib
import selectors
from collections.abc import Callable
from typing import final

import anyio

from mintgate.policy import CredentialError, ErrorKind, Notice, NoticeKind
from mintgate.policy.testing import (
    InvariantChecker,
    InvariantViolation,
    Script,
    check_scenario,
    outage_attempt_bound,
)
from mintgate.shell._hooks import CredentialInfo
from mintgate.shell._minted import Minted

__all__ = [
    "HANG",
    "FakeMint",
    "InvariantChecker",
    "InvariantViolation",
    "Outcome",
    "PlainCipher",
    "RecordingHook",
    "Script",
    "VirtualTimeEventLoop",
    "check_scenario",
    "outage_attempt_bound",
    "unavailable",
]

HANG = "hang"
"""An outcome: the mint never answers (the provider's ``mint_timeout`` must cut it)."""

Outcome = CredentialError | str | None
"""What one call of a :class:`FakeMint` does: succeed (None), raise the error, or ``HANG``."""


def unavailable(call: int = 0) -> CredentialError:
    """The error of a token endpoint that answers 503 (usable as ``FakeMint.outcome``)."""
    return CredentialError(kind=ErrorKind.UNAVAILABLE, message="token endpoint answered HTTP 503")


@final
class FakeMint:
    """A scripted ``async def mint() -> Minted[str]`` for tests.

    Each call sleeps ``latency`` seconds (on the loop's clock, so virtual time works) and then
    does what ``outcome(call_number)`` says: returns a token ``"token-N"`` living ``lifetime``
    seconds (None: never expires), raises the ``CredentialError`` it returns, or hangs.

    Args:
        lifetime: Lifetime of each token, from when the mint started.
        latency: Seconds each call takes.
        outcome: Call number (1, 2, ...) -> outcome; None always succeeds. Replace it at any
            time to start or end an outage.

    Attributes:
        calls: Calls so far. ``started_at``: the loop time each call started.
        in_flight: Calls running now. ``max_in_flight``: the most ever running at once (a
            single-flight check: it must stay 1).
    """

    def __init__(
        self,
        *,
        lifetime: float | None = 3600.0,
        latency: float = 0.05,
        outcome: Callable[[int], Outcome] | None = None,
    ) -> None:
        self.lifetime = lifetime
        self.latency = latency
        self.outcome = outcome
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.started_at: list[float] = []

    async def __call__(self) -> Minted[str]:
        self.calls += 1
        call = self.calls
        self.started_at.append(anyio.current_time())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            outcome = None if self.outcome is None else self.outcome(call)
            if outcome == HANG:
                await anyio.sleep_forever()
            await anyio.sleep(self.latency)
            if isinstance(outcome, CredentialError):
                raise outcome
            return Minted(f"token-{call}", expires_in=self.lifetime)
        finally:
            self.in_flight -= 1


@final
class RecordingHook:
    """A ``Hook`` that keeps every notice it is given, with the credential it concerns.

    Attributes:
        seen: ``(credential, notice)`` pairs, oldest first.
    """

    def __init__(self) -> None:
        self.seen: list[tuple[CredentialInfo, Notice]] = []

    def notice(self, credential: CredentialInfo, notice: Notice) -> None:
        self.seen.append((credential, notice))

    def notices(self, kind: NoticeKind | None = None) -> list[Notice]:
        """The notices seen, of one kind or of all."""
        return [n for _, n in self.seen if kind is None or n.kind is kind]

    def kinds(self) -> list[NoticeKind]:
        """The kind of each notice seen, in order."""
        return [n.kind for _, n in self.seen]


class _JumpingSelector(selectors.DefaultSelector):
    """Polls for I/O without blocking; when none is ready, jumps the loop's clock to the next
    timer instead of sleeping until it."""

    loop: VirtualTimeEventLoop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only I/O can wake the loop
            blocked: list[tuple[selectors.SelectorKey, int]] = super().select(None)
            return blocked
        self.loop.advance(timeout)
        return []


@final
class VirtualTimeEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on a virtual clock that jumps to the next timer whenever nothing is ready.

    Real I/O still works (it is polled first); only waiting for timers is skipped, so an hour
    of refreshes runs in milliseconds. Use it with anyio as
    ``("asyncio", {"loop_factory": VirtualTimeEventLoop})`` (the plugin's
    ``virtual_asyncio_backend`` fixture), or with ``asyncio.Runner(loop_factory=...)``.

    Args:
        start: The clock's first reading; not 0, as real clocks never are.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        selector = _JumpingSelector()
        self._virtual_now = start
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward."""
        self._virtual_now += seconds


class CipherRefused(ValueError):
    """``PlainCipher.open`` of bytes it did not seal with this associated data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@final
class PlainCipher:
    """A ``Cipher`` for tests: INSECURE by name, the plaintext is stored as it is.

    It does bind what it seals to the associated data (a SHA-256 of it leads the bytes), so a
    sealed state copied to another record, or a record moved to another scope, fails to open
    as it would under a real cipher: tests of a store's bindings need no key.
    """

    _MAGIC = b"mintgate-plain-v1:"

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return self._MAGIC + hashlib.sha256(associated_data).digest()[:16] + plaintext

    def key_id(self, sealed: bytes) -> str | None:
        return None  # it has no keys

    def open(self, sealed: bytes, associated_data: bytes) -> bytes:
        if not sealed.startswith(self._MAGIC):
            raise CipherRefused("not sealed by PlainCipher")
        body = sealed[len(self._MAGIC) :]
        if body[:16] != hashlib.sha256(associated_data).digest()[:16]:
            raise CipherRefused("sealed for another record, scope, type or version")
        return body[16:]
