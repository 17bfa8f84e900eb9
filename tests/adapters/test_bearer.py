"""BearerAuth against a real loopback API that accepts only the newest token."""

from __future__ import annotations

import anyio
import httpx
import pytest

from mintgate.adapters.oauth2 import BearerAuth, ClientCredentials, ClientCredentialsMint
from mintgate.adapters.testing import TokenServer
from mintgate.policy import Token
from mintgate.shell import RefreshingProvider, TokenSource
from mintgate.shell.testing import FakeMint

pytestmark = pytest.mark.anyio


async def test_requests_carry_the_token_and_a_401_burst_forces_one_refresh(
    token_server: TokenServer,
) -> None:
    credentials = ClientCredentials(token_server.url, "id", "secret")
    statuses: list[int] = []
    async with (
        ClientCredentialsMint(credentials) as mint,
        RefreshingProvider(mint) as provider,
        httpx.AsyncClient(auth=BearerAuth(provider)) as client,
    ):
        assert (await client.get(token_server.api_url)).status_code == 200
        assert token_server.api_calls == ["Bearer access-1"]
        token_server.valid = set()  # the API revokes access-1...

        async def call() -> None:
            statuses.append((await client.get(token_server.api_url)).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(20):  # ...and 20 concurrent requests all get 401 with it
                tg.start_soon(call)
    assert statuses == [200] * 20  # each retried once, with the new token
    assert len(token_server.requests) == 2  # one forced refresh for the whole burst
    assert token_server.api_calls.count("Bearer access-2") == 20


def test_the_sync_flow_says_to_use_the_async_client() -> None:
    mint = ClientCredentialsMint(ClientCredentials("https://auth.example/t", "id", "secret"))
    provider: RefreshingProvider[str] = RefreshingProvider(mint)
    with (
        httpx.Client(auth=BearerAuth(provider)) as client,
        pytest.raises(RuntimeError, match=r"httpx.AsyncClient only"),
    ):
        client.get("https://api.example/")


class StaticSource:
    """A TokenSource that is not a RefreshingProvider: a fixed key, as a manager handle may be."""

    forced_min_interval = 1.0

    def __init__(self, value: str) -> None:
        self.token_ = Token(value, None, 0.0, 1)
        self.invalidated: list[int] = []

    async def token(self) -> Token[str]:
        return self.token_

    async def invalidate(self, token: Token[str]) -> None:
        self.invalidated.append(token.generation)

    def current(self) -> Token[str] | None:
        return self.token_


async def test_bearer_auth_takes_any_token_source(token_server: TokenServer) -> None:
    source = StaticSource("access-7")
    assert isinstance(source, TokenSource)
    async with RefreshingProvider(FakeMint()) as provider:
        assert isinstance(provider, TokenSource)
        assert provider.forced_min_interval == provider.config.forced_min_interval
    token_server.valid = {"access-7"}
    async with httpx.AsyncClient(auth=BearerAuth(source)) as client:
        assert (await client.get(token_server.api_url)).status_code == 200
        token_server.valid = set()
        assert (await client.get(token_server.api_url)).status_code == 401
    assert source.invalidated == [1]
    assert repr(BearerAuth(source)) == "BearerAuth(provider='StaticSource')"
