"""BearerAuth against a real loopback API that accepts only the newest token."""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import httpx
import pytest

from mintgate.adapters.oauth2 import BearerAuth, ClientCredentials, ClientCredentialsMint
from mintgate.adapters.testing import Answer, TokenServer
from mintgate.policy import CredentialError, ErrorKind, RefreshConfig, Token
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


def refuse_calls(*refused: int) -> Callable[[int, str], int | None]:
    """An API that answers 401 to the given call numbers, and by the usual rule otherwise."""
    return lambda n, authorization: 401 if n in refused else None


async def test_a_401_soon_after_a_forced_refresh_is_waited_out_not_raised(
    token_server: TokenServer,
) -> None:
    credentials = ClientCredentials(token_server.url, "id", "secret")
    token_server.api_status = refuse_calls(1, 3)  # access-1 once, then access-2 once
    async with (
        ClientCredentialsMint(credentials) as mint,
        RefreshingProvider(mint) as provider,  # forced_min_interval=1 s
        httpx.AsyncClient(auth=BearerAuth(provider)) as client,
    ):
        first = await client.get(token_server.api_url)  # 401, forced refresh, 200 with access-2
        started = anyio.current_time()
        second = await client.get(token_server.api_url)  # 401 within 1 s: waits, then access-3
        waited = anyio.current_time() - started
    assert (first.status_code, second.status_code) == (200, 200)
    assert token_server.api_calls == [
        "Bearer access-1",
        "Bearer access-2",
        "Bearer access-2",
        "Bearer access-3",
    ]
    assert 0.0 < waited < 1.5  # at most forced_min_interval, plus the requests


async def test_a_wait_longer_than_max_wait_returns_the_apis_401(token_server: TokenServer) -> None:
    credentials = ClientCredentials(token_server.url, "id", "secret")
    token_server.api_status = refuse_calls(1, 3)
    config = RefreshConfig(forced_min_interval=30.0)
    async with (
        ClientCredentialsMint(credentials) as mint,
        RefreshingProvider(mint, config=config) as provider,
        httpx.AsyncClient(auth=BearerAuth(provider, max_wait=0.5)) as client,
    ):
        assert (await client.get(token_server.api_url)).status_code == 200
        started = anyio.current_time()
        refused = await client.get(token_server.api_url)
        assert anyio.current_time() - started < 1.0  # it did not wait 30 s
    assert refused.status_code == 401  # the API's answer, as httpx gives it without auth
    assert token_server.api_calls[-1] == "Bearer access-2"
    assert len(token_server.requests) == 2  # no mint forced within the interval


async def test_any_other_error_of_the_token_source_propagates_unchanged(
    token_server: TokenServer,
) -> None:
    body = json.dumps({"error": "invalid_client"}).encode()
    token_server.answer = lambda n: Answer(401, body)
    credentials = ClientCredentials(token_server.url, "id", "secret")
    async with (
        ClientCredentialsMint(credentials) as mint,
        RefreshingProvider(mint) as provider,
        httpx.AsyncClient(auth=BearerAuth(provider)) as client,
    ):
        with pytest.raises(CredentialError) as caught:
            await client.get(token_server.api_url)
    assert caught.value.kind is ErrorKind.REAUTH_REQUIRED
    assert token_server.api_calls == []  # nothing was sent without a token


def test_max_wait_is_checked() -> None:
    with pytest.raises(ValueError, match="max_wait must be a number of seconds >= 0"):
        BearerAuth(StaticSource("x"), max_wait=-1.0)
