"""``BearerAuth``: an ``httpx.Auth`` that keeps requests authorised from a ``RefreshingProvider``.

Each request gets the provider's current token; a 401 invalidates that token's generation and
the request is sent once more with the next token. Because invalidation is by generation, a
burst of concurrent 401s for one token forces one refresh, not one per request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import final

import httpx

from mintgate.shell import TokenSource

__all__ = ["BearerAuth"]


@final
class BearerAuth(httpx.Auth):
    """Authorise an ``httpx.AsyncClient``'s requests with ``Authorization: Bearer <token>``.

    Args:
        provider: Where tokens come from: any ``TokenSource`` of strings (an open
            ``RefreshingProvider``, a manager's handle). A ``CredentialError`` it raises (a
            dead credential, an open breaker) propagates out of the request unchanged.
    """

    def __init__(self, provider: TokenSource[str]) -> None:
        self.provider = provider

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
        token = await self.provider.token()
        request.headers["Authorization"] = f"Bearer {token.value}"
        yield request
