"""The client-credentials mint against a real loopback token server, in real time."""

from __future__ import annotations

import base64
import json

import anyio
import pytest

from mintgate.adapters.oauth2 import ClientCredentials, ClientCredentialsMint
from mintgate.adapters.testing import Answer, TokenServer, token
from mintgate.policy import CredentialError, ErrorKind, RefreshConfig
from mintgate.shell import RefreshingProvider

pytestmark = pytest.mark.anyio

SECRET = "s3cret/with:odd&chars"


def creds(server: TokenServer, **kwargs: object) -> ClientCredentials:
    return ClientCredentials(server.url, "client id", SECRET, **kwargs)  # type: ignore[arg-type]


async def test_end_to_end_through_the_provider_with_short_tokens(token_server: TokenServer) -> None:
    token_server.answer = lambda n: token(lifetime=2, n=n)
    config = RefreshConfig(floor=0.5, skew=0.2, mint_timeout=1.0)
    seen: set[str] = set()
    async with (
        ClientCredentialsMint(creds(token_server)) as mint,
        RefreshingProvider(mint, config=config) as provider,
    ):
        for _ in range(35):  # 3.5 s of callers: at least two background refreshes
            seen.add((await provider.token()).value)
            await anyio.sleep(0.1)
    assert len(seen) >= 3
    assert len(token_server.requests) == len(seen)


async def test_client_secret_basic_form_encodes_then_base64s(token_server: TokenServer) -> None:
    async with ClientCredentialsMint(creds(token_server, scope="read write")) as mint:
        minted = await mint()
    assert minted.value == "access-1"
    assert minted.expires_in == 3600.0
    request = token_server.requests[0]
    scheme, encoded = request.headers["Authorization"].split(" ", 1)
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "client%20id:s3cret%2Fwith%3Aodd%26chars"
    assert request.form == [("grant_type", "client_credentials"), ("scope", "read write")]


async def test_client_secret_post_and_repeated_resources(token_server: TokenServer) -> None:
    credentials = creds(
        token_server,
        auth_method="client_secret_post",
        audience="api",
        resource=("https://a.example", "https://b.example"),
        extra={"tenant": "t1"},
    )
    async with ClientCredentialsMint(credentials) as mint:
        await mint()
    request = token_server.requests[0]
    assert "Authorization" not in request.headers
    assert request.form == [
        ("grant_type", "client_credentials"),
        ("audience", "api"),
        ("resource", "https://a.example"),
        ("resource", "https://b.example"),
        ("tenant", "t1"),
        ("client_id", "client id"),
        ("client_secret", SECRET),
    ]


async def test_429_with_retry_after_is_a_rate_limit(token_server: TokenServer) -> None:
    token_server.answer = lambda n: Answer(429, b"", {"Retry-After": "7"})
    async with ClientCredentialsMint(creds(token_server)) as mint:
        with pytest.raises(CredentialError) as caught:
            await mint()
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.retry_after == 7.0


async def test_invalid_client_is_reauth_and_never_echoes_the_secret(
    token_server: TokenServer,
) -> None:
    body = json.dumps({"error": "invalid_client", "error_description": f"bad secret {SECRET}"})
    token_server.answer = lambda n: Answer(401, body.encode())
    async with ClientCredentialsMint(creds(token_server)) as mint:
        with pytest.raises(CredentialError) as caught:
            await mint()
    assert caught.value.kind is ErrorKind.REAUTH_REQUIRED
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(mint)


async def test_a_503_outage_is_served_stale_from_the_cache(token_server: TokenServer) -> None:
    config = RefreshConfig(floor=0.5, skew=0.2, mint_timeout=1.0, retry_base=0.1, retry_cap=0.2)
    token_server.answer = lambda n: token(lifetime=2, n=n) if n == 1 else Answer(503, b"")
    async with (
        ClientCredentialsMint(creds(token_server)) as mint,
        RefreshingProvider(mint, config=config) as provider,
    ):
        first = await provider.token()
        await anyio.sleep(1.6)  # the refresh and its retries fail; the token is still usable
        assert (await provider.token()) == first
        assert len(token_server.requests) >= 2


