"""Strict token-response parsing: every bad answer is a named CredentialError, none leaks."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from returns.result import Failure, Success

from mintgate.adapters.oauth2 import MAX_BODY_BYTES, TokenResponse, parse_token_response
from mintgate.policy import CredentialError, ErrorKind

NOW = 1_800_000_000.0
JSON = {"Content-Type": "application/json;charset=UTF-8"}
CLIENT_SECRET = "cs-4f9a-client-secret"
REFRESH_TOKEN = "rt-88b1-refresh-token"
ACCESS = "at-2c7e-access-token"


def parse(body: Any, status: int = 200, headers: Any = None, **kwargs: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_token_response(
        status,
        JSON if headers is None else headers,
        raw,
        now=NOW,
        secrets=[CLIENT_SECRET, REFRESH_TOKEN],
        **kwargs,
    )


def error_of(result: Any) -> CredentialError:
    assert isinstance(result, Failure), result
    error = result.failure()
    assert isinstance(error, CredentialError)
    return error


def test_a_good_response() -> None:
    result = parse(
        {
            "access_token": ACCESS,
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": REFRESH_TOKEN,
            "scope": "read write",
        }
    )
    assert result == Success(TokenResponse(ACCESS, "Bearer", 300.0, REFRESH_TOKEN, "read write"))
    assert ACCESS not in repr(result)
    assert REFRESH_TOKEN not in repr(result)


@pytest.mark.parametrize(
    ("expires_in", "seconds"), [(300, 300.0), ("300", 300.0), (300.0, 300.0), (None, 3600.0)]
)
def test_expires_in_forms(expires_in: Any, seconds: float) -> None:
    body = {"access_token": ACCESS, "token_type": "bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    assert parse(body).unwrap().expires_in == seconds


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"token_type": "bearer"}, "no access_token"),
        ({"access_token": "", "token_type": "bearer"}, "no access_token"),
        ({"access_token": 42, "token_type": "bearer"}, "no access_token"),
        ({"access_token": ACCESS}, "no token_type"),
        ({"access_token": ACCESS, "token_type": "mac"}, "token_type 'mac', expected 'bearer'"),
        ({"access_token": ACCESS, "token_type": "bearer", "expires_in": -5}, "not positive"),
        ({"access_token": ACCESS, "token_type": "bearer", "expires_in": 0}, "not positive"),
        ({"access_token": ACCESS, "token_type": "bearer", "expires_in": 10**12}, "above the limit"),
        ({"access_token": ACCESS, "token_type": "bearer", "expires_in": "soon"}, "not an integer"),
        ({"access_token": ACCESS, "token_type": "bearer", "expires_in": 1.5}, "not an integer"),
        ({"access_token": ACCESS, "token_type": "bearer", "expires_in": "²"}, "not an integer"),
        ({"access_token": ACCESS, "token_type": "bearer", "expires_in": True}, "boolean"),
        ({"access_token": ACCESS, "token_type": "bearer", "expires_in": [1]}, "list"),
        ({"access_token": ACCESS, "token_type": "bearer", "refresh_token": 7}, "refresh_token"),
        ({"access_token": ACCESS, "token_type": "bearer", "scope": ["a"]}, "scope"),
        ([ACCESS], "JSON list, not an object"),
    ],
)
def test_bad_fields_are_named(body: Any, message: str) -> None:
    error = error_of(parse(body))
    assert error.kind is ErrorKind.INVALID_RESPONSE
    assert message in error.message
    assert ACCESS not in error.message


def test_an_html_page_with_200_is_refused_by_content_type() -> None:
    error = error_of(parse(b"<html>login</html>", headers={"Content-Type": "text/html"}))
    assert "content type 'text/html', not JSON" in error.message


def test_a_body_that_is_not_json() -> None:
    assert "not valid JSON" in error_of(parse(b"\xff\xfe garbage", headers={})).message


def test_a_body_over_the_limit_is_refused_unread() -> None:
    error = error_of(parse(b" " * (MAX_BODY_BYTES + 1)))
    assert f"over the {MAX_BODY_BYTES}-byte limit" in error.message


def test_a_200_carrying_an_error_is_classified() -> None:
    error = error_of(parse({"error": "invalid_grant", "error_description": f"bad {REFRESH_TOKEN}"}))
    assert error.kind is ErrorKind.REAUTH_REQUIRED
    assert REFRESH_TOKEN not in error.message


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "retry_after"),
    [
        (400, JSON, {"error": "invalid_grant"}, ErrorKind.REAUTH_REQUIRED, None),
        (401, {}, b"", ErrorKind.REAUTH_REQUIRED, None),
        (429, {"Retry-After": "30"}, b"", ErrorKind.RATE_LIMITED, 30.0),
        (503, {"Retry-After": "5"}, b"<html>down</html>", ErrorKind.UNAVAILABLE, 5.0),
    ],
)
def test_error_answers_are_classified(
    status: int, headers: Any, body: Any, kind: ErrorKind, retry_after: float | None
) -> None:
    error = error_of(parse(body, status=status, headers=headers))
    assert error.kind is kind
    assert error.retry_after == retry_after


def test_a_200_with_an_error_field_that_is_no_code_is_invalid() -> None:
    error = error_of(parse({"access_token": ACCESS, "token_type": "bearer", "error": ["x"]}))
    assert error.kind is ErrorKind.INVALID_RESPONSE
    assert "'error' field that is not an error code" in error.message


def test_token_type_can_be_relaxed() -> None:
    assert (
        parse({"access_token": ACCESS, "token_type": "DPoP"}, token_type=None).unwrap().token_type
        == "DPoP"
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
    | st.sampled_from([ACCESS, CLIENT_SECRET, REFRESH_TOKEN]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "access_token": json_values,
        "token_type": st.sampled_from(["bearer", "Bearer", "mac", "", 5]) | json_values,
        "expires_in": st.integers(min_value=-10, max_value=10**10)
        | st.text(max_size=12)
        | json_values,
        "refresh_token": json_values,
        "scope": json_values,
        "error": st.sampled_from(["invalid_grant", "server_error", "x"]) | json_values,
        "error_description": json_values,
    },
)


@settings(max_examples=400)
@given(
    status=st.sampled_from([200, 201, 400, 401, 403, 429, 500, 503])
    | st.integers(min_value=100, max_value=599),
    content_type=st.sampled_from(
        ["application/json", "text/html", "text/plain", "application/problem+json", None]
    ),
    body=st.one_of(
        fields.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
    ),
    retry_after=st.none() | st.text(max_size=30),
)
def test_any_answer_is_a_result_and_leaks_no_secret(
    status: int, content_type: str | None, body: bytes, retry_after: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    result = parse_token_response(
        status, headers, body, now=NOW, secrets=[CLIENT_SECRET, REFRESH_TOKEN]
    )
    if isinstance(result, Success):
        token = result.unwrap()
        assert token.access_token
        assert 0 < token.expires_in <= 366 * 86400
    else:
        error = error_of(result)
        for secret in (CLIENT_SECRET, REFRESH_TOKEN):
            assert secret not in error.message
            assert secret not in repr(error)


def test_an_oversized_error_page_is_still_classified_by_status_and_retry_after() -> None:
    page = b"<html>" + b"x" * (MAX_BODY_BYTES + 10) + b"</html>"
    error = error_of(
        parse(page, status=503, headers={"Retry-After": "9", "Content-Type": "text/html"})
    )
    assert error.kind is ErrorKind.UNAVAILABLE
    assert error.retry_after == 9.0
    assert "not an OAuth2 error object" in error.message


@pytest.mark.parametrize(
    "bad", ["at\r\nX-Evil: 1", "at\nx", "at\x00x", "at\x1bx", "at\x7fx", "at-é", "at\tx", "日本"]
)
def test_an_access_token_that_cannot_go_in_a_header_is_refused(bad: str) -> None:
    error = error_of(parse({"access_token": bad, "token_type": "bearer"}))
    assert error.kind is ErrorKind.INVALID_RESPONSE
    assert "access_token with a character not allowed in an HTTP header" in error.message
    assert bad not in error.message


@pytest.mark.parametrize(
    "expires_in", [10**400, str(10**400), "9" * 5000, "0" * 30 + "9" * 30, 10**16, "1" + "0" * 16]
)
def test_an_expires_in_of_hundreds_of_digits_is_out_of_range(expires_in: Any) -> None:
    error = error_of(
        parse({"access_token": ACCESS, "token_type": "bearer", "expires_in": expires_in})
    )
    assert error.kind is ErrorKind.INVALID_RESPONSE
    assert "expires_in is out of range" in error.message


def test_leading_zeros_do_not_make_a_short_lifetime_out_of_range() -> None:
    body = {"access_token": ACCESS, "token_type": "bearer", "expires_in": "0" * 40 + "300"}
    assert parse(body).unwrap().expires_in == 300.0


def jwt(claims: Any, *, raw_payload: str | None = None) -> str:
    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    payload = raw_payload if raw_payload is not None else segment(json.dumps(claims).encode())
    header = segment(b'{"alg": "RS256"}')
    return f"{header}.{payload}.c2lnbmF0dXJl"


def test_a_jwt_access_token_without_expires_in_expires_at_its_exp() -> None:
    access = jwt({"sub": "app", "exp": int(NOW) + 900})
    token = parse({"access_token": access, "token_type": "bearer"}).unwrap()
    assert token.expires_at == NOW + 900
    assert token.expires_in == 900.0


def test_expires_in_wins_over_a_jwt_exp() -> None:
    access = jwt({"exp": int(NOW) + 900})
    token = parse({"access_token": access, "token_type": "bearer", "expires_in": 60}).unwrap()
    assert (token.expires_in, token.expires_at) == (60.0, None)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(NOW) - 1}, "JWT exp is in the past"),
        ({"exp": int(NOW)}, "JWT exp is in the past"),
        ({"exp": int(NOW) + 367 * 86400}, "JWT exp is more than"),
    ],
)
def test_a_jwt_exp_in_the_past_or_past_a_year_is_refused(claims: Any, message: str) -> None:
    error = error_of(parse({"access_token": jwt(claims), "token_type": "bearer"}))
    assert error.kind is ErrorKind.INVALID_RESPONSE
    assert message in error.message


@pytest.mark.parametrize(
    "access",
    [
        jwt({"sub": "no exp"}),
        jwt({"exp": "tomorrow"}),
        jwt({"exp": True}),
        jwt({"exp": 10**400}),
        jwt({"exp": None}),
        jwt([1, 2]),
        jwt(None, raw_payload="not-base64-json"),
        jwt(None, raw_payload="e30x"),
        "only.two",
        "an-opaque-token",
    ],
)
def test_a_malformed_jwt_or_exp_gets_the_default_lifetime(
    access: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mintgate.adapters")
    token = parse({"access_token": access, "token_type": "bearer"}).unwrap()
    assert (token.expires_in, token.expires_at) == (3600.0, None)
    assert all(access not in record.getMessage() for record in caplog.records)


@given(
    access=st.text(max_size=40),
    expires_in=st.integers() | st.integers(min_value=10**300, max_value=10**400),
)
def test_any_access_token_or_lifetime_is_a_result(access: str, expires_in: int) -> None:
    result = parse({"access_token": access, "token_type": "bearer", "expires_in": expires_in})
    if isinstance(result, Success):
        token = result.unwrap()
        token_header = f"Bearer {token.access_token}"
        assert token_header.isascii()
        assert token_header.isprintable()
        assert 0 < token.expires_in <= 366 * 86400
    else:
        assert error_of(result).kind is ErrorKind.INVALID_RESPONSE
