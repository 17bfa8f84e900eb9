"""``BearerAuth``: an ``httpx.Auth`` that keeps requests authorised from a ``TokenSource``.

Each request gets the source's current token; a 401 invalidates that token's generation and
the request is sent once more with the next token. Because invalidation is by generation, a
burst of concurrent 401s for one token forces one refresh, not one per request.

A 401 that comes within ``forced_min_interval`` of the last forced refresh finds no token to
retry with (the core limits forced refreshes); that one case is waited out, up to ``max_wait``,
rather than raised out of httpx. Every other error of the source is the caller's to see.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Generator
from typing import final

import anyio
import httpx

from mintgate.policy import CredentialError, Token, forced_refresh_wait
from mintgate.shell import TokenSource

__all__ = ["BearerAuth"]


@final
class BearerAuth(httpx.Auth):
    """Authorise an ``httpx.AsyncClient``'s requests with ``Authorization: Bearer <token>``.

    Args:
        provider: Where tokens come from: any ``TokenSource`` of strings (an open
            ``RefreshingProvider``, a ``Host``'s driver, a manager's handle). A
            ``CredentialError`` it raises (a dead credential, an open breaker, before any
            request is sent) propagates out of the request unchanged.
        max_wait: After a 401, the next token may be held back by ``forced_min_interval`` (a
            second 401 soon after a forced refresh). Such a wait of at most ``max_wait``
            seconds is waited out and the request is retried once; a longer one, or a second
            refusal, returns the API's 401 response, as httpx would without this auth.
    """

    def __init__(self, provider: TokenSource[str], *, max_wait: float = 1.0) -> None:
        number = isinstance(max_wait, int | float) and not isinstance(max_wait, bool)
        if not (number and math.isfinite(max_wait) and max_wait >= 0):
            raise ValueError(
                f"BearerAuth.max_wait must be a number of seconds >= 0, got {max_wait!r}"
            )
        self.provider = provider
        self.max_wait = float(max_wait)

    def __repr__(self) -> str:
        name = getattr(self.provider, "name", type(self.provider).__name__)
        return f"BearerAuth(provider={name!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError(
            "BearerAuth works with httpx.AsyncClient only: RefreshingProvider is async"
        )
        yield request  # pragma: no cover - makes this a generator, as httpx expects

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.provider.token()
        request.headers["Authorization"] = f"Bearer {token.value}"
        response = yield request
        if response.status_code != 401:
            return
        await self.provider.invalidate(token)
        retry = await self._next_token()
        if retry is None:
            return  # the API's 401 is the answer
        request.headers["Authorization"] = f"Bearer {retry.value}"
        yield request

    async def _next_token(self) -> Token[str] | None:
        """The token to retry with, or None when the forced-refresh limit holds it back longer
        than ``max_wait`` (or twice)."""
        try:
            return await self.provider.token()
        except CredentialError as error:
            wait = forced_refresh_wait(error)
            if wait is None:
                raise  # not ours to absorb: a dead credential, an open breaker...
            if wait > self.max_wait:
                return None
        await anyio.sleep(wait)
        try:
            return await self.provider.token()
        except CredentialError as error:
            if forced_refresh_wait(error) is None:
                raise
            return None
