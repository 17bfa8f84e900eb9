"""The demo's parts: its outage schedule and its scaled policy (the live run is in test_cli)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mintgate.policy import CredentialError, ErrorKind
from mintgate.simulations import _demo, parse_outage
from mintgate.simulations._demo import _Schedule, demo_config


def _at(elapsed: float, outage: str | None = "25s+30s:503") -> _Schedule:
    schedule = _Schedule(20.0, None if outage is None else parse_outage(outage), 120.0)
    schedule.started = time.monotonic() - elapsed
    return schedule


@pytest.mark.parametrize(
    ("elapsed", "failing", "left"),
    [(0.0, False, 25.0), (30.0, True, 25.0), (60.0, False, 85.0), (150.0, True, 25.0)],
)
def test_the_outage_recurs_every_cycle(elapsed: float, failing: bool, left: float) -> None:
    now_failing, now_left = _at(elapsed).failing()
    assert now_failing is failing
    assert now_left == pytest.approx(left, abs=0.1)


def test_the_server_answers_as_the_schedule_says() -> None:
    assert _at(10.0).answer(1).status == 200
    assert _at(30.0).answer(2).status == 503
    assert _at(30.0, "25s+30s:429").answer(3).headers["Retry-After"] == "5"
    hang = _at(30.0, "25s+30s:hang").answer(4)
    assert hang.delay == pytest.approx(26.0, abs=0.1)  # past the outage: the mint times out
    assert _at(30.0, None).answer(5).status == 200


@given(st.floats(2.0, 86_400.0))
def test_the_scaled_policy_is_valid_for_every_lifetime_the_demo_takes(lifetime: float) -> None:
    config = demo_config(lifetime)
    assert config.breaker_cooldown < config.breaker_cooldown_cap <= lifetime
    assert config.breaker_cooldown < config.rejecting_cap < config.breaker_cooldown_cap
    assert config.floor < lifetime


@pytest.mark.parametrize(
    ("retry_after", "shown"), [(0.0166012, "0.1"), (5.0, "5.0"), (2.04, "2.1"), (0.0, "0.0")]
)
def test_the_demo_rounds_a_retry_after_up_to_a_tenth(retry_after: float, shown: str) -> None:
    error = CredentialError(kind=ErrorKind.UNAVAILABLE, message="503", retry_after=retry_after)
    assert _demo._shown(error) == f"unavailable: 503 (retry after {shown} s)"
