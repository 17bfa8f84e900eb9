"""OAuth2 mints over httpx for ``RefreshingProvider``: client credentials and refresh tokens.

The mint is the small, dangerous edge: it holds a client secret and talks to a server. So it
insists on ``https`` (loopback excepted, for tests and sidecars), never follows a redirect with
credentials, always has a timeout, reads at most a bounded body, and hands everything the server
said to the strict parser, which names what was wrong without echoing a secret.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets as secrets_module
import time
from collections.abc import Awaitable, Callable, Mapping
from types import ModuleType, TracebackType
from typing import Literal, Self, final
from urllib.parse import quote, urlsplit

import attrs
import httpx
from returns.result import Failure

from mintgate.adapters._token_response import (
    DEFAULT_LIFETIME,
    MAX_BODY_BYTES,
    TokenResponse,
    parse_token_response,
)
from mintgate.policy import CredentialError, ErrorKind
from mintgate.shell import Minted

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


def check_token_url(url: str, *, allow_insecure_http: bool) -> str:
    """The token URL, if it is safe to send credentials to; else a ValueError saying why."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"token_url must be an absolute http(s) URL, got {url!r}")
    if parts.username or parts.password:
        raise ValueError("token_url must not carry credentials; use client_id and client_secret")
    if parts.scheme == "http" and not (allow_insecure_http or _is_loopback(parts.hostname)):
        raise ValueError(
            f"token_url must use https (http is allowed only for loopback addresses, or with "
            f"allow_insecure_http=True), got {url!r}"
        )
    return url


@final
@attrs.frozen
class ClientCredentials:
    """How to ask a token endpoint for a client-credentials token. Secrets hidden from repr.

    Args:
        token_url: The token endpoint; ``https`` unless loopback or ``allow_insecure_http``.
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
        scope: Space-separated scopes to ask for.
        audience: An ``audience`` form field (Auth0 and others).
        resource: RFC 8707 resource indicators, sent as repeated ``resource`` fields.
        extra: More form fields.
        timeout: Seconds for each network phase of the request (always set).
        token_type: Required token type (case-insensitive); None accepts any.
        default_lifetime: Seconds assumed when the response has no ``expires_in``.
        allow_insecure_http: Allow ``http`` to a non-loopback host (never do this in production).
    """

    token_url: str
    client_id: str
    client_secret: str = attrs.field(default="", repr=False)
    auth_method: AuthMethod = "client_secret_basic"
    scope: str | None = None
    audience: str | None = None
    resource: tuple[str, ...] = ()
    extra: Mapping[str, str] = attrs.field(factory=dict)
    timeout: float = 10.0
    token_type: str | None = "bearer"
    default_lifetime: float = DEFAULT_LIFETIME
    allow_insecure_http: bool = False
    private_key: str | None = attrs.field(default=None, repr=False)
    key_id: str | None = None
    signing_algorithm: str = "RS256"
    assertion_lifetime: float = 60.0

    def __attrs_post_init__(self) -> None:
        check_token_url(self.token_url, allow_insecure_http=self.allow_insecure_http)
        if not self.client_id:
            raise ValueError("ClientCredentials.client_id must not be empty")
        methods = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
        if self.auth_method not in methods:
            raise ValueError(
                f"ClientCredentials.auth_method must be one of {', '.join(methods)}, "
                f"got {self.auth_method!r}"
            )
        if self.auth_method == "private_key_jwt":
            _check_private_key(self.private_key, self.signing_algorithm)
            if not self.assertion_lifetime > 0:
                raise ValueError("ClientCredentials.assertion_lifetime must be > 0 seconds")
        elif not self.client_secret and self.auth_method != "none":
            raise ValueError("ClientCredentials.client_secret must not be empty")
        if not self.timeout > 0:
            raise ValueError(f"ClientCredentials.timeout must be > 0 seconds, got {self.timeout!r}")
        if not self.default_lifetime > 0:
            raise ValueError(
                f"ClientCredentials.default_lifetime must be > 0, got {self.default_lifetime!r}"
            )


