"""Strict parsing of an OAuth2 token endpoint's answer (RFC 6749 section 5.1) into a Result.

A token response is untrusted input: a proxy's HTML error page, a JSON array, a 200 that carries
an ``error``, a negative or absurd ``expires_in``, a body of megabytes. Every one of them becomes a
``CredentialError`` that names what was wrong (the field, the status, the content type) and never
echoes a value that could be a secret. Error answers are classified by the core's
:func:`~mintgate.policy.classify_http`, so ``invalid_grant`` stops retries and ``Retry-After`` is
respected.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from typing import final

import attrs
from returns.result import Failure, Result, Success

from mintgate.policy import CredentialError, ErrorKind, classify_http

__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_BODY_BYTES",
    "MAX_LIFETIME",
    "TokenResponse",
    "parse_token_response",
]

DEFAULT_LIFETIME = 3600.0
"""Seconds a token is assumed to live when the response has no ``expires_in``: RFC 6749 leaves
it to the server's documentation; an hour is the common case, and a token that dies sooner is
caught by the 401 it causes (``BearerAuth`` invalidates it)."""

MAX_LIFETIME = 366 * 86400.0
"""An ``expires_in`` above a year is taken for a bug (milliseconds, an absolute time): refused."""

MAX_BODY_BYTES = 64 * 1024
"""A token response larger than this is refused unread: real ones are a few kilobytes."""

Headers = Mapping[str, str] | Iterable[tuple[str, str]]

log = logging.getLogger("mintgate.adapters")
log.addHandler(logging.NullHandler())

_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")
"""What an access token may hold: it goes into an ``Authorization`` header, where CR, LF, NUL,
other controls and non-ASCII are refused (httpx's error would then carry the whole token)."""

_JWT = re.compile(r"[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*")


@final
@attrs.frozen
class TokenResponse:
    """A successful token response, validated. Secrets are hidden from ``repr``.

    Attributes:
        access_token: The token.
        token_type: As the server spelled it (checked case-insensitively).
        expires_in: Lifetime in seconds from when the request was sent.
        refresh_token: A new refresh token, if the server rotated it.
        scope: The granted scope, if the server said.
        expires_at: The absolute expiry (wall-clock Unix time) when it came from the access
            token's own JWT ``exp`` claim (the response had no ``expires_in``); else None.
    """

    access_token: str = attrs.field(repr=False)
    token_type: str
    expires_in: float
    refresh_token: str | None = attrs.field(default=None, repr=False)
    scope: str | None = None
    expires_at: float | None = None


def _invalid(message: str) -> Failure[CredentialError]:
    return Failure(CredentialError(kind=ErrorKind.INVALID_RESPONSE, message=message))


def _content_type(headers: Headers) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return None


def _lifetime(value: object, default: float, limit: float) -> float | str:
    """Seconds, or the reason ``expires_in`` is refused."""
    if value is None:
        return default
    if isinstance(value, bool):
        return "expires_in is a boolean, not a number of seconds"
    out_of_range = f"expires_in is out of range (above the limit of {limit:g} s)"
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):  # isdigit() alone accepts "²"
            return "expires_in is a string that is not an integer"
        if len(text.lstrip("0")) > 15:  # past any limit; int() of 5,000 digits would raise
            return out_of_range
        value = int(text)
    if isinstance(value, int):
        if value > limit:  # compared as an int: float() of 400 digits would overflow
            return out_of_range
        seconds = float(value)
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return "expires_in is not an integer number of seconds"
        seconds = value
    else:
        return f"expires_in is a {type(value).__name__}, not a number of seconds"
    if seconds <= 0:
        return "expires_in is not positive"
    if seconds > limit:
        return out_of_range
    return seconds


def _jwt_expiry(access_token: str, now: float, limit: float) -> float | str | None:
    """The ``exp`` claim of an access token that is a JWT, read without checking the signature
    (only its lifetime is wanted): the expiry, the reason it is refused (in the past, more than
    ``limit`` ahead), or None when the token is no JWT or its ``exp`` is unreadable."""
    shape = _JWT.fullmatch(access_token)
    if shape is None:
        return None  # an opaque token: the default lifetime, as for any
    try:
        payload = shape.group(1)
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        expires_at = math.nan
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            expires_at = float(exp)  # an int of 400 digits overflows: unreadable
    except (ValueError, binascii.Error, RecursionError, OverflowError):
        expires_at = math.nan
    if not math.isfinite(expires_at):
        log.debug("the access token looks like a JWT without a readable exp; default lifetime")
        return None
    if expires_at <= now:
        return "the access token's JWT exp is in the past"
    if expires_at - now > limit:
        return f"the access token's JWT exp is more than {limit:g} s ahead"
    return expires_at


