"""The OAuth2 credential types against the loopback token server: input, mints, rotation in the
state, a cut-off rotation carried to the next mint, and a record minted after a restart."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import attrs
import pytest

from mintgate.adapters.oauth2 import ClientCredentialsType, RefreshTokenType
from mintgate.adapters.sqlite import SQLiteStore
from mintgate.adapters.testing import Answer, RotatingGrant, TokenServer
from mintgate.policy import CredentialError, ErrorKind, RefreshConfig
from mintgate.shell import (
    CredentialId,
    CredentialRecord,
    CredentialType,
    Minted,
    RefreshingProvider,
    Registry,
    StaticApiKey,
    StoredToken,
)
from mintgate.shell.testing import PlainCipher

pytestmark = pytest.mark.anyio

SECRET = "cc/secret+with=&chars"
FIRST = "rt-first-of-the-grant"


def cc_input(server: TokenServer, **fields: object) -> dict[str, object]:
    return {"token_url": server.url, "client_id": "app", "client_secret": SECRET, **fields}


def rt_input(server: TokenServer, **fields: object) -> dict[str, object]:
    return {"token_url": server.url, "client_id": "app", "refresh_token": FIRST, **fields}


# -- input ------------------------------------------------------------------------------------


async def test_both_types_are_credential_types_and_share_a_registry() -> None:
    async with ClientCredentialsType() as cc, RefreshTokenType() as rt:
        registry = Registry([StaticApiKey(), cc, rt])
        assert isinstance(cc, CredentialType)
        assert isinstance(rt, CredentialType)
        assert registry["oauth2_client_credentials"] is cc
        assert registry["oauth2_refresh_token"] is rt
        assert cc.secret_fields == {"client_secret"}
        assert rt.secret_fields == {"client_secret", "refresh_token"}


async def test_client_credentials_input_is_checked_by_field(token_server: TokenServer) -> None:
    async with ClientCredentialsType() as cc:
        state = cc.validate(cc_input(token_server, scope="read write", audience="api"))
        assert state == {
            **cc_input(token_server, scope="read write", audience="api"),
            "auth_method": "client_secret_basic",
        }
        refused = {
            "has no field 'refresh_token'": cc_input(token_server, refresh_token="x"),
            "needs the field 'client_secret'": {"token_url": token_server.url, "client_id": "a"},
            "'auth_method' must be one of client_secret_basic, client_secret_post": cc_input(
                token_server, auth_method="private_key_jwt"
            ),
            "token_url must use https": cc_input(token_server, token_url="http://example.com/t"),
            "token_url must not carry credentials": cc_input(
                token_server, token_url="https://u:p@example.com/t"
            ),
            "'scope' must be a non-empty string": cc_input(token_server, scope=["read"]),
            "scope must not be empty": cc_input(token_server, scope="   "),
            "'client_id' must be a non-empty string": cc_input(token_server, client_id=""),
            "must be a JSON object": ["not", "an", "object"],
        }
        for message, data in refused.items():
            with pytest.raises(ValueError, match=message) as caught:
                cc.validate(data)  # type: ignore[arg-type]
            assert SECRET not in str(caught.value)
            assert str(caught.value).startswith("oauth2_client_credentials")


async def test_refresh_token_input_is_public_without_a_secret(token_server: TokenServer) -> None:
    async with RefreshTokenType() as rt:
        assert rt.validate(rt_input(token_server))["auth_method"] == "none"
        confidential = rt.validate(rt_input(token_server, client_secret=SECRET))
        assert confidential["auth_method"] == "client_secret_basic"
        post = rt.validate(
            rt_input(token_server, client_secret=SECRET, auth_method="client_secret_post")
        )
        assert post["auth_method"] == "client_secret_post"
        refused: dict[str, Mapping[str, object]] = {
            "has no field 'audience'": rt_input(token_server, audience="api"),
            "needs the field 'refresh_token'": {"token_url": token_server.url, "client_id": "a"},
            "'client_secret' is not sent with auth_method 'none'": rt_input(
                token_server, client_secret=SECRET, auth_method="none"
            ),
            "needs the field 'client_secret' for auth_method 'client_secret_post'": rt_input(
                token_server, auth_method="client_secret_post"
            ),
        }
        for message, data in refused.items():
            with pytest.raises(ValueError, match=message) as caught:
                rt.validate(data)
            assert SECRET not in str(caught.value)
            assert FIRST not in str(caught.value)


async def test_the_types_options_are_checked_by_name() -> None:
    for bad in (0, -1.0, float("nan"), float("inf"), "8", True):
        with pytest.raises(ValueError, match=r"ClientCredentialsType\.timeout must be"):
            ClientCredentialsType(timeout=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"RefreshTokenType\.persist_timeout must be"):
            RefreshTokenType(persist_timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allow_insecure_http must be a bool"):
        RefreshTokenType(allow_insecure_http="yes")  # type: ignore[arg-type]


async def test_a_stored_state_this_program_refuses_is_a_configuration_error() -> None:
    async with ClientCredentialsType() as cc, RefreshTokenType() as rt:
        http = {"token_url": "http://example.com/t", "client_id": "a", "client_secret": SECRET}
        for credential_type, state in (
            (cc, http),
            (rt, {**http, "refresh_token": FIRST}),
            (rt, {"token_url": "https://example.com/t", "client_id": "a"}),
        ):
            with pytest.raises(CredentialError) as caught:
                await credential_type.mint(state)
            assert caught.value.kind is ErrorKind.CONFIGURATION
            assert "the stored state is refused" in caught.value.message
            assert SECRET not in caught.value.message
            assert FIRST not in caught.value.message


# -- minting ----------------------------------------------------------------------------------


async def test_client_credentials_mint_sends_the_state_and_keeps_it(
    token_server: TokenServer,
) -> None:
    async with ClientCredentialsType() as cc:
        basic = cc.validate(cc_input(token_server, scope="read", audience="api"))
        state, minted = await cc.mint(basic)
        assert state is basic
        assert (minted.value, minted.expires_in) == ("access-1", 3600)
        post = cc.validate(cc_input(token_server, auth_method="client_secret_post"))
        await cc.mint(post)
    first, second = token_server.requests
    pair = f"app:{quote(SECRET, safe='')}"
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(pair.encode()).decode()
    assert dict(first.form) == {
        "grant_type": "client_credentials",
        "scope": "read",
        "audience": "api",
    }
    assert "Authorization" not in second.headers
    assert dict(second.form)["client_secret"] == SECRET


async def test_secrets_cover_every_form_a_request_sends(token_server: TokenServer) -> None:
    async with ClientCredentialsType() as cc, RefreshTokenType() as rt:
        state = cc.validate(cc_input(token_server))
        pair = f"app:{quote(SECRET, safe='')}"
        assert {SECRET, quote(SECRET, safe=""), base64.b64encode(pair.encode()).decode()} <= set(
            cc.secrets(state)
        )
        assert FIRST in rt.secrets(rt.validate(rt_input(token_server, client_secret=SECRET)))


async def test_a_rotation_comes_back_in_the_state_and_an_unrotated_state_is_kept(
    token_server: TokenServer,
) -> None:
    grant = RotatingGrant(FIRST)
    token_server.respond = grant
    async with RefreshTokenType() as rt:
        first = rt.validate(rt_input(token_server, client_secret=SECRET))
        second, minted = await rt.mint(first)
        assert (second["refresh_token"], minted.value) == ("rt-1", "access-1")
        assert first["refresh_token"] == FIRST  # the input is not changed in place
        assert {**second, "refresh_token": FIRST} == first
        third, _ = await rt.mint(second)
        assert third["refresh_token"] == grant.current == "rt-2"

        token_server.respond = None  # a server that does not rotate
        same, _ = await rt.mint(third)
        assert same is third
    sent = [dict(request.form)["refresh_token"] for request in token_server.requests]
    assert sent == [FIRST, "rt-1", "rt-2"]
    assert grant.reuses == 0


async def test_invalid_grant_is_reauth_and_names_no_token(token_server: TokenServer) -> None:
    body = {"error": "invalid_grant", "error_description": f"{FIRST} was revoked"}
    token_server.answer = lambda n: Answer(400, json.dumps(body).encode())
    async with RefreshTokenType() as rt:
        state = rt.validate(rt_input(token_server))
        for _ in range(2):
            with pytest.raises(CredentialError) as caught:
                await rt.mint(state)
            assert caught.value.kind is ErrorKind.REAUTH_REQUIRED
            assert FIRST not in caught.value.message
        assert not rt._pending  # a dead credential's mint is not kept


async def test_a_rotation_cut_off_by_mint_timeout_reaches_the_next_mint(
    token_server: TokenServer,
) -> None:
    """The grant answers in 1.5 s and revokes on reuse; the provider cuts each mint at 1 s. The
    provider's mint is a record's state fed through the type, as the manager will."""
    grant = RotatingGrant(FIRST, lifetime=3, delay=1.5)
    token_server.respond = grant
    config = RefreshConfig(mint_timeout=1.0, floor=0.5, skew=0.2)
    async with RefreshTokenType() as rt:
        state: Mapping[str, Any] = rt.validate(rt_input(token_server, client_secret=SECRET))
        stored: list[str] = []

        async def mint() -> Minted[str]:
            nonlocal state
            new_state, minted = await rt.mint(state)
            if new_state is not state:
                stored.append(new_state["refresh_token"])  # the manager's compare-and-swap
            state = new_state
            return minted

        served = 0
        async with RefreshingProvider(mint, config=config) as provider:
            with anyio.move_on_after(6.0):
                while True:
                    try:
                        await provider.token()
                        served += 1
                    except CredentialError:
                        pass
                    await anyio.sleep(0.1)
            timeouts = provider.statistics().mints_failed
    assert timeouts >= 1  # mints were cut off
    assert (grant.invalid_grants, grant.reuses, grant.revoked) == (0, 0, False)
    assert grant.rotations >= 2
    assert served > 0
    assert stored == [f"rt-{n}" for n in range(1, len(stored) + 1)]
    assert state["refresh_token"] in (grant.current, f"rt-{grant.rotations - 1}")


async def test_a_stored_record_mints_after_a_restart_and_serves_its_token(
    token_server: TokenServer, tmp_path: Path
) -> None:
    """A record written by one store, opened by a new one (a restart), minted through the
    registry and stored back with compare-and-swap; its token is served without a request."""
    token_server.respond = RotatingGrant(FIRST)
    async with RefreshTokenType() as rt:
        registry = Registry([rt])
        state = rt.validate(rt_input(token_server))
        record = CredentialRecord(CredentialId.new(), "org:acme", rt.name, rt.version, state)
        await SQLiteStore(tmp_path / "c.db", PlainCipher()).create(record)

        store = SQLiteStore(tmp_path / "c.db", PlainCipher())  # a restart
        read = registry.upgrade(await store.get(record.id))
        new_state, minted = await registry[read.type].mint(read.state)
        assert minted.expires_in is not None
        issued = time.time()
        kept = StoredToken(minted.value, expires_at=issued + minted.expires_in, issued_at=issued)
        await store.update(
            attrs.evolve(read, state=new_state, token=kept), expected_revision=read.revision
        )

        again = await SQLiteStore(tmp_path / "c.db", PlainCipher()).get(record.id)
        assert (again.revision, again.state["refresh_token"], again.token) == (2, "rt-1", kept)
    assert len(token_server.requests) == 1


async def test_the_types_show_no_secret_in_repr() -> None:
    async with ClientCredentialsType() as cc, RefreshTokenType() as rt:
        assert (repr(cc), repr(rt)) == ("ClientCredentialsType()", "RefreshTokenType()")
