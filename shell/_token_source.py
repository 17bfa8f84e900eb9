"""``TokenSource``: what a consumer of tokens needs, whoever keeps them fresh.

``BearerAuth`` and the manager's handles to come take a ``TokenSource``, not a
``RefreshingProvider``: the provider is one implementation, a handle on a credential hosted by
the manager another, and a test's fake a third.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

from mintgate.policy import Token

__all__ = ["TokenSource"]

V = TypeVar("V")


@runtime_checkable
class TokenSource(Protocol[V]):
    """A source of fresh tokens.

    Attributes:
        forced_min_interval: Seconds within which a second invalidation forces no new mint: a
            caller that got a 401 again this soon should wait rather than invalidate again.
    """

    @property
    def forced_min_interval(self) -> float: ...

    async def token(self) -> Token[V]:
        """A usable token, waiting for a mint if need be; raises ``CredentialError``."""
        ...

    async def invalidate(self, token: Token[V]) -> None:
        """Report that downstream rejected ``token`` (a 401)."""
        ...

    def current(self) -> Token[V] | None:
        """The usable token now, or None; never waits and never mints."""
        ...