def parse_token_response(
    status: int,
    headers: Headers,
    body: bytes,
    *,
    now: float,
    token_type: str | None = "bearer",
    default_lifetime: float = DEFAULT_LIFETIME,
    max_lifetime: float = MAX_LIFETIME,
    secrets: Iterable[str] = (),
    host: str | None = None,
) -> Result[TokenResponse, CredentialError]:
    """Validate a token endpoint's answer.

    Args:
        status: The HTTP status.
        headers: The response headers.
        body: The raw body.
        now: Wall-clock Unix time, to read a ``Retry-After`` HTTP-date on an error answer and
            to check a JWT ``exp``.
        token_type: The token type required (case-insensitive); None accepts any.
        default_lifetime: Seconds assumed when ``expires_in`` is absent and the access token
            is no JWT with a readable ``exp`` claim.
        max_lifetime: Largest ``expires_in`` accepted.
        secrets: Strings to scrub from any server text echoed in an error (client secret,
            refresh token, assertion).
        host: The token endpoint's host name: an error answer's message names it.

    Returns:
        ``Success(TokenResponse)``, or ``Failure(CredentialError)`` naming what was wrong.
    """
    secrets = tuple(secrets)
    oversized = len(body) > MAX_BODY_BYTES
    if not 200 <= status < 300:  # an error: status and headers classify it, body or not
        head = body[:MAX_BODY_BYTES]  # a cut page is still "not an OAuth2 error object"
        return Failure(classify_http(status, headers, head, now=now, secrets=secrets, host=host))
    if oversized:
        return _invalid(
            f"token response of {len(body)} bytes is over the {MAX_BODY_BYTES}-byte limit"
        )
    content_type = _content_type(headers)
    if content_type is not None and not (
        content_type == "application/json" or content_type.endswith("+json")
    ):
        return _invalid(f"token response has content type {content_type[:60]!r}, not JSON")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _invalid(f"token response (HTTP {status}) is not valid JSON")
    if not isinstance(document, dict):
        return _invalid(f"token response is a JSON {type(document).__name__}, not an object")
    if document.get("error") is not None:
        try:
            return Failure(
                classify_http(status, headers, body, now=now, secrets=secrets, host=host)
            )
        except ValueError:  # a success whose "error" is no RFC 6749 code
            return _invalid("token response carries an 'error' field that is not an error code")

    access_token = document.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        return _invalid("token response has no access_token (a non-empty string)")
    if not _HEADER_SAFE.fullmatch(access_token):
        at = next(i for i, c in enumerate(access_token) if not " " <= c <= "~")
        return _invalid(
            f"token response has an access_token with a character not allowed in an HTTP "
            f"header (control or non-ASCII, at position {at})"
        )
    kind = document.get("token_type")
    if not isinstance(kind, str) or not kind:
        return _invalid("token response has no token_type (a non-empty string)")
    if token_type is not None and kind.lower() != token_type.lower():
        shown = "".join(c if c.isprintable() else "?" for c in kind[:40])
        return _invalid(f"token response has token_type {shown!r}, expected {token_type!r}")
    expires_at = None
    if document.get("expires_in") is None:
        expiry = _jwt_expiry(access_token, now, max_lifetime)
        if isinstance(expiry, str):
            return _invalid(f"token response refused: {expiry}")
        expires_at = expiry
    if expires_at is not None:
        lifetime: float | str = expires_at - now
    else:
        lifetime = _lifetime(document.get("expires_in"), default_lifetime, max_lifetime)
    if isinstance(lifetime, str):
        return _invalid(f"token response refused: {lifetime}")
    refresh_token = document.get("refresh_token")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        return _invalid("token response has a refresh_token that is not a non-empty string")
    scope = document.get("scope")
    if scope is not None and not isinstance(scope, str):
        return _invalid("token response has a scope that is not a string")
    return Success(TokenResponse(access_token, kind, lifetime, refresh_token, scope, expires_at))
