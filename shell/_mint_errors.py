"""What a mint's failure becomes before it leaves the provider: an error safe to keep and to show.

A mint's exception is dangerous to keep: its traceback's frames hold the mint's locals (the
refresh token, the request form with ``client_secret``, the raw body), and its ``__cause__`` and
``__context__`` chain holds more of the same. So nothing the mint raised is kept or handed on.
Every failure becomes a fresh :class:`~mintgate.policy.CredentialError` with no traceback and no
chain: a ``CredentialError`` the mint raised is copied by value; any other exception is described
by its type and its message, cut and scrubbed (:func:`~mintgate.policy.scrub`) of every secret
the mint declares through an optional ``secrets()`` and of the token the provider holds. The
original traceback goes only to the DEBUG log (:func:`~mintgate.shell._telemetry.log_traceback`).
"""

from __future__ import annotations

from collections.abc import Iterable

from mintgate.policy import CredentialError, ErrorKind, scrub
from mintgate.shell._telemetry import log

__all__ = ["declared_secrets", "describe", "detached"]


def detached(error: CredentialError) -> CredentialError:
    """An equal error without the traceback, ``__cause__`` or ``__context__`` of the original."""
    return CredentialError(kind=error.kind, message=error.message, retry_after=error.retry_after)


def declared_secrets(mint: object, extra: Iterable[object] = ()) -> tuple[str, ...]:
    """The strings the mint says must never be shown (its optional ``secrets()``), plus
    ``extra`` (the provider's token value). A ``secrets()`` that raises declares nothing."""
    found: list[str] = [value for value in extra if isinstance(value, str) and value]
    declare = getattr(mint, "secrets", None)
    if callable(declare):
        try:
            found.extend(value for value in declare() if isinstance(value, str) and value)
        except Exception:  # a broken declaration must not hide the mint's own failure
            log.debug("the mint's secrets() raised; its failure is scrubbed of the token only")
    # Longest first, so a secret that contains another is redacted whole.
    return tuple(sorted(set(found), key=len, reverse=True))


def describe(raised: BaseException, secrets: Iterable[str]) -> CredentialError:
    """A retryable error naming what the mint raised: its type and its scrubbed message."""
    try:
        text = str(raised)
    except Exception:  # an exception whose __str__ fails still has a type
        text = ""
    name = type(raised).__name__
    message = (
        f"the mint raised {name}: {scrub(text, secrets)}" if text else f"the mint raised {name}"
    )
    kind = ErrorKind.TIMEOUT if isinstance(raised, TimeoutError) else ErrorKind.UNKNOWN
    return CredentialError(kind=kind, message=message)
