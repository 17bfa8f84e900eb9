"""OAuth2 mints over httpx for ``RefreshingProvider``: client credentials and refresh tokens.

The mint is the small, dangerous edge: it holds a client secret and talks to a server. So it
insists on ``https`` (loopback excepted, for tests and sidecars), never follows a redirect with
credentials, always has a timeout, reads at most a bounded body, and hands everything the server
said to the strict parser, which names what was wrong without echoing a secret.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import secrets as secrets_module
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import ModuleType, TracebackType
from typing import Literal, Self, final
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import anyio
import attrs
import httpx
from returns.result import Failure

from mintgate.adapters._body import ACCEPT_ENCODING, read_bounded
from mintgate.adapters._token_response import (
    DEFAULT_LIFETIME,
    MAX_BODY_BYTES,
    TokenResponse,
    parse_token_response,
)
from mintgate.policy import CredentialError, ErrorKind
from mintgate.shell import Minted, committed

__all__ = ["ClientCredentials", "ClientCredentialsMint", "RefreshTokenMint"]

AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _jwt() -> ModuleType:
    """PyJWT, which only ``private_key_jwt`` needs (the ``jwt`` extra)."""
    try:
        import jwt  # noqa: PLC0415 - optional: only private_key_jwt needs it
    except ImportError:
        raise ValueError(
            "auth_method='private_key_jwt' needs PyJWT: pip install 'mintgate[jwt]'"
        ) from None
    return jwt


def _check_private_key(private_key: str | None, algorithm: str) -> None:
    """Fail at construction, not at the first mint, on a missing or unusable key."""
    if not private_key:
        raise ValueError("ClientCredentials.private_key is required for private_key_jwt")
    jwt = _jwt()
    try:
        jwt.encode({"probe": True}, private_key, algorithm=algorithm)
    except (ValueError, TypeError, NotImplementedError, jwt.exceptions.PyJWTError) as error:
        raise ValueError(
            f"ClientCredentials.private_key cannot sign {algorithm} ({type(error).__name__}); "
            "give a PEM private key that matches signing_algorithm"
        ) from None


def shown_url(url: str) -> str:
    """The URL as messages and ``repr`` show it: a query string (which may carry an API key or
    a signature) is replaced by ``[redacted]``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "[an unparsable URL]"
    if not parts.query:
        return url
    return urlunsplit(parts._replace(query="[redacted]", fragment=""))


