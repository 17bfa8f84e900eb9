"""Turning a token endpoint's error answer into a :class:`CredentialError`, without I/O.

The policy acts on one question about a failure: retry it (and when), or give up until the
credential or the configuration is replaced. This module answers it from what an HTTP token
endpoint said: the RFC 6749 section 5.2 ``error`` code when the body has one, else the status,
plus ``Retry-After`` (delta-seconds or an HTTP-date, read against a wall-clock ``now`` the caller
passes). Messages name the status and the error code; the server's ``error_description`` is
included only after it is cut short, stripped of control characters and scrubbed of every
secret the caller names, so nothing sent to the issuer can come back out in an error message.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Iterable, Mapping

from mintgate.policy._errors import CredentialError, ErrorKind

__all__ = ["classify_http", "parse_retry_after"]

RETRY_AFTER_CAP = 86_400.0
"""A ``Retry-After`` longer than a day is read as a day: an issuer cannot park us for longer."""

_DESCRIPTION_LIMIT = 200

_OAUTH_CODES: dict[str, ErrorKind] = {
    "invalid_grant": ErrorKind.REAUTH_REQUIRED,
    "invalid_client": ErrorKind.REAUTH_REQUIRED,
    "invalid_request": ErrorKind.CONFIGURATION,
    "unauthorized_client": ErrorKind.CONFIGURATION,
    "unsupported_grant_type": ErrorKind.CONFIGURATION,
    "invalid_scope": ErrorKind.CONFIGURATION,
    "invalid_target": ErrorKind.CONFIGURATION,  # RFC 8707 resource indicators
    "temporarily_unavailable": ErrorKind.UNAVAILABLE,
    "server_error": ErrorKind.UNAVAILABLE,
    "slow_down": ErrorKind.RATE_LIMITED,
}

# RFC 6749 section 5.2: error codes are printable ASCII without '"' and '\'.
_CODE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def classify_http(
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes | str | None,
    *,
    now: float,
    secrets: Iterable[str] = (),
) -> CredentialError:
    """Classify a token endpoint's error answer.

    Args:
        status: The HTTP status code.
        headers: The response headers (any case).
        body: The response body, if any.
        now: The current wall-clock time (seconds since the epoch), to read a ``Retry-After``
            given as an HTTP-date.
        secrets: Strings that must never appear in the message (client secret, refresh token,
            assertion); they are replaced by ``[redacted]`` wherever the server echoed them.

    Returns:
        The error: its kind says whether to retry, its ``retry_after`` when.

    Raises:
        ValueError: ``status`` is not an HTTP status code, or is a success without an
            ``error`` field (that is not an error answer).
    """
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code (100-599), got {status!r}")
    code, description = _oauth_error(body)
    if 200 <= status < 300 and code is None:
        raise ValueError(f"HTTP {status} without an 'error' field is not an error answer")

    kind = _OAUTH_CODES.get(code) if code is not None else None
    if kind is None:
        kind = _kind_of_status(status)
    retry_after = parse_retry_after(_header(headers, "retry-after"), now=now)
    if not _retry_after_applies(kind):
        retry_after = None

    message = f"token endpoint answered HTTP {status}"
    if code is not None:
        message += f" with error {_scrub(code, secrets)!r}"
        if description:
            message += f": {_scrub(description, secrets)}"
    elif body:
        message += " with a body that is not an OAuth2 error object"
    else:
        message += " with an empty body"
    return CredentialError(kind=kind, message=message, retry_after=retry_after)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or None if absent or unreadable.

    Accepts delta-seconds (``"120"``) and an HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``),
    the latter read against the wall-clock ``now``. A date in the past means 0; anything longer
    than :data:`RETRY_AFTER_CAP` is capped to it.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit() also accepts "²" and other digits
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110: HTTP-dates are always GMT.
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _retry_after_applies(kind: ErrorKind) -> bool:
    return kind in (ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.UNKNOWN)


def _kind_of_status(status: int) -> ErrorKind:
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status == 408:
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.UNAVAILABLE
    if status == 401:
        return ErrorKind.REAUTH_REQUIRED
    if 300 <= status < 500:
        # 403 (the client may not use this endpoint), 404 (wrong URL), 3xx (token requests
        # never follow redirects): a person has to fix the setup; retrying cannot help.
        return ErrorKind.CONFIGURATION
    return ErrorKind.UNKNOWN


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name:
            return value
    return None


def _oauth_error(body: bytes | str | None) -> tuple[str | None, str | None]:
    """The RFC 6749 ``error`` code and ``error_description`` of a body, when it has them."""
    if not body:
        return None, None
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, None
    if not isinstance(document, dict):
        return None, None
    code = document.get("error")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        return None, None
    description = document.get("error_description")
    return code, description if isinstance(description, str) else None


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _UNPRINTABLE.sub("?", text)
    if len(text) > _DESCRIPTION_LIMIT:
        text = text[: _DESCRIPTION_LIMIT - 3] + "..."
    return text
