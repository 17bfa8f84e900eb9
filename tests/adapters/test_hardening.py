"""OAuth2 over httpx against the loopback server playing what real servers and bad input did.

Each test is a regression test for issue 13: rotation under mint_timeout, decompression bombs,
secrets echoed in every form they are sent in, and what ClientCredentials accepts.
"""

from __future__ import annotations

import json
import logging
import tracemalloc
from base64 import b64encode
from typing import Any
from urllib.parse import quote

import anyio
import pytest

from mintgate.adapters.oauth2 import (
    MAX_BODY_BYTES,
    ClientCredentials,
    ClientCredentialsMint,
    RefreshTokenMint,
)
from mintgate.adapters.testing import (
    Answer,
    Request,
    RotatingGrant,
    TokenServer,
    gzip_bomb,
    gzipped,
    token,
)
from mintgate.policy import CredentialError, ErrorKind, RefreshConfig
from mintgate.shell import RefreshingProvider

from ..benchmarks import load_benchmark

pytestmark = pytest.mark.anyio

FIRST = "rt-first-refresh-token"  # the cut-off test's own grant
SECRET = "s3cr3t/client+secret=&more"  # characters that every encoding changes


def creds(server: TokenServer, **kwargs: Any) -> ClientCredentials:
    return ClientCredentials(server.url, "app", SECRET, **kwargs)


# -- 1. rotation under mint_timeout ---------------------------------------------------------------


limits = load_benchmark("oauth2_limits")  # its rotation run is a figure and this test


async def test_a_refresh_cut_at_mint_timeout_keeps_a_rotating_grant(
    token_server: TokenServer,
) -> None:
    run = await limits.rotation(token_server, 8.0)
    assert (run.invalid_grants, run.reuses, run.revoked) == (0, 0, False)
    assert run.timeouts >= 1  # the provider did cut mints off (TIMEOUT)
    assert ErrorKind.REAUTH_REQUIRED not in run.refused
    # each refresh token was sent once, and always the newest
    assert run.sent == (limits.FIRST, *(f"rt-{n}" for n in range(1, len(run.sent))))
    assert len(run.sent) >= 2
    # every rotation was persisted, the last one too (closing waited for its section)
    assert run.persisted == tuple(f"rt-{n}" for n in range(1, run.rotations + 1))
    assert run.distinct_served >= 2  # tokens from at least two refreshes were served
    assert run.requests < run.attempts  # cut-off attempts' tokens were served without one


async def test_a_cut_off_attempts_token_is_served_by_the_next_attempt_without_a_request(
    token_server: TokenServer,
) -> None:
    grant = RotatingGrant(FIRST, lifetime=3600, delay=1.5)
    token_server.respond = grant
    config = RefreshConfig(mint_timeout=1.0)
    async with (
        RefreshTokenMint(creds(token_server), FIRST) as mint,
        RefreshingProvider(mint, config=config) as provider,
    ):
        with pytest.raises(CredentialError) as caught:
            await provider.token()  # attempt 1: cut off at 1 s
        assert caught.value.kind is ErrorKind.TIMEOUT
        await anyio.sleep(1.0)  # its request ends at 1.5 s; the backoff runs out
        served = await provider.token()  # attempt 2: the answer attempt 1 brought home
    assert served.value == "access-1"
    assert len(token_server.requests) == 1
    assert grant.invalid_grants == 0


async def test_without_the_committed_section_the_same_run_loses_the_grant(
    token_server: TokenServer,
) -> None:
    """The control: with the request cut off like any mint, reuse revokes the grant."""
    run = await limits.rotation(token_server, 5.0, committed=False)
    assert run.revoked  # dead at the issuer: every later refresh is invalid_grant
    assert run.reuses >= 1
    assert limits.FIRST in run.sent[1:]  # the first refresh token went out again


# -- 6. decompression bombs -----------------------------------------------------------------------


async def mint_peak(server: TokenServer) -> tuple[CredentialError | None, int]:
    """One client-credentials mint: its error, and the most memory Python held during it."""
    async with ClientCredentialsMint(creds(server)) as mint:
        tracemalloc.start()
        try:
            await mint()
        except CredentialError as error:
            return error, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return None, 0


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_decompression_bomb_is_refused_without_inflating_it(
    token_server: TokenServer, encoding: str
) -> None:
    bomb = gzip_bomb(256 << 20, encoding=encoding)  # 256 MiB of zeros, ~250 KiB on the wire
    token_server.answer = lambda n: bomb
    error, peak = await mint_peak(token_server)
    assert error is not None
    assert error.kind is ErrorKind.INVALID_RESPONSE
    assert f"over the {MAX_BODY_BYTES}-byte limit" in error.message
    assert peak < 5 << 20  # never more than the cap and a chunk, not the bomb


async def test_a_bomb_on_an_error_status_is_classified_by_its_status(
    token_server: TokenServer,
) -> None:
    token_server.answer = lambda n: gzip_bomb(256 << 20, status=503)
    error, peak = await mint_peak(token_server)
    assert error is not None
    assert error.kind is ErrorKind.UNAVAILABLE
    assert peak < 5 << 20


async def test_a_gzipped_answer_is_read(token_server: TokenServer) -> None:
    token_server.answer = lambda n: gzipped(token(n=n))
    async with ClientCredentialsMint(creds(token_server)) as mint:
        assert (await mint()).value == "access-1"
    assert token_server.requests[0].headers["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"Content-Encoding": "br"}, b"\x0b\x02\x80", "content encoding 'br' is not one"),
        ({"Content-Encoding": "gzip, gzip"}, b"", "content encoding 'gzip, gzip' is not one"),
        ({"Content-Encoding": "gzip"}, b"\x1f\x8b not gzip at all", "not valid gzip data"),
    ],
)
async def test_an_encoding_we_do_not_read_is_named(
    token_server: TokenServer, headers: dict[str, str], body: bytes, message: str
) -> None:
    token_server.answer = lambda n: Answer(
        200, body, {"Content-Type": "application/json", **headers}
    )
    async with ClientCredentialsMint(creds(token_server)) as mint:
        with pytest.raises(CredentialError) as caught:
            await mint()
    assert caught.value.kind is ErrorKind.INVALID_RESPONSE
    assert message in caught.value.message


