"""Turning a token endpoint's error answer into a :class:`CredentialError`, without I/O.

The policy acts on one question about a failure: retry it (and when), or give up until the
credential or the configuration is replaced. This module answers it from what an HTTP token
endpoint said: the RFC 6749 section 5.2 ``error`` code when the body has one, else the status,
plus ``Retry-After`` (delta-seconds or an HTTP-date, read against a wall-clock ``now`` the caller
passes). An answer that is not an RFC 6749 error object comes from whatever stands in front of
the issuer as often as from the issuer (a proxy's or WAF's page, an STS throttling XML, an empty
404 from a load balancer mid-deploy): apart from 401, such a 4xx is retryable, because giving up
on it for good turns a passing fault into a dead credential. Messages name the status, the
endpoint's host and the error code; the server's ``error_description`` is included only after
:func:`scrub` has cut it short, stripped its control characters and removed every secret the
caller names, so nothing sent to the issuer can come back out in an error message.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Iterable, Mapping

from mintgate.policy._errors import CredentialError, ErrorKind

__all__ = ["classify_http", "parse_retry_after", "scrub"]

RETRY_AFTER_CAP = 86_400.0
"""A ``Retry-After`` longer than a day is read as a day: an issuer cannot park us for longer."""

SCRUB_LIMIT = 200
"""Characters of foreign text (a server's description, an exception's message) kept in a message."""

SCRUB_PREFIX = 8
"""A secret's echoed prefix this long or longer is redacted too (shorter ones would redact
ordinary words)."""

_REDACTED = "[redacted]"

_WRONG_URL = frozenset({404, 405, 410})

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
    host: str | None = None,
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
        host: The token endpoint's host name, when known: the message names it.

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
        kind = _kind_of_status(status, oauth_body=code is not None)
    retry_after = parse_retry_after(_header(headers, "retry-after"), now=now)
    if not _retry_after_applies(kind):
        retry_after = None

    message = "token endpoint answered"
    if host:
        message = f"token endpoint {_UNPRINTABLE.sub('?', host)[:100]} answered"
    message += f" HTTP {status}"
    if code is not None:
        message += f" with error {scrub(code, secrets)!r}"
        if description:
            message += f": {scrub(description, secrets)}"
    elif body:
        message += " with a body that is not an OAuth2 error object"
    else:
        message += " with an empty body"
    if code is None and status in _WRONG_URL:
        message += " (check token_url)"
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


def _kind_of_status(status: int, *, oauth_body: bool) -> ErrorKind:
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status == 408:
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.UNAVAILABLE
    if status == 401:
        return ErrorKind.REAUTH_REQUIRED
    if 400 <= status < 500:
        # The issuer itself says "your request is wrong" only in an RFC 6749 error object. A bare
        # 403 or 404, a WAF's page or an STS <Throttling> is as likely a passing fault of what
        # stands in front of it: retry it (with backoff, the breaker and Retry-After).
        return ErrorKind.CONFIGURATION if oauth_body else ErrorKind.UNAVAILABLE
    if 300 <= status < 400:
        # Token requests never follow redirects: a redirect means token_url is wrong.
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


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Foreign text made fit for an error message: every secret named is replaced by
    ``[redacted]``, and so is any echoed prefix of one that is :data:`SCRUB_PREFIX` characters
    or longer (a server that cuts what it echoes still leaks what it kept); characters outside
    printable ASCII become ``?``, and the result is cut to :data:`SCRUB_LIMIT` characters."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
        if len(secret) >= SCRUB_PREFIX:
            text = _redact_prefixes(text, secret)
    text = _UNPRINTABLE.sub("?", text)
    if len(text) > SCRUB_LIMIT:
        text = text[: SCRUB_LIMIT - 3] + "..."
    return text


def _redact_prefixes(text: str, secret: str) -> str:
    """Replace each run of ``text`` that is a prefix of ``secret`` at least SCRUB_PREFIX long."""
    head = secret[:SCRUB_PREFIX]
    parts: list[str] = []
    start = 0
    while (found := text.find(head, start)) >= 0:
        end = found + SCRUB_PREFIX
        while end < len(text) and end - found < len(secret) and text[end] == secret[end - found]:
            end += 1
        parts += [text[start:found], _REDACTED]
        start = end
    parts.append(text[start:])
    return "".join(parts)