async def test_a_hanging_endpoint_is_cut_by_the_timeout(token_server: TokenServer) -> None:
    token_server.answer = lambda n: Answer(delay=3.0, body=token(n=n).body)
    async with ClientCredentialsMint(creds(token_server, timeout=0.3)) as mint:
        with anyio.fail_after(2.0):
            with pytest.raises(CredentialError) as caught:
                await mint()
    assert caught.value.kind is ErrorKind.TIMEOUT


async def test_an_unreachable_endpoint_is_unavailable() -> None:
    credentials = ClientCredentials("http://127.0.0.1:9/token", "id", SECRET)
    async with ClientCredentialsMint(credentials) as mint:
        with pytest.raises(CredentialError) as caught:
            await mint()
    assert caught.value.kind is ErrorKind.UNAVAILABLE


async def test_a_redirect_is_not_followed(token_server: TokenServer) -> None:
    token_server.answer = lambda n: Answer(302, b"", {"Location": "https://elsewhere.example/t"})
    async with ClientCredentialsMint(creds(token_server)) as mint:
        with pytest.raises(CredentialError) as caught:
            await mint()
    assert caught.value.kind is ErrorKind.CONFIGURATION
    assert len(token_server.requests) == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://auth.example/token", "must use https"),
        ("ftp://auth.example/token", "absolute http"),
        ("https://user:pw@auth.example/token", "must not carry credentials"),
    ],
)
def test_unsafe_token_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClientCredentials(url, "id", SECRET)


def test_http_to_a_remote_host_needs_an_explicit_opt_in() -> None:
    credentials = ClientCredentials("http://auth.example/t", "id", SECRET, allow_insecure_http=True)
    assert SECRET not in repr(credentials)
    for loopback in ("http://localhost:1/t", "http://127.0.0.2:1/t", "http://[::1]:1/t"):
        ClientCredentials(loopback, "id", SECRET)


async def test_retry_after_is_respected_by_the_provider(token_server: TokenServer) -> None:
    token_server.answer = lambda n: Answer(429, b"", {"Retry-After": "1"}) if n == 1 else token(n=n)
    async with (
        ClientCredentialsMint(creds(token_server)) as mint,
        RefreshingProvider(mint) as provider,
    ):
        with pytest.raises(CredentialError) as first:
            await provider.token()
        assert first.value.kind is ErrorKind.RATE_LIMITED
        with pytest.raises(CredentialError) as early:  # refused at once, no request sent
            await provider.token()
        assert early.value.retry_after is not None
        assert 0 < early.value.retry_after <= 1.0
        assert len(token_server.requests) == 1
        await anyio.sleep(early.value.retry_after + 0.05)
        assert (await provider.token()).value == "access-2"
    assert len(token_server.requests) == 2


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (Answer(404, b"<html>Not Found</html>", {"Content-Type": "text/html"}), "check token_url"),
        (Answer(403, b"", {}), "empty body"),
        (Answer(400, b"<Code>Throttling</Code>", {"Content-Type": "text/xml"}), "not an OAuth2"),
    ],
)
async def test_a_4xx_from_in_front_of_the_issuer_is_retried_not_fatal(
    token_server: TokenServer, answer: Answer, hint: str
) -> None:
    """A load balancer's 404 mid-deploy or a WAF's 403 must not kill the credential for good."""
    token_server.answer = lambda n: answer if n == 1 else token(n=n)
    async with (
        ClientCredentialsMint(creds(token_server)) as mint,
        RefreshingProvider(mint) as provider,
    ):
        with pytest.raises(CredentialError) as caught:
            await provider.token()
        assert caught.value.kind is ErrorKind.UNAVAILABLE
        assert f"token endpoint 127.0.0.1 answered HTTP {answer.status}" in caught.value.message
        assert hint in caught.value.message
        assert not provider.statistics().dead
        assert (await provider.token()).value == "access-2"
