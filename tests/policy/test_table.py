"""Every (sub-state, event type) pair is handled or rejected with a clear error, never a crash.

In the style of h2's ``test_state_machines.py``: the sub-states are reached by short scripts
(so only reachable states are tested), the events cover every type with well-formed and
malformed values, and one exhaustive ``@given`` walks all pairs.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mintgate.policy import (
    CredentialError,
    Demand,
    ErrorKind,
    Event,
    Invalidate,
    MintFailed,
    MintSucceeded,
    PolicyState,
    RefreshConfig,
    Reject,
    Serve,
    Tick,
    Wait,
    step,
)
from mintgate.policy.testing import Script

CONFIG = RefreshConfig(breaker_threshold=2, stale_grace=60.0)
T0 = 5_000.0


def _script() -> Script[str]:
    return Script(CONFIG, start=T0)


def _fresh() -> Script[str]:
    s = _script()
    s.demand()
    s.mint_ok("t1", expires_in=1000.0, draw=0.0)
    return s


def _cold_in_flight() -> Script[str]:
    s = _script()
    s.demand()
    return s


def _refreshing() -> Script[str]:
    s = _fresh()
    s.wake()
    return s


def _stale() -> Script[str]:
    s = _refreshing()
    s.mint_fail(ErrorKind.RATE_LIMITED, retry_after=600.0)
    s.advance(1000.0 - s.elapsed + 10.0)
    return s


def _expired() -> Script[str]:
    s = _fresh()
    s.advance(2000.0)
    return s


def _breaker_open_no_token() -> Script[str]:
    s = _script()
    for _ in range(2):
        s.demand()
        s.mint_fail()
    return s


def _breaker_open_with_token() -> Script[str]:
    s = _refreshing()
    s.mint_fail()
    s.wake()
    s.mint_fail()
    return s


def _half_open_probe_in_flight() -> Script[str]:
    s = _breaker_open_no_token()
    s.advance(CONFIG.breaker_cooldown)
    s.demand()
    return s


def _invalidated_forced_in_flight() -> Script[str]:
    s = _fresh()
    s.invalidate()
    return s


def _invalidated_deferred() -> Script[str]:
    s = _invalidated_forced_in_flight()
    s.mint_ok("t2")
    s.invalidate()
    return s


def _dead_fresh() -> Script[str]:
    s = _refreshing()
    s.mint_fail(ErrorKind.REAUTH_REQUIRED)
    return s


def _dead_expired() -> Script[str]:
    s = _dead_fresh()
    s.advance(5000.0)
    return s


def _suspended_fresh() -> Script[str]:
    s = _refreshing()
    s.mint_fail(ErrorKind.CONFIGURATION)
    return s


def _suspended_no_token() -> Script[str]:
    s = _script()
    s.demand()
    s.mint_fail(ErrorKind.CONFIGURATION)
    return s


def _recheck_in_flight() -> Script[str]:
    s = _suspended_no_token()
    s.advance(CONFIG.breaker_cooldown_cap)
    s.demand()
    return s


def _rate_limited_no_token() -> Script[str]:
    s = _script()
    s.demand()
    s.mint_fail(ErrorKind.RATE_LIMITED, retry_after=30.0)
    return s


def _static() -> Script[str]:
    s = _script()
    s.demand()
    s.mint_ok("key", expires_in=None)
    return s


SUB_STATES: dict[str, Callable[[], Script[str]]] = {
    "initial": _script,
    "cold, mint in flight": _cold_in_flight,
    "fresh": _fresh,
    "fresh, refresh in flight": _refreshing,
    "stale (grace granted)": _stale,
    "expired, idle": _expired,
    "breaker open, no token": _breaker_open_no_token,
    "breaker open, token cached": _breaker_open_with_token,
    "half-open, probe in flight": _half_open_probe_in_flight,
    "invalidated, forced mint in flight": _invalidated_forced_in_flight,
    "invalidated, forced mint deferred": _invalidated_deferred,
    "dead, token still fresh": _dead_fresh,
    "dead, token expired": _dead_expired,
    "suspended, token still fresh": _suspended_fresh,
    "suspended, no token": _suspended_no_token,
    "suspended, re-check in flight": _recheck_in_flight,
    "rate limited, no token": _rate_limited_no_token,
    "static token": _static,
}

ERROR = CredentialError(kind=ErrorKind.UNAVAILABLE, message="table test failure")


def _events(state: PolicyState[str], now: float) -> dict[str, Event[str]]:
    current = state.in_flight.attempt if state.in_flight else 1
    gen = max(state.generation, 1)
    return {
        "demand": Demand(now),
        "tick": Tick(now),
        "success, current attempt": MintSucceeded(now, current, "v", now + 100.0, 0.5),
        "success, no expiry": MintSucceeded(now, current, "v", None, 0.5),
        "success, unusable on arrival": MintSucceeded(now, current, "v", now + 1.0, 0.5),
        "success, foreign attempt": MintSucceeded(now, current + 100, "v", now + 100.0, 0.5),
        "success, adopted": MintSucceeded(now, current, "v", now + 100.0, 0.5, now - 3000.0),
        "failure, current attempt": MintFailed(now, current, ERROR, 0.5),
        "failure, foreign attempt": MintFailed(now, current + 100, ERROR, 0.5),
        "invalidate current": Invalidate(now, gen),
        "invalidate old": Invalidate(now, max(gen - 1, 1)),
        # Malformed events: caller bugs, rejected with a ValueError naming the field.
        "invalidate never issued": Invalidate(now, state.generation + 5),
        "demand at NaN": Demand(float("nan")),
        "tick at infinity": Tick(float("inf")),
        "success with draw 1": MintSucceeded(now, current, "v", now + 100.0, 1.0),
        "failure with negative draw": MintFailed(now, current, ERROR, -0.1),
        "success with NaN expiry": MintSucceeded(now, current, "v", float("nan"), 0.5),
        "success with NaN issued_at": MintSucceeded(now, current, "v", now, 0.5, float("nan")),
        "failure without an error": MintFailed(now, current, "boom", 0.5),  # type: ignore[arg-type]
    }


MALFORMED = {
    "demand at NaN": "Demand.now",
    "tick at infinity": "Tick.now",
    "success with draw 1": "MintSucceeded.draw",
    "failure with negative draw": "MintFailed.draw",
    "success with NaN expiry": "MintSucceeded.expires_at",
    "success with NaN issued_at": "MintSucceeded.issued_at",
    "failure without an error": "MintFailed.error",
    "invalidate never issued": "Invalidate.generation",
}

EVENT_NAMES = list(_events(PolicyState.initial(), 0.0))


@settings(max_examples=len(SUB_STATES) * len(EVENT_NAMES) * 3, deadline=None)
@given(sub_state=st.sampled_from(sorted(SUB_STATES)), event_name=st.sampled_from(EVENT_NAMES))
def test_every_sub_state_handles_every_event(sub_state: str, event_name: str) -> None:
    script = SUB_STATES[sub_state]()
    state = script.state
    event = _events(state, script.now)[event_name]
    malformed = MALFORMED.get(event_name)
    if isinstance(event, Invalidate) and state.generation == 0:
        malformed = "never issued"  # no token was ever issued: any invalidation is a bug
    if malformed is not None:
        # Validated before anything else, whether or not a mint is in flight.
        with pytest.raises(ValueError, match=malformed):
            step(CONFIG, state, event)
        return
    result = step(CONFIG, state, event)
    assert isinstance(result.state, PolicyState)
    if isinstance(event, Demand):
        assert isinstance(result.reply, Serve | Wait | Reject)
    else:
        assert result.reply is None
    wake = result.state.wake_at
    assert result.wake_at == (None if wake is None else max(wake, event.now))  # rule 9


def test_the_table_covers_every_event_type() -> None:
    types = {type(e) for e in _events(PolicyState.initial(), 0.0).values()}
    assert types == {Demand, Tick, MintSucceeded, MintFailed, Invalidate}


def test_every_sub_state_is_distinct() -> None:
    # A sub-state is the core's state at a time: "fresh" and "expired" differ only in the clock.
    seen = [(script.state, script.now) for script in (make() for make in SUB_STATES.values())]
    assert all(a != b for i, a in enumerate(seen) for b in seen[i + 1 :])


def test_an_object_that_is_not_an_event_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="takes a policy event, not str"):
        step(CONFIG, PolicyState.initial(), "demand")  # type: ignore[arg-type]


def test_a_step_never_mutates_its_input() -> None:
    for make in SUB_STATES.values():
        script = make()
        before = script.state
        snapshot = repr(before), before.wake_at, before.quiet_until
        for name, event in _events(before, script.now).items():
            if name not in MALFORMED and not (
                isinstance(event, Invalidate) and before.generation == 0
            ):
                step(CONFIG, before, event)
        assert (repr(before), before.wake_at, before.quiet_until) == snapshot
