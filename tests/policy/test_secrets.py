"""No secret ever shows in a repr, str or notice of the core."""

from __future__ import annotations

from mintgate.policy import ErrorKind, MintSucceeded, RefreshConfig
from mintgate.policy.testing import Script

SECRET = "eyJhbGciOi.SECRET-TOKEN-VALUE.sig"


def test_no_repr_or_notice_shows_the_token() -> None:
    script: Script[str] = Script(RefreshConfig(breaker_threshold=1), start=100.0)
    script.demand()
    script.mint_ok(SECRET, expires_in=100.0)
    script.demand()
    script.wake()
    script.mint_fail(ErrorKind.UNAVAILABLE)
    script.invalidate()
    script.advance(1000.0)
    script.demand()
    for event, step in script.history:
        for text in (repr(event), str(event), repr(step), str(step), repr(step.state)):
            assert SECRET not in text
        for notice in step.notices:
            assert SECRET not in repr(notice)
    assert script.history[1][1].resolve.token.value == SECRET  # type: ignore[union-attr]


def test_the_mint_result_event_hides_its_value() -> None:
    event = MintSucceeded(1.0, 1, SECRET, 2.0, 0.5)
    assert SECRET not in repr(event)
    assert "value" not in repr(event)
