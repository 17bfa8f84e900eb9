"""The shell's logging and statistics: stdlib logging of notices, and the snapshot types.

Notices are plain facts (a mint started, the breaker opened, a token expired) and never carry a
secret, so they can be handed to any telemetry system as they are. Logging goes to
``mintgate.shell`` with only a ``NullHandler``: the application decides where it ends up. Both
reach the provider as hooks (``mintgate.shell._hooks``).
"""

from __future__ import annotations

import enum
import logging
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, final

import attrs

from mintgate.policy import ErrorKind, Notice, NoticeKind

if TYPE_CHECKING:
    from mintgate.shell._hooks import CredentialInfo

__all__ = [
    "BreakerState",
    "Counters",
    "LastError",
    "ProviderStatistics",
    "log",
    "log_notice",
    "log_traceback",
]

log = logging.getLogger("mintgate.shell")
log.addHandler(logging.NullHandler())

_LEVELS = {
    NoticeKind.MINT_FAILED: logging.WARNING,
    NoticeKind.BREAKER_OPENED: logging.WARNING,
    NoticeKind.TOKEN_EXPIRED: logging.WARNING,
    NoticeKind.CREDENTIAL_DEAD: logging.ERROR,
    NoticeKind.CREDENTIAL_SUSPENDED: logging.ERROR,
}


def log_traceback(
    credential: str, what: str, raised: BaseException, secrets: Iterable[str] = ()
) -> None:
    """A traceback at DEBUG, as formatted text (no frame locals, no ``exc_info`` for a handler
    to dig into), with every string of ``secrets`` redacted."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    text = "".join(traceback.format_exception(raised)).rstrip()
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    log.debug("%s: %s:\n%s", credential, what, text)


def log_notice(credential: str, notice: Notice) -> None:
    """Log one notice at a level that fits it (failures warn, a dead credential is an error)."""
    level = _LEVELS.get(notice.kind, logging.DEBUG)
    if not log.isEnabledFor(level):
        return
    details = []
    if notice.attempt is not None:
        details.append(f"attempt={notice.attempt}")
    if notice.reason is not None:
        details.append(f"reason={notice.reason.value}")
    if notice.generation is not None:
        details.append(f"generation={notice.generation}")
    if notice.when is not None:  # a duration: the loop clock's readings mean nothing outside
        details.append(f"in={notice.when - notice.at:.3f}s")
    if notice.error is not None:
        details.append(f"error={notice.error}")
    log.log(level, "%s: %s %s", credential, notice.kind.value, " ".join(details))


@final
class Counters:
    """The statistics' counters, kept by a hook that reads the notices (and, for
    ``served_after_failure``, by the provider's slow path). One per opening."""

    __slots__ = (
        "failed",
        "last_error",
        "last_success",
        "served_after_failure",
        "served_past_expiry",
        "started",
        "succeeded",
        "wall",
    )

    def __init__(self, wall: Callable[[], float]) -> None:
        self.wall = wall
        self.started = self.succeeded = self.failed = 0
        self.served_after_failure = self.served_past_expiry = 0
        self.last_error: LastError | None = None
        self.last_success: float | None = None

    def notice(self, credential: CredentialInfo, notice: Notice) -> None:
        kind = notice.kind
        if kind is NoticeKind.MINT_STARTED:
            self.started += 1
        elif kind is NoticeKind.SERVED_STALE:
            self.served_past_expiry += 1
        elif kind is NoticeKind.MINT_SUCCEEDED:
            self.succeeded += 1
            self.last_success = self.wall()
        elif kind is NoticeKind.MINT_FAILED:
            self.failed += 1
            error = notice.error
            if error is not None:
                self.last_error = LastError(error.kind, error.message, self.wall())


class BreakerState(enum.StrEnum):
    """The circuit breaker, as a health check sees it (equal to its string value)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    """The cooldown is over: the next attempt is the probe."""


@final
@attrs.frozen
class LastError:
    """The newest failed attempt: what a health check shows. Holds no secret (the message is
    the fresh, scrubbed one every failure becomes).

    Attributes:
        kind: What went wrong.
        message: Why, as the error says it.
        at: When, as a wall-clock Unix time.
    """

    kind: ErrorKind
    message: str
    at: float


@final
@attrs.frozen
class ProviderStatistics:
    """A snapshot of one provider, for dashboards and health checks. Holds no secret; every
    instant is wall-clock Unix time, every other time a duration.

    Attributes:
        name: The credential's name.
        generation: The generation of the newest token installed (0 before the first).
        seconds_to_expiry: Seconds until the current token expires, None without one or for a
            token that never expires; negative once it has expired.
        breaker: ``closed``, ``open`` or ``half_open`` (the cooldown is over).
        consecutive_failures: Failed attempts since the last success (or suspension).
        dead: The credential needs replacing (a reauthentication error); ``replace()`` it.
        suspended: A configuration error suspended minting until one re-check
            ``breaker_cooldown_cap`` later; an operator's fix at the issuer heals it.
        callers_waiting: Callers parked on the mint in flight now.
        attempt_in_flight: The attempt id of the mint in flight, or None.
        next_wake_up: When the provider next acts by itself (a refresh, a retry, a probe, the
            token's end), or None.
        last_error: The newest failed attempt since the provider opened, or None.
        last_success: When the newest token was installed, or None.
        mints_started: Mints started since the provider opened.
        mints_succeeded: Mints that installed a token (an adopted known token included).
        mints_failed: Mints that failed (timeouts included).
        served_after_failure: Callers served a usable token while the latest attempt had
            failed: the failures the cache absorbed.
        served_past_expiry: Callers served a token inside its stale grace (past the usable
            point its margins set, up to ``stale_grace`` past its expiry).
    """

    name: str
    generation: int
    seconds_to_expiry: float | None
    breaker: BreakerState
    consecutive_failures: int
    dead: bool
    suspended: bool
    callers_waiting: int
    attempt_in_flight: int | None
    next_wake_up: float | None
    last_error: LastError | None
    last_success: float | None
    mints_started: int
    mints_succeeded: int
    mints_failed: int
    served_after_failure: int
    served_past_expiry: int
