"""Every classified token-endpoint answer, through the mint, with httpx.MockTransport.

Unit tests of the edge cases (the loopback tests cover the real transport).
"""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintgate.adapters.oauth2 import ClientCredentials, ClientCredentialsMint, RefreshTokenMint
from mintgate.policy import CredentialError, ErrorKind
from mintgate.shell import Minted

pytestmark = pytest.mark.anyio

SECRET = "cs-mock-transport-secret"
REFRESH = "rt-mock-transport-refresh-token"
CREDENTIALS = ClientCredentials("https://auth.example/token", "id", SECRET)


def oauth_error(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"error": code, "error_description": f"echo {SECRET}"}
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("response", "kind", "retry_after"),
    [
        (oauth_error(400, "invalid_grant"), ErrorKind.REAUTH_REQUIRED, None),
        (oauth_error(401, "invalid_client"), ErrorKind.REAUTH_REQUIRED, None),
        (oauth_error(400, "invalid_request"), ErrorKind.CONFIGURATION, None),
        (oauth_error(400, "unauthorized_client"), ErrorKind.CONFIGURATION, None),
        (oauth_error(400, "unsupported_grant_type"), ErrorKind.CONFIGURATION, None),
        (oauth_error(400, "invalid_scope"), ErrorKind.CONFIGURATION, None),
        (
            oauth_error(503, "temporarily_unavailable", **{"Retry-After": "12"}),
            ErrorKind.UNAVAILABLE,
            12.0,
        ),
        (httpx.Response(429, headers={"Retry-After": "3"}), ErrorKind.RATE_LIMITED, 3.0),
        (httpx.Response(500), ErrorKind.UNAVAILABLE, None),
        (httpx.Response(502, text="<html>bad gateway</html>"), ErrorKind.UNAVAILABLE, None),
        (httpx.Response(401), ErrorKind.REAUTH_REQUIRED, None),
        (httpx.Response(403), ErrorKind.UNAVAILABLE, None),
        (httpx.Response(404, text="<html>Not Found</html>"), ErrorKind.UNAVAILABLE, None),
        (httpx.Response(400, text="<Code>Throttling</Code>"), ErrorKind.UNAVAILABLE, None),
        (
            httpx.Response(200, text="<html>sign in</html>", headers={"Content-Type": "text/html"}),
            ErrorKind.INVALID_RESPONSE,
            None,
        ),
        (
            httpx.Response(
                200, json={"access_token": "a", "token_type": "bearer", "expires_in": -1}
            ),
            ErrorKind.INVALID_RESPONSE,
            None,
        ),
        (
            httpx.Response(200, json=oauth_error(200, "invalid_grant").json()),
            ErrorKind.REAUTH_REQUIRED,
            None,
        ),
        (
            httpx.Response(
                200, content=b"x" * 70_000, headers={"Content-Type": "application/json"}
            ),
            ErrorKind.INVALID_RESPONSE,
            None,
        ),
    ],
)
async def test_each_answer_is_classified_without_the_secret(
    response: httpx.Response, kind: ErrorKind, retry_after: float | None
) -> None:
    transport = httpx.MockTransport(lambda request: response)
    async with httpx.AsyncClient(transport=transport) as client:
        mint = ClientCredentialsMint(CREDENTIALS, client=client)
        with pytest.raises(CredentialError) as caught:
            await mint()
    assert caught.value.kind is kind
    assert caught.value.retry_after == retry_after
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectTimeout("slow"), ErrorKind.TIMEOUT),
        (httpx.ReadTimeout("slow"), ErrorKind.TIMEOUT),
        (httpx.ConnectError(f"refused {SECRET}"), ErrorKind.UNAVAILABLE),
        (httpx.RemoteProtocolError("garbled"), ErrorKind.UNAVAILABLE),
    ],
)
async def test_transport_errors_name_their_type_only(error: Exception, kind: ErrorKind) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
        with pytest.raises(CredentialError) as caught:
            await ClientCredentialsMint(CREDENTIALS, client=client)()
    assert caught.value.kind is kind
    assert type(error).__name__ in caught.value.message
    assert SECRET not in str(caught.value)


async def test_a_callers_client_is_left_open() -> None:
    ok = httpx.Response(200, json={"access_token": "a", "token_type": "bearer", "expires_in": 60})
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: ok)) as client:
        async with ClientCredentialsMint(CREDENTIALS, client=client) as mint:
            assert (await mint()).expires_in == 60.0
        assert not client.is_closed
    assert json.loads(ok.content)["expires_in"] == 60


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from([200, 400, 401, 429, 503]) | st.integers(min_value=100, max_value=599),
    content_type=st.sampled_from(["application/json", "text/html", None]),
    body=st.one_of(
        st.binary(max_size=120),
        st.fixed_dictionaries(
            {},
            optional={
                "access_token": st.none() | st.integers() | st.text(max_size=8),
                "token_type": st.sampled_from(["bearer", "mac", ""]) | st.integers(),
                "expires_in": st.integers(-5, 10**10) | st.text(max_size=6) | st.floats(),
                "refresh_token": st.none() | st.integers() | st.sampled_from([REFRESH, ""]),
                "error": st.sampled_from(["invalid_grant", "server_error", ""]) | st.integers(),
                "error_description": st.sampled_from([SECRET, REFRESH, "oops"]),
            },
        ).map(lambda d: json.dumps(d).encode()),
    ),
)
def test_fuzzed_answers_through_the_refresh_mint_never_raise_otherwise_or_leak(
    status: int, content_type: str | None, body: bytes
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}

    async def run() -> None:
        response = httpx.Response(status, content=body, headers=headers)
        transport = httpx.MockTransport(lambda request: response)
        async with httpx.AsyncClient(transport=transport) as client:
            mint = RefreshTokenMint(CREDENTIALS, REFRESH, client=client)
            outcome: Minted[str] | CredentialError
            try:
                outcome = await mint()
            except CredentialError as error:  # the only exception a mint may raise
                outcome = error
        if isinstance(outcome, CredentialError):
            for secret in (SECRET, REFRESH):
                assert secret not in str(outcome)
                assert secret not in repr(outcome)
        else:
            assert isinstance(outcome.value, str)
            assert outcome.value
            assert REFRESH not in repr(outcome)

    anyio.run(run)
