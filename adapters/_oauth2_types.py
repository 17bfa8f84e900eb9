"""The OAuth2 credential types: ``oauth2_client_credentials`` and ``oauth2_refresh_token``.

A record holds a credential as a type name and a state (a mapping of JSON strings); these types
turn that state into the mints of :mod:`mintgate.adapters._oauth2` and back. They live beside
the mints because they need httpx, which the shell's ``static_api_key`` does not.

A type is shared by every credential of its kind in a program (it sits in the ``Registry``), so
it holds what is per-program: one ``httpx.AsyncClient``, whether plain ``http`` is allowed, the
request timeout. Everything per-credential is in the state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any, final

import anyio
import httpx

from mintgate.adapters._oauth2 import (
    ClientCredentials,
    ClientCredentialsMint,
    HoldsClient,
    RefreshTokenMint,
)
from mintgate.policy import CredentialError, ErrorKind, RefreshConfig
from mintgate.shell import Minted, check_fields

__all__ = ["ClientCredentialsType", "RefreshTokenType"]

SECRET_METHODS = ("client_secret_basic", "client_secret_post")


class _OAuth2Type(HoldsClient):
    """What both types share: the program's client and options, and state -> ClientCredentials."""

    name: str
    version = 1
    secret_fields: frozenset[str]

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        default_config: RefreshConfig | None = None,
        timeout: float = 8.0,
        allow_insecure_http: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_config = RefreshConfig() if default_config is None else default_config
        self._timeout = timeout
        self._allow_insecure_http = allow_insecure_http
        self._wall_clock = wall_clock
        _check_seconds(self, "timeout", timeout)
        if not isinstance(allow_insecure_http, bool):
            raise ValueError(f"{type(self).__name__}.allow_insecure_http must be a bool")
        super().__init__(client)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _credentials(self, state: Mapping[str, Any]) -> ClientCredentials:
        return ClientCredentials(
            state["token_url"],
            state["client_id"],
            state.get("client_secret", ""),
            auth_method=state.get("auth_method", "client_secret_basic"),
            scope=state.get("scope"),
            audience=state.get("audience"),
            timeout=self._timeout,
            allow_insecure_http=self._allow_insecure_http,
        )

    def _validated(self, state: dict[str, Any]) -> dict[str, Any]:
        """The state, once ``ClientCredentials`` accepts it (its message, by field name)."""
        try:
            self._credentials(state)
        except ValueError as error:
            raise ValueError(f"{self.name}: {_by_field(error)}") from None
        return state

    def _stored(self, state: Mapping[str, Any]) -> ClientCredentials:
        """``ClientCredentials`` from a stored state; one this program refuses (``http`` where
        it is not allowed, a state edited by hand) is a configuration error of the credential."""
        try:
            return self._credentials(state)
        except (KeyError, TypeError, ValueError) as error:
            reason = f"no field {error}" if isinstance(error, KeyError) else _by_field(error)
            raise CredentialError(
                kind=ErrorKind.CONFIGURATION,
                message=f"{self.name}: the stored state is refused: {reason}",
            ) from None


def _check_seconds(owner: object, name: str, value: object) -> None:
    """A positive, finite number of seconds, or a ValueError naming the option."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(
            f"{type(owner).__name__}.{name} must be a positive number of seconds, got {value!r}"
        )


def _by_field(error: Exception) -> str:
    """ClientCredentials' message as the JSON input names its fields."""
    return str(error).replace("ClientCredentials.", "")


def _auth_method(name: str, state: dict[str, Any], *, public: bool) -> None:
    """Check (and default) ``auth_method`` against whether a client secret was given."""
    method = state.setdefault(
        "auth_method", "none" if public and "client_secret" not in state else SECRET_METHODS[0]
    )
    methods = (*SECRET_METHODS, "none") if public else SECRET_METHODS
    if method not in methods:
        raise ValueError(
            f"{name} field 'auth_method' must be one of {', '.join(methods)}, got {method!r}"
        )
    if method == "none" and "client_secret" in state:
        raise ValueError(f"{name} field 'client_secret' is not sent with auth_method 'none'")
    if method != "none" and "client_secret" not in state:
        raise ValueError(f"{name} needs the field 'client_secret' for auth_method {method!r}")


