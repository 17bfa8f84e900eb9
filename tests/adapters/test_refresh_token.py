"""The refresh-token grant with rotation, against the loopback token server, in real time."""

from __future__ import annotations

import base64
import json

import anyio
import pytest

from mintgate.adapters.oauth2 import ClientCredentials, ClientCredentialsMint, RefreshTokenMint
from mintgate.adapters.testing import Answer, TokenServer, token
from mintgate.policy import CredentialError, ErrorKind, RefreshConfig
from mintgate.shell import RefreshingProvider

pytestmark = pytest.mark.anyio

FIRST = "rt-initial-secret"


def rotating(lifetime: int = 3600) -> object:
    return lambda n: token(lifetime=lifetime, n=n, refresh_token=f"rt-{n}")


def creds(server: TokenServer, **kwargs: object) -> ClientCredentials:
    return ClientCredentials(server.url, "app", "app-secret", **kwargs)  # type: ignore[arg-type]


async def test_rotation_persists_each_new_refresh_token_before_its_access_token_is_served(
    token_server: TokenServer,
) -> None:
    token_server.answer = rotating(lifetime=2)  # type: ignore[assignment]
    events: list[str] = []

    async def persist(refresh_token: str) -> None:
        await anyio.sleep(0.05)  # a slow store: the access token must still wait for it
        events.append(f"persisted {refresh_token}")

    config = RefreshConfig(floor=0.5, skew=0.2, mint_timeout=1.0)
    async with (
        RefreshTokenMint(creds(token_server), FIRST, on_rotate=persist) as mint,
        RefreshingProvider(mint, config=config) as provider,
    ):
        for _ in range(35):
            value = (await provider.token()).value
            if f"served {value}" not in events:
                events.append(f"served {value}")
            await anyio.sleep(0.1)
    sent = [dict(r.form)["refresh_token"] for r in token_server.requests]
    assert len(sent) >= 3
    assert sent == [FIRST] + [f"rt-{n}" for n in range(1, len(sent))]  # always the newest
    served = [n for n in range(1, len(sent)) if f"served access-{n}" in events]
    assert len(served) >= 2
    for n in served:
        assert events.index(f"persisted rt-{n}") < events.index(f"served access-{n}")


async def test_invalid_grant_kills_the_credential_and_is_never_retried(
    token_server: TokenServer,
) -> None:
    body = json.dumps({"error": "invalid_grant", "error_description": f"revoked {FIRST}"})
    token_server.answer = lambda n: Answer(400, body.encode())
    async with (
        RefreshTokenMint(creds(token_server), FIRST) as mint,
        RefreshingProvider(mint) as provider,
    ):
        for _ in range(5):
            with pytest.raises(CredentialError) as caught:
                await provider.token()
            assert caught.value.kind is ErrorKind.REAUTH_REQUIRED
            assert FIRST not in str(caught.value)
            await anyio.sleep(0.05)
        assert provider.statistics().dead
    assert len(token_server.requests) == 1


async def test_a_store_that_fails_fails_the_mint_and_the_new_token_is_used_next(
    token_server: TokenServer,
) -> None:
    token_server.answer = rotating()  # type: ignore[assignment]

    async def broken_store(refresh_token: str) -> None:
        raise OSError(f"disk full while writing {refresh_token}")

    async with RefreshTokenMint(creds(token_server), FIRST, on_rotate=broken_store) as mint:
        with pytest.raises(CredentialError) as caught:
            await mint()
        assert caught.value.kind is ErrorKind.UNKNOWN
        assert "could not be persisted (OSError)" in caught.value.message
        assert "rt-1" not in caught.value.message
        with pytest.raises(CredentialError):  # the store fails again, after using rt-1
            await mint()
    assert [dict(r.form)["refresh_token"] for r in token_server.requests] == [FIRST, "rt-1"]


async def test_a_public_client_sends_its_id_and_no_secret(token_server: TokenServer) -> None:
    credentials = ClientCredentials(token_server.url, "public-app", auth_method="none")
    async with RefreshTokenMint(credentials, FIRST) as mint:
        minted = await mint()
    assert minted.value == "access-1"
    request = token_server.requests[0]
    assert "Authorization" not in request.headers
    assert request.form == [
        ("grant_type", "refresh_token"),
        ("refresh_token", FIRST),
        ("client_id", "public-app"),
    ]
    assert FIRST not in repr(mint)


def test_the_client_credentials_grant_refuses_a_public_client() -> None:
    credentials = ClientCredentials("https://auth.example/t", "public-app", auth_method="none")
    with pytest.raises(ValueError, match=r"needs client authentication, not .none."):
        ClientCredentialsMint(credentials)
    with pytest.raises(ValueError, match="client_secret must not be empty"):
        ClientCredentials("https://auth.example/t", "app")


async def test_the_mints_declare_their_secrets_for_the_providers_messages(
    token_server: TokenServer,
) -> None:
    credentials = ClientCredentials(token_server.url, "id", "the-client/secret")
    basic = {
        base64.b64encode(pair).decode()
        for pair in (b"id:the-client%2Fsecret", b"id:the-client/secret")
    }
    client = {"the-client/secret", "the-client%2Fsecret"} | basic  # raw, encoded, Basic
    assert set(ClientCredentialsMint(credentials).secrets()) == client
    token_server.answer = lambda n: token(n=n, refresh_token=f"rt-{n}")
    async with RefreshTokenMint(credentials, "rt-0") as mint:
        assert set(mint.secrets()) == client | {"rt-0"}
        await mint()  # rotated: rt-0 may still be on the wire, so both are scrubbed
        assert set(mint.secrets()) == client | {"rt-0", "rt-1"}
        await mint()
        assert set(mint.secrets()) == client | {"rt-1", "rt-2"}
