"""Every classified token-endpoint answer, through the mint, with httpx.MockTransport.

Unit tests of the edge cases (the loopback tests cover the real transport).
"""

from __future__ import annotations

import json

import httpx
import pytest

from mintgate.adapters import ClientCredentials, ClientCredentialsMint
from mintgate.policy import CredentialError, ErrorKind

pytestmark = pytest.mark.anyio

SECRET = "cs-mock-transport-secret"
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
        (httpx.Response(403), ErrorKind.CONFIGURATION, None),
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
