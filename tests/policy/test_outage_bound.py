"""The outage bound of docs/policy.md, exactly: attempts <= threshold + max{p : sum c_i <= D}.

The bound is tight: when every wake-up is delivered on time and every mint fails at once, the
count of attempts equals it. The property test checks it is never exceeded under any history.
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
        (90.0, 5),  # 30 + 60
        (210.0, 6),  # 30 + 60 + 120
        (450.0, 7),  # + 240
        (750.0, 8),  # + 300 (the cap)
        (1050.0, 9),
        (3600.0, 3 + 4 + 10),  # four probes by 450 s, then one every 300 s up to 3450 s
    ],
)
def test_the_bound_for_the_defaults(outage: float, expected: int) -> None:
    assert outage_attempt_bound(RefreshConfig(), outage) == expected


def test_a_zero_cooldown_bounds_nothing() -> None:
    config = RefreshConfig(breaker_cooldown=0.0)
    assert outage_attempt_bound(config, 10.0) > 10**9


def _outage(config: RefreshConfig, duration: float, *, with_token: bool) -> tuple[int, float]:
    """Attempts during an outage in which wake-ups and demands come exactly on time."""
    script: Script[str] = Script(config, start=1e5, observer=InvariantChecker(config).observe)
    if with_token:
        script.demand()
        script.mint_ok("t1", expires_in=1e9)
        script.wake()  # the proactive refresh: the outage starts with it
    else:
        script.demand()
    attempts, opened_at = 1, None
    end = math.inf  # until the breaker opens; then the outage's length
    while script.now <= end:
        failed = script.mint_fail(ErrorKind.UNAVAILABLE, draw=0.0)
        if opened_at is None and script.state.breaker_open_until is not None:
            opened_at = script.now
            end = opened_at + duration
        wake = failed.wake_at if with_token else script.state.gate()
        assert wake is not None
        if wake > end:
            break
        script.now = max(script.now, wake)
        started = script.tick() if with_token else script.demand()
        assert started.start_mint is not None
        attempts += 1
    assert opened_at is not None
    return attempts, opened_at


@pytest.mark.parametrize("duration", [0.0, 30.0, 100.0, 1000.0, 3600.0, 86400.0])
@pytest.mark.parametrize("with_token", [True, False], ids=["token cached", "cold"])
def test_the_bound_is_reached_exactly_when_probes_come_on_time(
    duration: float, with_token: bool
) -> None:
    config = RefreshConfig(stale_grace=1e9)  # keep the token usable for the whole outage
    attempts, _ = _outage(config, duration, with_token=with_token)
    assert attempts == outage_attempt_bound(config, duration)
