"""``Minted``: what a mint returns, and the shape of a known token a credential opens with.

Its instants are wall-clock (they come from an issuer or from another process); the driver
converts them to the loop's clock through the host's ``Clock`` when they enter the core.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Generic, TypeVar, final

import attrs

from mintgate.shell._clock import unix_time

__all__ = ["MintFunction", "Minted"]

V = TypeVar("V")


def _expiry(value: float | datetime | None) -> float | None:
    return None if value is None else unix_time("Minted.expires_at", value)


def _issue(value: float | datetime | None) -> float | None:
    return None if value is None else unix_time("Minted.issued_at", value)


@final
@attrs.frozen
class Minted(Generic[V]):
    """What a mint function returns, and a known token a provider is opened with.

    Args:
        value: The credential (hidden from ``repr``).
        expires_in: Lifetime in seconds, counted from when the mint started.
        expires_at: Absolute expiry, wall-clock: a Unix time or a timezone-aware ``datetime``
            (for example AWS's ``Expiration``). Give at most one of the two; neither means it
            never expires.
        issued_at: When the token was issued, wall-clock, if the mint knows it was earlier than
            this attempt (a token from a shared cache, a JWT's ``iat``); it sets the lifetime
            the refresh point is drawn from.
    """

    value: V = attrs.field(repr=False)
    expires_in: float | None = None
    expires_at: float | None = attrs.field(default=None, converter=_expiry)
    issued_at: float | None = attrs.field(default=None, converter=_issue)

    def __attrs_post_init__(self) -> None:
        if self.expires_in is not None and self.expires_at is not None:
            raise ValueError("Minted takes expires_in or expires_at, not both")
        value = self.expires_in
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (number and math.isfinite(value)):
            raise ValueError(f"Minted.expires_in must be a finite number of seconds, got {value!r}")


MintFunction = Callable[[], Awaitable[Minted[V]]]
"""``async def mint() -> Minted``. It may also offer ``secrets() -> Iterable[str]`` (a method, or
an attribute of the function): those strings are scrubbed from every message built from what it
raises."""
