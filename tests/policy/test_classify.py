"""classify_http: RFC 6749 section 5.2 codes, statuses, Retry-After, and no secret echoed."""

from __future__ import annotations

import json
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mintgate.policy import RETRY_AFTER_CAP, ErrorKind, classify_http, parse_retry_after

NOW = 1_800_000_000.0  # a wall-clock time, as the caller passes it


def oauth(code: str, description: str | None = None) -> bytes:
    body: dict[str, str] = {"error": code}
    if description is not None:
        body["error_description"] = description
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("invalid_grant", ErrorKind.REAUTH_REQUIRED),
        ("invalid_client", ErrorKind.REAUTH_REQUIRED),
        ("invalid_request", ErrorKind.CONFIGURATION),
        ("unauthorized_client", ErrorKind.CONFIGURATION),
        ("unsupported_grant_type", ErrorKind.CONFIGURATION),
        ("invalid_scope", ErrorKind.CONFIGURATION),
        ("invalid_target", ErrorKind.CONFIGURATION),
        ("temporarily_unavailable", ErrorKind.UNAVAILABLE),
        ("server_error", ErrorKind.UNAVAILABLE),
        ("slow_down", ErrorKind.RATE_LIMITED),
    ],
)
def test_rfc6749_error_codes(code: str, kind: ErrorKind) -> None:
    error = classify_http(400, {}, oauth(code), now=NOW)
    assert error.kind is kind
    assert repr(code) in error.message
    assert error.retryable is (kind not in (ErrorKind.REAUTH_REQUIRED, ErrorKind.CONFIGURATION))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, ErrorKind.RATE_LIMITED),
        (408, ErrorKind.TIMEOUT),
        (500, ErrorKind.UNAVAILABLE),
        (502, ErrorKind.UNAVAILABLE),
        (503, ErrorKind.UNAVAILABLE),
        (504, ErrorKind.UNAVAILABLE),
        (401, ErrorKind.REAUTH_REQUIRED),
        (400, ErrorKind.UNAVAILABLE),
        (403, ErrorKind.UNAVAILABLE),
        (404, ErrorKind.UNAVAILABLE),
        (405, ErrorKind.UNAVAILABLE),
        (409, ErrorKind.UNAVAILABLE),
        (451, ErrorKind.UNAVAILABLE),
        (302, ErrorKind.CONFIGURATION),
        (101, ErrorKind.UNKNOWN),
    ],
)
def test_statuses_without_an_oauth_body(status: int, kind: ErrorKind) -> None:
    error = classify_http(status, {}, b"", now=NOW)
    assert error.kind is kind
    assert f"HTTP {status} with an empty body" in error.message


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"", {}),
        (b"<html><body>Request blocked by WAF</body></html>", {"Content-Type": "text/html"}),
        (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error></ErrorResponse>",
            {"Content-Type": "text/xml"},
        ),
        (b'{"message": "Forbidden"}', {"Content-Type": "application/json"}),
        (b'{"error": 42}', {"Content-Type": "application/json"}),
    ],
)
@pytest.mark.parametrize("status", [400, 403, 404, 418])
def test_a_4xx_that_is_no_oauth2_error_object_is_retryable_and_honours_retry_after(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    error = classify_http(status, {**headers, "Retry-After": "7"}, body, now=NOW)
    assert error.kind is ErrorKind.UNAVAILABLE
    assert error.retryable
    assert error.retry_after == 7.0
    assert f"HTTP {status}" in error.message
    assert b"WAF" not in body or "WAF" not in error.message


def test_a_401_without_an_oauth2_body_still_needs_new_credentials() -> None:
    for body in (b"", b"<html>Unauthorized</html>"):
        error = classify_http(401, {"Retry-After": "7"}, body, now=NOW)
        assert error.kind is ErrorKind.REAUTH_REQUIRED
        assert error.retry_after is None


def test_an_rfc6749_code_keeps_its_kind_whatever_the_status() -> None:
    assert classify_http(403, {}, oauth("invalid_scope"), now=NOW).kind is ErrorKind.CONFIGURATION
    assert classify_http(404, {}, oauth("invalid_client"), now=NOW).kind is (
        ErrorKind.REAUTH_REQUIRED
    )
    assert classify_http(400, {}, oauth("slow_down"), now=NOW).kind is ErrorKind.RATE_LIMITED


def test_the_message_names_the_endpoints_host_and_asks_to_check_a_wrong_url() -> None:
    host = "login.example.com"
    missing = classify_http(404, {}, b"<html>Not Found</html>", now=NOW, host=host)
    assert missing.message == (
        "token endpoint login.example.com answered HTTP 404 with a body that is not an OAuth2 "
        "error object (check token_url)"
    )
    forbidden = classify_http(403, {}, b"", now=NOW, host=host)
    assert forbidden.message == f"token endpoint {host} answered HTTP 403 with an empty body"
    assert classify_http(503, {}, b"", now=NOW, host="bad\nhost").message.startswith(
        "token endpoint bad?host answered"
    )
    assert "check token_url" not in classify_http(404, {}, oauth("invalid_grant"), now=NOW).message


def test_an_unknown_code_falls_back_to_the_status() -> None:
    assert classify_http(503, {}, oauth("made_up"), now=NOW).kind is ErrorKind.UNAVAILABLE
    assert classify_http(400, {}, oauth("made_up"), now=NOW).kind is ErrorKind.CONFIGURATION


def test_an_html_error_page_is_classified_by_status_without_echoing_it() -> None:
    page = b"<html><body>502 Bad Gateway from proxy-7</body></html>"
    error = classify_http(502, {"Content-Type": "text/html"}, page, now=NOW)
    assert error.kind is ErrorKind.UNAVAILABLE
    assert "not an OAuth2 error object" in error.message
    assert "proxy-7" not in error.message


def test_a_success_with_an_error_field_is_an_error() -> None:
    assert classify_http(200, {}, oauth("invalid_grant"), now=NOW).kind is ErrorKind.REAUTH_REQUIRED


def test_a_success_without_an_error_field_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="not an error answer"):
        classify_http(200, {}, b'{"access_token": "x"}', now=NOW)


