"""Why a credential could not be had: the one error type the core hands out.

The core never raises for an expected outcome (a mint failed, the breaker is open, the token
expired); it returns a :class:`CredentialError` as a value, and the shell raises the same object
at its edge. It is an ``Exception`` so that it can be raised, and it compares by value so that
replayed steps compare equal.
"""

from __future__ import annotations

import enum
import math
from typing import Any

__all__ = ["CredentialError", "ErrorKind", "forced_refresh_limited", "forced_refresh_wait"]


class ErrorKind(enum.Enum):
    """What went wrong, as far as the refresh policy is concerned."""

    UNAVAILABLE = "unavailable"
    """The issuer could not mint now (5xx, connection refused, ``temporarily_unavailable``)."""
    TIMEOUT = "timeout"
    """The mint did not finish within ``mint_timeout``."""
    RATE_LIMITED = "rate_limited"
    """The issuer asked us to slow down (429, ``slow_down``)."""
    INVALID_RESPONSE = "invalid_response"
    """The issuer answered with something unusable (malformed, or already expired on arrival)."""
    CIRCUIT_OPEN = "circuit_open"
    """The circuit breaker is open after consecutive failures; no mint is attempted until it
    half-opens."""
    REAUTH_REQUIRED = "reauth_required"
    """The credential itself was refused (``invalid_grant``, ``invalid_client``, 401): only
    replacing it helps."""
    CONFIGURATION = "configuration"
    """The request is wrong (``invalid_scope``, ``unsupported_grant_type``, 4xx): only fixing the
    configuration helps."""
    UNKNOWN = "unknown"
    """Anything else; treated as transient."""


_NOT_RETRYABLE = frozenset({ErrorKind.REAUTH_REQUIRED, ErrorKind.CONFIGURATION})


class CredentialError(Exception):
    """A credential could not be provided.

    Args:
        kind: What went wrong.
        message: A human-readable explanation. It must never contain a secret; every message
            mintgate builds names fields and statuses, never values of tokens or keys.
        retry_after: Seconds after which trying again may help, when known.

    Instances compare by ``(kind, message, retry_after)``.
    """

    __slots__ = ("kind", "message", "retry_after")

    kind: ErrorKind
    message: str
    retry_after: float | None

    def __init__(self, *, kind: ErrorKind, message: str, retry_after: float | None = None) -> None:
        if not isinstance(kind, ErrorKind):
            raise TypeError(f"CredentialError kind must be an ErrorKind, not {type(kind).__name__}")
        if not isinstance(message, str):
            raise TypeError(f"CredentialError message must be a str, not {type(message).__name__}")
        if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
            raise ValueError(
                f"CredentialError retry_after must be finite and >= 0, got {retry_after!r}"
            )
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = None if retry_after is None else float(retry_after)

    @property
    def retryable(self) -> bool:
        """Whether trying again, later, may succeed without human action."""
        return self.kind not in _NOT_RETRYABLE

    @property
    def requires_reauth(self) -> bool:
        """Whether the credential must be replaced before anything can succeed."""
        return self.kind is ErrorKind.REAUTH_REQUIRED

    def with_retry_after(self, retry_after: float | None) -> CredentialError:
        """The same error with another ``retry_after``."""
        return CredentialError(kind=self.kind, message=self.message, retry_after=retry_after)

    def _key(self) -> tuple[ErrorKind, str, float | None]:
        return (self.kind, self.message, self.retry_after)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, CredentialError)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"CredentialError(kind={self.kind}, message={self.message!r}, "
            f"retry_after={self.retry_after!r})"
        )

    def __str__(self) -> str:
        suffix = "" if self.retry_after is None else f" (retry after {self.retry_after:g} s)"
        return f"{self.kind.value}: {self.message}{suffix}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.kind, self.message, self.retry_after))


def _rebuild(kind: ErrorKind, message: str, retry_after: float | None) -> CredentialError:
    return CredentialError(kind=kind, message=message, retry_after=retry_after)


_FORCED_REFRESH_LIMITED = (
    "the token was invalidated and forced refreshes are limited to one per forced_min_interval"
)


def forced_refresh_limited(retry_after: float) -> CredentialError:
    """The error of a caller whose token was invalidated within ``forced_min_interval`` of the
    last forced refresh (rule 8): no usable token, and the next forced mint starts in
    ``retry_after`` seconds."""
    return CredentialError(
        kind=ErrorKind.UNAVAILABLE, message=_FORCED_REFRESH_LIMITED, retry_after=retry_after
    )


def forced_refresh_wait(error: CredentialError) -> float | None:
    """Seconds until the next forced refresh may start, if ``error`` is
    :func:`forced_refresh_limited`'s; None for any other error. A client that saw a second 401
    this soon may wait that long and try once more (``BearerAuth`` does)."""
    if error.kind is ErrorKind.UNAVAILABLE and error.message == _FORCED_REFRESH_LIMITED:
        return error.retry_after
    return None