def check_token_url(url: object, *, allow_insecure_http: bool) -> str:
    """The token URL, if it is safe to send credentials to; else a ValueError saying why."""
    if not isinstance(url, str):
        raise ValueError(f"token_url must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        username, password = parts.username, parts.password
    except ValueError:
        raise ValueError("token_url is not a valid URL") from None
    shown = shown_url(url)
    if parts.scheme not in ("https", "http") or not hostname:
        raise ValueError(f"token_url must be an absolute http(s) URL, got {shown!r}")
    if username or password or "@" in parts.netloc:
        raise ValueError("token_url must not carry credentials; use client_id and client_secret")
    if parts.scheme == "http" and not (allow_insecure_http or _is_loopback(hostname)):
        raise ValueError(
            f"token_url must use https (http is allowed only for loopback addresses, or with "
            f"allow_insecure_http=True), got {shown!r}"
        )
    return url


def _seconds(name: str, value: object) -> None:
    """A positive, finite number of seconds, or a ValueError naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"ClientCredentials.{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"ClientCredentials.{name} must be positive and finite, got {value!r}")


def _scope(value: str | Iterable[str] | None) -> str | None:
    """A scope string, or a sequence of scope tokens joined with spaces (RFC 6749 section 3.3)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(
                "ClientCredentials.scope must not be empty (None asks for the default)"
            )
        return value
    if isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
        raise ValueError(
            f"ClientCredentials.scope must be a string or a sequence of strings, got "
            f"{type(value).__name__}"
        )
    tokens = list(value)
    for token in tokens:
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise ValueError(
                f"ClientCredentials.scope holds {token!r}: each scope must be a non-empty "
                "string without spaces"
            )
    if not tokens:
        raise ValueError("ClientCredentials.scope must not be empty (None asks for the default)")
    return " ".join(tokens)


def _extra_repr(extra: Mapping[str, str]) -> str:
    """Form fields by name only: a value may be a secret the caller put there."""
    return "{" + ", ".join(f"{key!r}: ..." for key in extra) + "}"


def sent_forms(value: str) -> tuple[str, ...]:
    """Every form a secret leaves this process in, to scrub from whatever a server echoes: as
    it is, percent-encoded (our form bodies, Basic's pair) and form-encoded with ``+``."""
    return tuple(dict.fromkeys((value, quote(value, safe=""), quote_plus(value))))


@final
@attrs.frozen
class ClientCredentials:
    """How to ask a token endpoint for a client-credentials token. Secrets hidden from repr.

    Args:
        token_url: The token endpoint; ``https`` unless loopback or ``allow_insecure_http``; no
            userinfo. A query string (``?api-version=...``) is sent, and shown as
            ``[redacted]`` in ``repr`` and messages.
        client_id: The client's id.
        client_secret: The client's secret.
        auth_method: ``client_secret_basic`` (default; RFC 6749 section 2.3.1, id and secret
            form-encoded then base64), ``client_secret_post`` (in the form body),
            ``private_key_jwt`` (RFC 7523: a signed assertion; needs ``pip install
            'mintgate[jwt]'``), or ``none`` (a public client: ``client_id`` in the body, no
            secret; refresh grant only).
        private_key: PEM private key for ``private_key_jwt`` (hidden from ``repr``).
        key_id: ``kid`` header of the assertion, when the server needs it to pick the key.
        signing_algorithm: JWS algorithm of the assertion (``RS256``, ``ES256``, ``PS256``...).
        assertion_lifetime: Seconds the assertion is valid (``exp - iat``).
        scope: The scopes to ask for: a space-separated string, or a sequence of scope strings
            (joined with spaces).
        audience: An ``audience`` form field (Auth0 and others).
        resource: RFC 8707 resource indicators, sent as repeated ``resource`` fields.
        extra: More form fields (``repr`` shows their names, never their values).
        timeout: Seconds for the whole request, one deadline from connecting to the last byte
            (8 s by default: below the provider's ``mint_timeout`` of 10 s, so a slow endpoint
            is reported as such, not as a mint the provider cut off).
        token_type: Required token type (case-insensitive); None accepts any.
        default_lifetime: Seconds assumed when the response has no ``expires_in``.
        allow_insecure_http: Allow ``http`` to a non-loopback host (never do this in production).
    """

    token_url: str = attrs.field(repr=shown_url)
    client_id: str
    client_secret: str = attrs.field(default="", repr=False)
    auth_method: AuthMethod = "client_secret_basic"
    scope: str | None = attrs.field(default=None, converter=_scope)
    audience: str | None = None
    resource: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    extra: Mapping[str, str] = attrs.field(factory=dict, repr=_extra_repr)
    timeout: float = 8.0
    token_type: str | None = "bearer"
    default_lifetime: float = DEFAULT_LIFETIME
    allow_insecure_http: bool = False
    private_key: str | None = attrs.field(default=None, repr=False)
    key_id: str | None = None
    signing_algorithm: str = "RS256"
    assertion_lifetime: float = 60.0

    def __attrs_post_init__(self) -> None:
        check_token_url(self.token_url, allow_insecure_http=self.allow_insecure_http)
        if not isinstance(self.client_id, str) or not self.client_id:
            raise ValueError("ClientCredentials.client_id must be a non-empty string")
        if not isinstance(self.client_secret, str):
            raise ValueError("ClientCredentials.client_secret must be a string")
        for name in ("audience", "key_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(
                    f"ClientCredentials.{name} must be a string, got {type(value).__name__}"
                )
        if not all(isinstance(resource, str) and resource for resource in self.resource):
            raise ValueError("ClientCredentials.resource must be non-empty strings")
        if not isinstance(self.extra, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in self.extra.items()
        ):
            raise ValueError("ClientCredentials.extra must map strings to strings")
        methods = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
        if self.auth_method not in methods:
            raise ValueError(
                f"ClientCredentials.auth_method must be one of {', '.join(methods)}, "
                f"got {self.auth_method!r}"
            )
        _seconds("timeout", self.timeout)
        _seconds("default_lifetime", self.default_lifetime)
        if self.auth_method == "private_key_jwt":
            _seconds("assertion_lifetime", self.assertion_lifetime)
            _check_private_key(self.private_key, self.signing_algorithm)
        elif not self.client_secret and self.auth_method != "none":
            raise ValueError("ClientCredentials.client_secret must not be empty")


class HoldsClient:
    """An ``httpx.AsyncClient``: the caller's, left open, or one of its own, which ``aclose()``
    (or ``async with``) closes."""

    def __init__(self, client: httpx.AsyncClient | None) -> None:
        self._owns_client = client is None
        self._client = httpx.AsyncClient() if client is None else client

    async def aclose(self) -> None:
        """Close the client if this object created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _TokenMint(HoldsClient):
    """What both grants share: the client (theirs or ours), the request, the strict parse."""

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        client: httpx.AsyncClient | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client)
        self.credentials = credentials
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.credentials!r})"

    def secrets(self) -> tuple[str, ...]:
        """What is scrubbed from any message built from a server's answer or an exception of
        this mint: each secret in every form it is sent in (raw, percent- and form-encoded, the
        Basic header's base64 of ``id:secret``)."""
        c = self.credentials
        found = [
            form
            for value in (c.client_secret, c.private_key)
            if value
            for form in sent_forms(value)
        ]
        if c.client_secret:
            pairs = (
                f"{quote(c.client_id, safe='')}:{quote(c.client_secret, safe='')}",
                f"{c.client_id}:{c.client_secret}",
            )
            found += [base64.b64encode(pair.encode()).decode() for pair in pairs]
        return tuple(dict.fromkeys(found))

    def _form_and_headers(
        self, grant: list[tuple[str, str]]
    ) -> tuple[list[tuple[str, str]], dict[str, str]]:
        c = self.credentials
        form = list(grant)
        if c.scope is not None:
            form.append(("scope", c.scope))
        if c.audience is not None:
            form.append(("audience", c.audience))
        form.extend(("resource", resource) for resource in c.resource)
        form.extend(c.extra.items())
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if c.auth_method == "client_secret_basic":
            pair = f"{quote(c.client_id, safe='')}:{quote(c.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif c.auth_method == "client_secret_post":
            form += [("client_id", c.client_id), ("client_secret", c.client_secret)]
        elif c.auth_method == "private_key_jwt":
            form += [
                ("client_id", c.client_id),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", self._client_assertion()),
            ]
        else:  # "none": a public client identifies itself only
            form.append(("client_id", c.client_id))
        return form, headers

    def _client_assertion(self) -> str:
        """A fresh RFC 7523 client assertion, signed with the client's private key."""
        jwt = _jwt()
        c = self.credentials
        now = int(self._wall_clock())
        claims = {
            "iss": c.client_id,
            "sub": c.client_id,
            "aud": c.token_url,
            "jti": secrets_module.token_urlsafe(24),
            "iat": now,
            "exp": now + int(c.assertion_lifetime),
        }
        headers = None if c.key_id is None else {"kid": c.key_id}
        return str(
            jwt.encode(claims, c.private_key, algorithm=c.signing_algorithm, headers=headers)
        )

    async def _request(self, grant: list[tuple[str, str]]) -> TokenResponse:
        """POST the grant; the validated response, or a CredentialError naming what was wrong."""
        c = self.credentials
        form, headers = self._form_and_headers(grant)
        # An assertion is a bearer credential while it lives: scrub it like the secret.
        secrets = self.secrets() + tuple(
            shown for key, value in form if key == "client_assertion" for shown in sent_forms(value)
        )
        problem: str | None = None
        status, response_headers, body = 0, [], b""
        try:
            with anyio.move_on_after(c.timeout) as deadline:  # one deadline, not one per phase
                async with self._client.stream(
                    "POST",
                    c.token_url,
                    content=_encode(form),  # our own encoding: RFC 8707 repeats "resource"
                    headers=headers,
                    timeout=None,  # ours above is the deadline; a client's default is per phase
                    follow_redirects=False,  # never re-send credentials where a redirect points
                ) as response:
                    status, response_headers = response.status_code, list(response.headers.items())
                    if response.is_stream_consumed:  # read before us (a mock transport): as is
                        body = response.content[: MAX_BODY_BYTES + 1]
                    else:
                        body, problem = await read_bounded(
                            response.aiter_raw(),
                            response.headers.get("content-encoding"),
                            MAX_BODY_BYTES,
                        )
        except httpx.TimeoutException as error:  # a transport's own timeout, if it has one
            raise CredentialError(
                kind=ErrorKind.TIMEOUT,
                message=f"token endpoint did not answer in time ({type(error).__name__})",
            ) from None
        except httpx.TransportError as error:
            raise CredentialError(
                kind=ErrorKind.UNAVAILABLE,
                message=f"could not reach the token endpoint ({type(error).__name__})",
            ) from None
        if deadline.cancelled_caught:
            raise CredentialError(
                kind=ErrorKind.TIMEOUT,
                message=f"token endpoint did not answer within timeout={c.timeout:g} s",
            )
        if problem is not None and 200 <= status < 300:
            raise CredentialError(
                kind=ErrorKind.INVALID_RESPONSE, message=f"token response refused: {problem}"
            )
        result = parse_token_response(
            status,
            response_headers,
            body,
            now=self._wall_clock(),
            token_type=c.token_type,
            default_lifetime=c.default_lifetime,
            secrets=secrets,
            host=urlsplit(c.token_url).hostname,
        )
        if isinstance(result, Failure):
            raise result.failure()
        return result.unwrap()


def _minted(token: TokenResponse) -> Minted[str]:
    """The mint's answer: an absolute expiry if the token's own ``exp`` gave one."""
    if token.expires_at is not None:
        return Minted(token.access_token, expires_at=token.expires_at)
    return Minted(token.access_token, expires_in=token.expires_in)


@final
class ClientCredentialsMint(_TokenMint):
    """``async def mint() -> Minted[str]`` for the client-credentials grant (RFC 6749 §4.4).

    Pass it to ``RefreshingProvider``. It uses the ``httpx.AsyncClient`` you give it (and leaves it
    open), or one of its own that ``aclose()`` (or ``async with``) closes.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        client: httpx.AsyncClient | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if credentials.auth_method == "none":
            raise ValueError("the client-credentials grant needs client authentication, not 'none'")
        super().__init__(credentials, client=client, wall_clock=wall_clock)

    async def __call__(self) -> Minted[str]:
        return _minted(await self._request([("grant_type", "client_credentials")]))


Rotate = Callable[[str], Awaitable[None]]


@final
class RefreshTokenMint(_TokenMint):
    """``async def mint() -> Minted[str]`` for the refresh-token grant (RFC 6749 §6).

    A refresh spends a secret: once the refresh token is sent, a server that rotates it may have
    revoked it, and a strict one revokes the whole grant when it sees it again (RFC 9700
    section 4.14). So the request and ``on_rotate`` run as a committed section
    (:func:`mintgate.shell.committed`): when the provider cuts the mint off at
    ``mint_timeout`` the core hears ``TIMEOUT`` on time, but the request runs to its end, a
    rotated refresh token is kept and persisted, and the next attempt waits for all that before
    it sends anything. No refresh token is ever sent while an earlier request with it may still
    be on the wire. An access token such a cut-off request brought home is served by the next
    attempt without a request, if it is still fresh.

    When the server rotates the refresh token, ``on_rotate(new_refresh_token)`` is awaited
    *before* the new access token is returned, so it is stored before anything uses the access
    token, and a crash never loses the only valid refresh token. If ``on_rotate`` raises (or
    takes longer than ``persist_timeout``), the mint fails with a retryable error that says so
    (the new refresh token is kept in memory and used next time). ``invalid_grant`` (a revoked
    or expired refresh token) is a reauthentication error: the provider never retries it.

    Args:
        credentials: How this client authenticates at the token endpoint (``auth_method="none"``
            for a public client), and the scope or resources to ask for.
        refresh_token: The current refresh token (hidden from ``repr``).
        on_rotate: Persists a rotated refresh token.
        persist_timeout: Seconds ``on_rotate`` may take. The committed section's bound is
            ``credentials.timeout + persist_timeout``: the request is never abandoned while it
            may still be answered.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        refresh_token: str,
        *,
        on_rotate: Rotate | None = None,
        persist_timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise ValueError("RefreshTokenMint needs a non-empty refresh_token")
        number = isinstance(persist_timeout, int | float) and not isinstance(persist_timeout, bool)
        if not (number and math.isfinite(persist_timeout) and persist_timeout > 0):
            raise ValueError(
                f"RefreshTokenMint.persist_timeout must be a positive number of seconds, "
                f"got {persist_timeout!r}"
            )
        super().__init__(credentials, client=client, wall_clock=wall_clock)
        self._refresh_token = refresh_token
        self._previous_refresh_token: str | None = None
        self._on_rotate = on_rotate
        self._persist_timeout = float(persist_timeout)
        self._unclaimed: Minted[str] | None = None  # what a cut-off attempt brought home

    @property
    def refresh_token(self) -> str:
        """The refresh token the next request sends: the newest the server rotated to."""
        return self._refresh_token

    @property
    def commit_bound(self) -> float:
        """Seconds the committed section (the request and ``on_rotate``) may run."""
        return self.credentials.timeout + self._persist_timeout

    def secrets(self) -> tuple[str, ...]:
        """The client's secrets and the refresh tokens (current and last rotated away), in
        every form they are sent in."""
        held = (self._refresh_token, self._previous_refresh_token)
        return (
            *super().secrets(),
            *(form for token in held if token for form in sent_forms(token)),
        )

    async def __call__(self) -> Minted[str]:
        unclaimed, self._unclaimed = self._unclaimed, None
        if unclaimed is not None and _fresh(unclaimed, self._wall_clock()):
            return unclaimed  # an earlier attempt's answer, which its caller never took
        minted = await committed(self._spend, bound=self.commit_bound)
        self._unclaimed = None  # we took it: the provider gets it now
        return minted

    async def _spend(self) -> Minted[str]:
        """The committed section: send the refresh token, keep and persist what comes back."""
        current = self._refresh_token
        sent_at = self._wall_clock()
        token = await self._request([("grant_type", "refresh_token"), ("refresh_token", current)])
        rotated = token.refresh_token
        if rotated is not None and rotated != current:
            # The server may already have revoked the old one.
            self._previous_refresh_token, self._refresh_token = current, rotated
            if self._on_rotate is not None:
                await self._persist(rotated)
        expires_at = (
            token.expires_at if token.expires_at is not None else sent_at + token.expires_in
        )
        # If the mint that started us was cut off, nobody takes this answer now: keep it for the
        # next attempt, as an absolute expiry from when the request was sent.
        self._unclaimed = Minted(token.access_token, expires_at=expires_at, issued_at=sent_at)
        return _minted(token)

    async def _persist(self, rotated: str) -> None:
        assert self._on_rotate is not None
        failure: str | None = None
        try:
            with anyio.move_on_after(self._persist_timeout) as limit:
                await self._on_rotate(rotated)
            if limit.cancelled_caught:
                failure = f"took longer than persist_timeout={self._persist_timeout:g} s"
        except Exception as error:
            failure = f"({type(error).__name__})"
        if failure is not None:
            raise CredentialError(
                kind=ErrorKind.UNKNOWN,
                message=(
                    f"the rotated refresh token could not be persisted {failure}; the access "
                    "token was not used"
                ),
            ) from None


def _fresh(minted: Minted[str], now: float) -> bool:
    """Whether a token kept from a cut-off attempt is worth serving: more than a quarter of its
    life ahead (the provider then refreshes it by its usual rules, from its real issue time)."""
    if minted.expires_at is None or minted.issued_at is None:
        return False
    return minted.expires_at - now > (minted.expires_at - minted.issued_at) / 4


def _encode(form: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in form).encode()