@pytest.mark.parametrize("status", [0, 99, 600, True])
def test_a_status_that_is_not_http_is_a_caller_bug(status: int) -> None:
    with pytest.raises(ValueError, match="HTTP status code"):
        classify_http(status, {}, b"", now=NOW)


# -- Retry-After -----------------------------------------------------------------------------------


def test_retry_after_in_delta_seconds() -> None:
    error = classify_http(429, {"Retry-After": "120"}, b"", now=NOW)
    assert error.retry_after == 120.0


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    error = classify_http(503, [("retry-after", formatdate(NOW + 90, usegmt=True))], b"", now=NOW)
    assert error.retry_after == pytest.approx(90.0)


def test_retry_after_header_names_are_case_insensitive() -> None:
    assert classify_http(429, {"RETRY-AFTER": "7"}, b"", now=NOW).retry_after == 7.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("0", 0.0),
        (" 30 ", 30.0),
        (formatdate(NOW - 600, usegmt=True), 0.0),
        ("Sun, 06 Nov 1994 08:49:37", None),  # no zone: not an HTTP-date
        ("99999999", RETRY_AFTER_CAP),
        ("²", None),  # a Unicode digit that str.isdigit() accepts and float() refuses
        ("١٢", None),  # Arabic-Indic digits: not delta-seconds either
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_after_is_ignored_on_errors_that_are_not_retried() -> None:
    error = classify_http(400, {"Retry-After": "60"}, oauth("invalid_grant"), now=NOW)
    assert error.retry_after is None


# -- secrets ---------------------------------------------------------------------------------------

CLIENT_SECRET = "s3cr3t-client-value"
REFRESH_TOKEN = "rt-7f2c9a-refresh-value"


def test_an_echoed_secret_is_redacted_from_the_description() -> None:
    body = oauth("invalid_client", f"client_secret {CLIENT_SECRET} is wrong for rt {REFRESH_TOKEN}")
    error = classify_http(401, {}, body, now=NOW, secrets=[CLIENT_SECRET, REFRESH_TOKEN])
    assert CLIENT_SECRET not in error.message
    assert REFRESH_TOKEN not in error.message
    assert "[redacted]" in error.message


def test_a_long_description_is_cut_and_control_characters_replaced() -> None:
    error = classify_http(400, {}, oauth("invalid_scope", "x\r\n" * 500), now=NOW)
    assert len(error.message) < 300
    assert "\n" not in error.message


@given(
    status=st.integers(min_value=300, max_value=599),
    body=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300),
        st.builds(
            lambda code, desc: json.dumps({"error": code, "error_description": desc}),
            st.text(max_size=40),
            st.text(max_size=300),
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=20,
        ).map(json.dumps),
    ),
    retry_after=st.one_of(st.none(), st.text(max_size=40)),
)
def test_any_error_answer_classifies_without_raising_or_leaking(
    status: int, body: bytes | str, retry_after: str | None
) -> None:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    error = classify_http(status, headers, body, now=NOW, secrets=[CLIENT_SECRET])
    assert CLIENT_SECRET not in error.message
    assert error.retry_after is None or 0 <= error.retry_after <= RETRY_AFTER_CAP


@given(st.text(max_size=60))
def test_a_description_carrying_the_secret_never_leaks_it(padding: str) -> None:
    body = oauth("invalid_grant", padding + CLIENT_SECRET + padding)
    error = classify_http(400, {}, body, now=NOW, secrets=[CLIENT_SECRET])
    assert CLIENT_SECRET not in error.message
