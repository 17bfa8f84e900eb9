"""Strict token-response parsing: every bad answer is a named CredentialError, none leaks."""

from __future__ import annotations

import json
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
