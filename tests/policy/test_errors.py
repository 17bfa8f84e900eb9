"""CredentialError: a value that compares equal, derives retryability, and can be raised."""

from __future__ import annotations

import pickle

import pytest

from mintgate.policy import CredentialError, ErrorKind


def test_compares_and_hashes_by_value() -> None:
    a = CredentialError(kind=ErrorKind.TIMEOUT, message="mint took too long", retry_after=2)
    b = CredentialError(kind=ErrorKind.TIMEOUT, message="mint took too long", retry_after=2.0)
    assert a == b
    assert hash(a) == hash(b)
    assert a != a.with_retry_after(3.0)
    assert a != CredentialError(kind=ErrorKind.UNKNOWN, message="mint took too long", retry_after=2)


@pytest.mark.parametrize(
    ("kind", "retryable", "reauth"),
    [
        (ErrorKind.UNAVAILABLE, True, False),
        (ErrorKind.TIMEOUT, True, False),
        (ErrorKind.RATE_LIMITED, True, False),
        (ErrorKind.INVALID_RESPONSE, True, False),
        (ErrorKind.CIRCUIT_OPEN, True, False),
        (ErrorKind.UNKNOWN, True, False),
        (ErrorKind.REAUTH_REQUIRED, False, True),
        (ErrorKind.CONFIGURATION, False, False),
    ],
)
def test_retryable_and_requires_reauth_derive_from_the_kind(
    kind: ErrorKind, retryable: bool, reauth: bool
) -> None:
    error = CredentialError(kind=kind, message="x")
    assert error.retryable is retryable
    assert error.requires_reauth is reauth


def test_can_be_raised_caught_noted_and_pickled() -> None:
    error = CredentialError(kind=ErrorKind.RATE_LIMITED, message="slow down", retry_after=5)
    with pytest.raises(CredentialError) as caught:
        raise error
    caught.value.add_note("a note, as hypothesis and pytest add them")
    assert pickle.loads(pickle.dumps(error)) == error
    assert str(error) == "rate_limited: slow down (retry after 5 s)"
    assert repr(error) == (
        "CredentialError(kind=ErrorKind.RATE_LIMITED, message='slow down', retry_after=5.0)"
    )


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"kind": "timeout", "message": "m"}, TypeError, "kind must be an ErrorKind"),
        ({"kind": ErrorKind.TIMEOUT, "message": 3}, TypeError, "message must be a str"),
        ({"kind": ErrorKind.TIMEOUT, "message": "m", "retry_after": -1}, ValueError, "retry_after"),
        (
            {"kind": ErrorKind.TIMEOUT, "message": "m", "retry_after": float("nan")},
            ValueError,
            "retry_after",
        ),
    ],
)
def test_bad_construction_is_a_clear_error(
    kwargs: dict[str, object], exc: type, match: str
) -> None:
    with pytest.raises(exc, match=match):
        CredentialError(**kwargs)  # type: ignore[arg-type]
