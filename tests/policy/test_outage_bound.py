"""The outage bounds of docs/policy.md: attempts <= threshold (+ 2) + max{p : sum c_i <= D}.

``c_i = min(cap_min, cooldown * 2**(i-1))`` with ``cap_min`` the effective rejecting cap; the
``+ 2`` applies when a usable token exists at some point of the outage (the deadline probe may
shorten two waits). The no-token bound is tight: when every probe starts at its half-open time
and fails at once, the count of attempts equals it. The property test checks that neither bound
is ever exceeded under any history.
"""

from __future__ import annotations

import math

import pytest

from mintgate.policy import ErrorKind, RefreshConfig
from mintgate.policy.testing import InvariantChecker, Script, outage_attempt_bound


@pytest.mark.parametrize(
    ("outage", "expected"),
    [
        (0.0, 3),
        (29.9, 3),
        (30.0, 4),  # first probe at 30
        (89.9, 4),
        (90.0, 5),  # 30 + 60: the rejecting cap (60 s) already holds
        (150.0, 6),
        (210.0, 7),
        (3600.0, 3 + 1 + 59),  # 30 s, then one probe every 60 s up to 3570 s
    ],
)
def test_the_bounds_for_the_defaults(outage: float, expected: int) -> None:
    config = RefreshConfig()
    assert outage_attempt_bound(config, outage, token_cached=False) == expected
    assert outage_attempt_bound(config, outage, token_cached=True) == expected + 2
    assert outage_attempt_bound(config, outage) == expected + 2  # the safe default


def test_the_bound_follows_the_effective_rejecting_cap() -> None:
    short = RefreshConfig(breaker_cooldown=5.0, breaker_cooldown_cap=5.0)  # a short cap is kept
    assert outage_attempt_bound(short, 100.0, token_cached=False) == 3 + 20
    long = RefreshConfig(breaker_rejecting_cap=300.0)  # the old behaviour: 30, 60, 120, 240, 300
    assert outage_attempt_bound(long, 3600.0, token_cached=False) == 3 + 4 + 10


def _outage(
    config: RefreshConfig, duration: float, *, with_token: bool, lifetime: float = 1e9
) -> tuple[int, float]:
    """Attempts during an outage in which wake-ups and demands come exactly on time."""
    script: Script[str] = Script(config, start=1e5, observer=InvariantChecker(config).observe)
    script.demand()
    if with_token:
        script.mint_ok("t1", expires_in=lifetime)
        script.wake()  # the proactive refresh: the outage starts with it
    attempts, opened_at = 1, None
    end = math.inf  # until the breaker opens; then the outage's length
    while True:
        script.mint_fail(ErrorKind.UNAVAILABLE, draw=0.0)
        if opened_at is None and script.state.breaker_open_until is not None:
            opened_at = script.now
            end = opened_at + duration
        while True:  # to the next attempt: a wake-up (a token is cached) or a caller's demand
            wake = script.state.wake_at if with_token else script.state.gate()
            if wake is None or wake > end:
                assert opened_at is not None
                return attempts, opened_at
            script.now = max(script.now, wake)
            started = script.tick() if with_token else script.demand()
            if started.start_mint is not None:
                attempts += 1
                break


DURATIONS = [0.0, 30.0, 100.0, 1000.0, 3600.0, 86400.0]


@pytest.mark.parametrize("duration", DURATIONS)
@pytest.mark.parametrize(
    "config",
    [RefreshConfig(), RefreshConfig(breaker_rejecting_cap=10.0, breaker_cooldown=20.0)],
    ids=["defaults", "a rejecting cap below the cooldown"],
)
def test_the_no_token_bound_is_reached_exactly_when_probes_come_on_time(
    duration: float, config: RefreshConfig
) -> None:
    attempts, _ = _outage(config, duration, with_token=False)
    assert attempts == outage_attempt_bound(config, duration, token_cached=False)


@pytest.mark.parametrize("duration", DURATIONS)
@pytest.mark.parametrize(
    ("lifetime", "grace"),
    [(3600.0, 0.0), (3600.0, 600.0), (1e9, 0.0)],
    ids=["the token expires", "stale grace, then it expires", "the token outlives the outage"],
)
def test_with_a_token_cached_the_bound_holds(
    duration: float, lifetime: float, grace: float
) -> None:
    config = RefreshConfig(stale_grace=grace)
    attempts, _ = _outage(config, duration, with_token=True, lifetime=lifetime)
    assert attempts <= outage_attempt_bound(config, duration, token_cached=True)
