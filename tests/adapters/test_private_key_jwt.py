"""private_key_jwt client authentication (RFC 7523), verified by the loopback server's side."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mintgate.adapters.oauth2 import ClientCredentials, ClientCredentialsMint, RefreshTokenMint
from mintgate.adapters.testing import Answer, TokenServer
from mintgate.policy import CredentialError, ErrorKind

pytestmark = pytest.mark.anyio

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def pem_pair(kind: str) -> tuple[str, str]:
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else (ec.generate_private_key(ec.SECP256R1()))
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


RSA_PRIVATE, RSA_PUBLIC = pem_pair("rsa")
EC_PRIVATE, EC_PUBLIC = pem_pair("ec")


def signed(server: TokenServer, private: str = RSA_PRIVATE, **kwargs: object) -> ClientCredentials:
    return ClientCredentials(
        server.url,
        "app-7",
        auth_method="private_key_jwt",
        private_key=private,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("private", "public", "algorithm"),
    [(RSA_PRIVATE, RSA_PUBLIC, "RS256"), (EC_PRIVATE, EC_PUBLIC, "ES256")],
)
async def test_the_assertion_verifies_with_the_public_key(
    token_server: TokenServer, private: str, public: str, algorithm: str
) -> None:
    credentials = signed(token_server, private, signing_algorithm=algorithm, key_id="key-1")
    async with ClientCredentialsMint(credentials) as mint:
        await mint()
        await mint()
    assertions = []
    for request in token_server.requests:
        form = dict(request.form)
        assert "Authorization" not in request.headers
        assert "client_secret" not in form
        assert form["client_assertion_type"] == JWT_BEARER
        assert form["client_id"] == "app-7"
        assertions.append(form["client_assertion"])
        claims = jwt.decode(
            form["client_assertion"], public, algorithms=[algorithm], audience=token_server.url
        )
        assert claims["iss"] == claims["sub"] == "app-7"
        assert claims["exp"] - claims["iat"] == 60
        assert jwt.get_unverified_header(form["client_assertion"])["kid"] == "key-1"
    assert len({jwt.decode(a, options={"verify_signature": False})["jti"] for a in assertions}) == 2


async def test_the_refresh_grant_authenticates_with_the_assertion(
    token_server: TokenServer,
) -> None:
    async with RefreshTokenMint(signed(token_server), "rt-1") as mint:
        await mint()
    form = dict(token_server.requests[0].form)
    assert form["grant_type"] == "refresh_token"
    assert jwt.decode(
        form["client_assertion"], RSA_PUBLIC, algorithms=["RS256"], audience=token_server.url
    )


async def test_an_echoed_assertion_is_scrubbed_from_the_error(token_server: TokenServer) -> None:
    def echo(n: int) -> Answer:
        assertion = dict(token_server.requests[-1].form)["client_assertion"]
        body = {"error": "invalid_client", "error_description": f"bad assertion {assertion}"}
        return Answer(401, json.dumps(body).encode())

    token_server.answer = echo
    async with ClientCredentialsMint(signed(token_server)) as mint:
        with pytest.raises(CredentialError) as caught:
            await mint()
    assertion = dict(token_server.requests[0].form)["client_assertion"]
    assert caught.value.kind is ErrorKind.REAUTH_REQUIRED
    assert assertion not in str(caught.value)
    assert "[redacted]" in caught.value.message


def test_a_bad_or_missing_key_is_refused_at_construction_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="private_key is required"):
        ClientCredentials("https://auth.example/t", "app", auth_method="private_key_jwt")
    with pytest.raises(ValueError, match="cannot sign RS256") as caught:
        ClientCredentials(
            "https://auth.example/t",
            "app",
            auth_method="private_key_jwt",
            private_key="-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----",
        )
    assert "not-a-key" not in str(caught.value)
    with pytest.raises(ValueError, match="cannot sign ES256"):
        ClientCredentials(
            "https://auth.example/t",
            "app",
            auth_method="private_key_jwt",
            private_key=RSA_PRIVATE,
            signing_algorithm="ES256",
        )


def test_the_private_key_is_not_in_the_repr() -> None:
    credentials = ClientCredentials(
        "https://auth.example/t",
        "app",
        auth_method="private_key_jwt",
        private_key=EC_PRIVATE,
        signing_algorithm="ES256",
    )
    assert "PRIVATE KEY" not in repr(credentials)


def test_an_algorithm_the_library_does_not_know_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match=r"cannot sign XX999 \(NotImplementedError\)"):
        ClientCredentials(
            "https://auth.example/t",
            "app",
            auth_method="private_key_jwt",
            private_key=RSA_PRIVATE,
            signing_algorithm="XX999",
        )
