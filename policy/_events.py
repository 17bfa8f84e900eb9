"""What can happen to a credential: the events the shell feeds into :func:`step`.

Every event carries ``now`` on the one monotonic clock the caller injects; the core never reads
a clock. Randomness enters as data too: the events that end a mint carry a uniform ``draw`` in
``[0, 1)`` that the shell takes from an injected ``random.Random``.
"""

from __future__ import annotations

from typing import Generic, TypeVar, final

import attrs

from mintgate.policy._errors import CredentialError

__all__ = ["Demand", "Event", "Invalidate", "MintFailed", "MintSucceeded", "Tick"]

V = TypeVar("V")


@final
@attrs.frozen
class Demand:
    """A caller wants a token now."""

    now: float


@final
@attrs.frozen
class Tick:
    """A wake-up the core asked for (``Step.wake_at``) has come."""

    now: float


@final
@attrs.frozen
class MintSucceeded(Generic[V]):
    """The mint of ``attempt`` returned a token.

    Args:
        now: When the answer arrived.
        attempt: The attempt id of ``Step.start_mint`` that this answers.
        value: The secret (hidden from ``repr``).
        expires_at: When the token expires on the core's clock, or None for a token that
            never expires (a static key).
        draw: A uniform draw in ``[0, 1)`` for the refresh-point jitter.
        issued_at: When the token was issued, if before this attempt started (a token adopted
            from a store or another process); it sets ``Token.issued_at``, the lifetime and so
            the refresh point. None, or a time not before the attempt's start, means the start.
    """

    now: float
    attempt: int
    value: V = attrs.field(repr=False)
    expires_at: float | None
    draw: float
    issued_at: float | None = None


@final
@attrs.frozen
class MintFailed:
    """The mint of ``attempt`` failed (or the shell cut it off at ``mint_timeout``).

    Args:
        now: When the failure was seen.
        attempt: The attempt id of ``Step.start_mint`` that this answers.
        error: Why it failed.
        draw: A uniform draw in ``[0, 1)`` for the retry-backoff jitter.
    """

    now: float
    attempt: int
    error: CredentialError
    draw: float


@final
@attrs.frozen
class Invalidate:
    """The token of ``generation`` was rejected downstream (an API answered 401)."""

    now: float
    generation: int


Event = Demand | Tick | MintSucceeded[V] | MintFailed | Invalidate
