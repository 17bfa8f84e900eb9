"""What the core decides: tokens, replies, mint orders, notices and the :class:`Step` holding them.

These are plain immutable values. The shell turns them into effects (serve a caller, park it,
start a mint, wake parked waiters, sleep until ``wake_at``) and hands ``notices`` to telemetry.
No value here ever shows a secret in its ``repr``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar, final

import attrs

from mintgate.policy._errors import CredentialError

if TYPE_CHECKING:
    from mintgate.policy._state import PolicyState

__all__ = [
    "MintReason",
    "MintStart",
    "Notice",
    "NoticeKind",
    "Reject",
    "Reply",
    "Serve",
    "Step",
    "Token",
    "Wait",
]

V = TypeVar("V")


@final
@attrs.frozen
class Token(Generic[V]):
    """An installed credential.

    Args:
        value: The secret itself (hidden from ``repr``).
        expires_at: When it expires on the core's clock, or None if it never does.
        issued_at: When the mint that produced it *started*; its lifetime is
            ``expires_at - issued_at``.
        generation: 1 for the first token installed, one more for each after it.
    """

    value: V = attrs.field(repr=False)
    expires_at: float | None
    issued_at: float
    generation: int


@final
@attrs.frozen
class Serve(Generic[V]):
    """Give the caller this token."""

    token: Token[V]


@final
@attrs.frozen
class Wait:
    """Park the caller until the mint in flight resolves (see ``Step.resolve``)."""


@final
@attrs.frozen
class Reject:
    """Fail the caller with this error."""

    error: CredentialError


Reply = Serve[V] | Wait | Reject


class MintReason(enum.Enum):
    """Why a mint was started."""

    COLD = "cold"
    """No usable token and a caller wants one."""
    PROACTIVE = "proactive"
    """The current token passed its refresh point."""
    RETRY = "retry"
    """A previous mint failed; this is the backoff retry."""
    PROBE = "probe"
    """The circuit breaker's single half-open probe."""
    FORCED = "forced"
    """The current token was invalidated downstream."""


@final
@attrs.frozen
class MintStart:
    """Start a mint now; report its outcome with this ``attempt`` id."""

    attempt: int
    reason: MintReason


class NoticeKind(enum.Enum):
    """The plain facts the core reports for telemetry."""

    REFRESH_SCHEDULED = "refresh_scheduled"
    RETRY_SCHEDULED = "retry_scheduled"
    MINT_STARTED = "mint_started"
    MINT_SUCCEEDED = "mint_succeeded"
    MINT_FAILED = "mint_failed"
    SERVED_STALE = "served_stale"
    BREAKER_OPENED = "breaker_opened"
    BREAKER_HALF_OPEN = "breaker_half_open"
    BREAKER_CLOSED = "breaker_closed"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_INVALIDATED = "token_invalidated"
    INVALIDATION_IGNORED = "invalidation_ignored"
    RESULT_IGNORED = "result_ignored"
    CREDENTIAL_DEAD = "credential_dead"
    CREDENTIAL_SUSPENDED = "credential_suspended"


@final
@attrs.frozen
class Notice:
    """One fact for telemetry. Never carries a secret.

    Args:
        kind: What happened.
        at: The ``now`` of the step that reported it.
        attempt: The mint attempt concerned, if any.
        reason: Why a mint started (``MINT_STARTED``).
        generation: The token generation concerned, if any.
        error: The error concerned (``MINT_FAILED``, ``REAUTH_REQUIRED``).
        when: A time this notice announces: the refresh or retry point, the breaker's half-open
            time, the end of the stale period, a suspension's re-check.
    """

    kind: NoticeKind
    at: float
    attempt: int | None = None
    reason: MintReason | None = None
    generation: int | None = None
    error: CredentialError | None = None
    when: float | None = None


class Step(NamedTuple, Generic[V]):
    """The result of one :func:`~mintgate.policy.step`.

    Attributes:
        state: The new state; the given one is never mutated.
        reply: For a ``Demand``, exactly one of ``Serve``, ``Wait`` or ``Reject``; None for any
            other event.
        start_mint: Start this mint now, or None.
        resolve: What every parked waiter gets now that a mint resolved, or None.
        wake_at: When the shell must next deliver a ``Tick``, or None if no wake-up is needed.
        notices: Facts for telemetry, in the order they happened.
    """

    state: PolicyState[V]
    reply: Serve[V] | Wait | Reject | None
    start_mint: MintStart | None
    resolve: Serve[V] | Reject | None
    wake_at: float | None
    notices: tuple[Notice, ...]