@final
class ClientCredentialsType(_OAuth2Type):
    """``oauth2_client_credentials``: the client-credentials grant (RFC 6749 section 4.4).

    Input: ``{"token_url", "client_id", "client_secret", "scope"?, "audience"?,
    "auth_method"?}``; ``auth_method`` is ``client_secret_basic`` (the default) or
    ``client_secret_post``; ``scope`` is space-separated. ``mint`` returns the state unchanged.

    Args:
        client: The ``httpx.AsyncClient`` every credential of this type uses (left open); by
            default one of its own, which ``aclose()`` closes.
        default_config: The refresh policy its credentials get unless told otherwise.
        timeout: Seconds for each token request, one overall deadline.
        allow_insecure_http: Accept ``http`` token URLs to non-loopback hosts (never in
            production).
        wall_clock: Unix time, for the tokens' wall-clock instants.
    """

    name = "oauth2_client_credentials"
    secret_fields = frozenset({"client_secret"})

    def validate(self, data: Mapping[str, object]) -> dict[str, Any]:
        state: dict[str, Any] = check_fields(
            self.name,
            data,
            required=("token_url", "client_id", "client_secret"),
            optional=("scope", "audience", "auth_method"),
        )
        _auth_method(self.name, state, public=False)
        return self._validated(state)

    def secrets(self, state: Mapping[str, Any]) -> tuple[str, ...]:
        """The state's secrets in every form a request sends them in (to scrub from errors)."""
        return ClientCredentialsMint(self._stored(state), client=self._client).secrets()

    async def mint(self, state: Mapping[str, Any]) -> tuple[Mapping[str, Any], Minted[str]]:
        mint = ClientCredentialsMint(
            self._stored(state), client=self._client, wall_clock=self._wall_clock
        )
        return state, await mint()


@final
class RefreshTokenType(_OAuth2Type):
    """``oauth2_refresh_token``: the refresh-token grant (RFC 6749 section 6), with rotation.

    Input: ``{"token_url", "client_id", "client_secret"?, "refresh_token", "scope"?,
    "auth_method"?}``; without a client secret the client is public (``auth_method`` ``none``,
    the default then), with one ``client_secret_basic`` (the default) or ``client_secret_post``.

    ``mint(state)`` returns the state with the refresh token the server rotated to (the same
    state object when it did not rotate); whoever calls it stores that state before using the
    access token. The request runs as a committed section (see ``RefreshTokenMint``): a mint
    cut off by ``mint_timeout`` leaves its request running, and the next ``mint`` with the same
    state waits for it and goes on from what it brought home (the rotated refresh token, and the
    access token if still fresh), so a rotation is never lost while the program runs and no
    refresh token is sent twice.

    Args:
        persist_timeout: Seconds added to ``timeout`` to bound each committed section.
        (the others as for :class:`ClientCredentialsType`)
    """

    name = "oauth2_refresh_token"
    secret_fields = frozenset({"client_secret", "refresh_token"})

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        default_config: RefreshConfig | None = None,
        timeout: float = 8.0,
        persist_timeout: float = 10.0,
        allow_insecure_http: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        _check_seconds(self, "persist_timeout", persist_timeout)
        super().__init__(
            client=client,
            default_config=default_config,
            timeout=timeout,
            allow_insecure_http=allow_insecure_http,
            wall_clock=wall_clock,
        )
        self._persist_timeout = persist_timeout
        # Mints whose caller went away (cut off) or that may still rotate, by the state's
        # refresh token: the next mint of that state goes on with the same one.
        self._pending: dict[tuple[str, str, str], RefreshTokenMint] = {}

    def validate(self, data: Mapping[str, object]) -> dict[str, Any]:
        state: dict[str, Any] = check_fields(
            self.name,
            data,
            required=("token_url", "client_id", "refresh_token"),
            optional=("client_secret", "scope", "auth_method"),
        )
        _auth_method(self.name, state, public=True)
        return self._validated(state)

    def secrets(self, state: Mapping[str, Any]) -> tuple[str, ...]:
        """The client secret and the refresh tokens (the state's, and one a pending mint
        rotated to), in every form a request sends them in."""
        pending = self._pending.get(_key(state))
        return (pending or self._new_mint(state)).secrets()

    async def mint(self, state: Mapping[str, Any]) -> tuple[Mapping[str, Any], Minted[str]]:
        key = _key(state)
        mint = self._pending.pop(key, None) or self._new_mint(state)
        try:
            minted = await mint()
        except anyio.get_cancelled_exc_class():
            self._pending[key] = mint  # its committed section may still rotate the token
            raise
        except CredentialError:
            # The committed section has ended: it matters only if it rotated the token.
            if mint.refresh_token != key[2]:
                self._pending[key] = mint
            raise
        except BaseException:
            self._pending[key] = mint
            raise
        if mint.refresh_token == key[2]:
            return state, minted
        return {**state, "refresh_token": mint.refresh_token}, minted

    def _new_mint(self, state: Mapping[str, Any]) -> RefreshTokenMint:
        try:
            return RefreshTokenMint(
                self._stored(state),
                state["refresh_token"],
                persist_timeout=self._persist_timeout,
                client=self._client,
                wall_clock=self._wall_clock,
            )
        except (KeyError, ValueError) as error:
            reason = "no field 'refresh_token'" if isinstance(error, KeyError) else str(error)
            raise CredentialError(
                kind=ErrorKind.CONFIGURATION,
                message=f"{self.name}: the stored state is refused: {reason}",
            ) from None


def _key(state: Mapping[str, Any]) -> tuple[str, str, str]:
    """Which credential a state is, as far as a pending mint goes: its grant."""
    return (
        str(state.get("token_url")),
        str(state.get("client_id")),
        str(state.get("refresh_token")),
    )
