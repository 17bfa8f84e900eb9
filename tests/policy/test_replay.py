"""Replay: the same events and draws always give equal steps (the state machine's teardown also
replays every random run it makes; this test names the property on its own)."""

from __future__ import annotations

from hypothesis import given, settings

from mintgate.policy import (
    Event,
    PolicyState,
    RefreshConfig,
    Step,
    step,
)
from mintgate.shell.strategies import configs, event_sequences


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


@settings(max_examples=200, deadline=None)
@given(configs(), event_sequences())
def test_the_same_events_and_draws_give_equal_steps(
    config: RefreshConfig, events: list[Event[str]]
) -> None:
    first = run(config, events)
    second = run(config, list(events))
    assert first == second
    assert [s.notices for s in first] == [s.notices for s in second]
