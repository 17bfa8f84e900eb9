"""Replay: the same events and draws always give equal steps (the state machine's teardown also
replays every random run it makes; this test names the property on its own)."""

from __future__ import annotations

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
    Step,
    Tick,
    step,
)

from .strategies import configs, draws


def run(config: RefreshConfig, events: list[Event[str]]) -> list[Step[str]]:
    state: PolicyState[str] = PolicyState.initial()
    steps = []
    for event in events:
        try:
            result = step(config, state, event)
        except ValueError:  # an invalidation of a generation not issued in this run
            continue
        steps.append(result)
        state = result.state
    return steps


@st.composite
def event_lists(draw: st.DrawFn) -> list[Event[str]]:
    now = 0.0
    events: list[Event[str]] = []
    error = CredentialError(kind=ErrorKind.UNAVAILABLE, message="503")
    for _ in range(draw(st.integers(min_value=1, max_value=60))):
        now += draw(st.floats(min_value=0.0, max_value=400.0))
        kind = draw(st.sampled_from(["demand", "tick", "ok", "fail", "invalidate"]))
        attempt = draw(st.integers(min_value=1, max_value=8))
        if kind == "demand":
            events.append(Demand(now))
        elif kind == "tick":
            events.append(Tick(now))
        elif kind == "ok":
            lifetime = draw(st.floats(min_value=0.0, max_value=3600.0))
            events.append(MintSucceeded(now, attempt, f"v{attempt}", now + lifetime, draw(draws)))
        elif kind == "fail":
            events.append(MintFailed(now, attempt, error, draw(draws)))
        else:
            events.append(Invalidate(now, draw(st.integers(min_value=1, max_value=4))))
    return events


@settings(max_examples=200, deadline=None)
@given(configs(), event_lists())
def test_the_same_events_and_draws_give_equal_steps(
    config: RefreshConfig, events: list[Event[str]]
) -> None:
    first = run(config, events)
    second = run(config, list(events))
    assert first == second
    assert [s.notices for s in first] == [s.notices for s in second]