# -- 7. secrets echoed in every form --------------------------------------------------------------


def echo(field: str) -> Any:
    """A server that puts what it received into its invalid_client description."""

    def respond(request: Request) -> Answer:
        if field == "authorization":
            seen = request.headers.get("Authorization", "")
        elif field == "form":
            seen = "&".join(f"{k}={quote(v, safe='')}" for k, v in request.form)
        elif field == "prefix":
            seen = SECRET[:10] + "..."
        else:
            seen = quote(SECRET, safe="")
        body = {"error": "invalid_client", "error_description": f"bad client: {seen}"}
        return Answer(401, json.dumps(body).encode())

    return respond


@pytest.mark.parametrize(
    ("field", "auth_method"),
    [
        ("authorization", "client_secret_basic"),
        ("form", "client_secret_post"),
        ("percent", "client_secret_post"),
        ("prefix", "client_secret_basic"),
    ],
)
async def test_an_echoed_secret_in_any_form_is_scrubbed(
    token_server: TokenServer, caplog: pytest.LogCaptureFixture, field: str, auth_method: str
) -> None:
    caplog.set_level(logging.DEBUG)
    token_server.respond = echo(field)
    credentials = creds(token_server, auth_method=auth_method)
    forms = {
        SECRET,
        quote(SECRET, safe=""),
        SECRET[:8],
        b64encode(f"app:{quote(SECRET, safe='')}".encode()).decode(),
        b64encode(f"app:{SECRET}".encode()).decode()[:12],
    }
    async with (
        ClientCredentialsMint(credentials) as mint,
        RefreshingProvider(mint) as provider,
    ):
        with pytest.raises(CredentialError) as caught:
            await provider.token()
    assert "[redacted]" in caught.value.message
    shown = [str(caught.value), repr(caught.value)] + [r.getMessage() for r in caplog.records]
    for text in shown:
        for form in forms:
            assert form not in text, (form, text)


# -- 8. construction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": "5"}, "ClientCredentials.timeout must be a number of seconds"),
        ({"timeout": True}, "ClientCredentials.timeout must be a number of seconds"),
        ({"timeout": 0}, "ClientCredentials.timeout must be positive and finite"),
        ({"timeout": float("nan")}, "ClientCredentials.timeout must be positive and finite"),
        ({"default_lifetime": float("inf")}, "default_lifetime must be positive and finite"),
        ({"default_lifetime": -1}, "default_lifetime must be positive and finite"),
        ({"scope": ""}, "ClientCredentials.scope must not be empty"),
        ({"scope": []}, "ClientCredentials.scope must not be empty"),
        ({"scope": ["read", 7]}, "ClientCredentials.scope holds 7"),
        ({"scope": ["read write"]}, "ClientCredentials.scope holds 'read write'"),
        ({"scope": 42}, "scope must be a string or a sequence of strings, got int"),
        ({"extra": {"k": 1}}, "ClientCredentials.extra must map strings to strings"),
        ({"audience": 3}, "ClientCredentials.audience must be a string"),
    ],
)
def test_client_credentials_name_the_bad_field(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ClientCredentials("https://auth.example/token", "app", SECRET, **kwargs)


def test_a_scope_sequence_is_joined_with_spaces() -> None:
    credentials = ClientCredentials(
        "https://auth.example/t", "app", SECRET, scope=("read", "write")
    )
    assert credentials.scope == "read write"


def test_the_token_urls_query_and_the_extra_values_stay_out_of_repr_and_messages() -> None:
    url = "https://auth.example/token?api-version=2&sig=query-signature-secret"
    credentials = ClientCredentials(url, "app", SECRET, extra={"api_key": "extra-field-secret"})
    shown = repr(credentials)
    assert "query-signature-secret" not in shown
    assert "extra-field-secret" not in shown
    assert "https://auth.example/token?[redacted]" in shown
    assert "'api_key': ..." in shown
    insecure = "http://auth.example/token?sig=query-signature-secret"
    with pytest.raises(ValueError, match="must use https") as caught:
        ClientCredentials(insecure, "app", SECRET)
    assert "query-signature-secret" not in str(caught.value)
    for userinfo in ("https://app:pw@auth.example/t", "https://app@auth.example/t"):
        with pytest.raises(ValueError, match="must not carry credentials"):
            ClientCredentials(userinfo, "app", SECRET)


def test_the_request_deadline_fires_before_the_providers_mint_timeout() -> None:
    credentials = ClientCredentials("https://auth.example/t", "app", SECRET)
    assert credentials.timeout < RefreshConfig().mint_timeout


async def test_timeout_is_one_deadline_for_the_whole_request(token_server: TokenServer) -> None:
    """A body trickled a piece every 0.3 s never trips a per-read timeout of 1 s; ours does."""
    token_server.answer = lambda n: Answer(body=token(n=n).body, trickle=0.3)
    async with ClientCredentialsMint(creds(token_server, timeout=1.0)) as mint:
        started = anyio.current_time()
        with pytest.raises(CredentialError) as caught:
            await mint()
        took = anyio.current_time() - started
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert "did not answer within timeout=1 s" in caught.value.message
    assert took < 2.0  # not the 3 s the trickle takes