class _TokenMint:
    """What both grants share: the client (theirs or ours), the request, the strict parse."""

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        client: httpx.AsyncClient | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self._owns_client = client is None
        self._client = httpx.AsyncClient() if client is None else client
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.credentials!r})"

    def secrets(self) -> tuple[str, ...]:
        """What the provider scrubs from any message built from an exception of this mint."""
        c = self.credentials
        return tuple(value for value in (c.client_secret, c.private_key) if value)

    async def aclose(self) -> None:
        """Close the client if this mint created it."""
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

    async def _request(
        self, grant: list[tuple[str, str]], secrets: tuple[str, ...]
    ) -> TokenResponse:
        """POST the grant; the validated response, or a CredentialError naming what was wrong."""
        c = self.credentials
        form, headers = self._form_and_headers(grant)
        # An assertion is a bearer credential while it lives: scrub it like the secret.
        secrets += tuple(value for key, value in form if key == "client_assertion")
        try:
            async with self._client.stream(
                "POST",
                c.token_url,
                content=_encode(form),  # our own encoding: RFC 8707 repeats "resource"
                headers=headers,
                timeout=httpx.Timeout(c.timeout),
                follow_redirects=False,  # never re-send credentials to where a redirect points
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        break
                status, response_headers = response.status_code, list(response.headers.items())
        except httpx.TimeoutException as error:
            raise CredentialError(
                kind=ErrorKind.TIMEOUT,
                message=(
                    f"token endpoint did not answer within {c.timeout:g} s ({type(error).__name__})"
                ),
            ) from None
        except httpx.TransportError as error:
            raise CredentialError(
                kind=ErrorKind.UNAVAILABLE,
                message=f"could not reach the token endpoint ({type(error).__name__})",
            ) from None
        result = parse_token_response(
            status,
            response_headers,
            bytes(body),
            now=self._wall_clock(),
            token_type=c.token_type,
            default_lifetime=c.default_lifetime,
            secrets=(c.client_secret, *secrets),
            host=urlsplit(c.token_url).hostname,
        )
        if isinstance(result, Failure):
            raise result.failure()
        return result.unwrap()


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
        token = await self._request([("grant_type", "client_credentials")], secrets=())
        return Minted(token.access_token, expires_in=token.expires_in)


Rotate = Callable[[str], Awaitable[None]]


@final
class RefreshTokenMint(_TokenMint):
    """``async def mint() -> Minted[str]`` for the refresh-token grant (RFC 6749 §6).

    When the server rotates the refresh token, ``on_rotate(new_refresh_token)`` is awaited
    *before* the new access token is returned, so it is stored before anything uses the access
    token, and a crash never loses the only valid refresh token. If ``on_rotate`` raises, the mint
    fails with a retryable error that says so (the new refresh token is kept in memory and used
    next time). ``invalid_grant`` (revoked or expired refresh token) is a reauthentication error:
    the provider never retries it.

    Args:
        credentials: How this client authenticates at the token endpoint (``auth_method="none"``
            for a public client), and the scope or resources to ask for.
        refresh_token: The current refresh token (hidden from ``repr``).
        on_rotate: Persists a rotated refresh token.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        refresh_token: str,
        *,
        on_rotate: Rotate | None = None,
        client: httpx.AsyncClient | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise ValueError("RefreshTokenMint needs a non-empty refresh_token")
        super().__init__(credentials, client=client, wall_clock=wall_clock)
        self._refresh_token = refresh_token
        self._previous_refresh_token: str | None = None
        self._on_rotate = on_rotate

    def secrets(self) -> tuple[str, ...]:
        """The client's secrets and the refresh tokens (current and last rotated away)."""
        held = (self._refresh_token, self._previous_refresh_token)
        return (*super().secrets(), *(token for token in held if token))

    async def __call__(self) -> Minted[str]:
        current = self._refresh_token
        grant = [("grant_type", "refresh_token"), ("refresh_token", current)]
        token = await self._request(grant, secrets=(current,))
        rotated = token.refresh_token
        if rotated is not None and rotated != current:
            # The server may already have revoked the old one.
            self._previous_refresh_token, self._refresh_token = current, rotated
            if self._on_rotate is not None:
                try:
                    await self._on_rotate(rotated)
                except Exception as error:
                    raise CredentialError(
                        kind=ErrorKind.UNKNOWN,
                        message=(
                            "the rotated refresh token could not be persisted "
                            f"({type(error).__name__}); the access token was not used"
                        ),
                    ) from None
        return Minted(token.access_token, expires_in=token.expires_in)


def _encode(form: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in form).encode()
