"""Hypothesis strategies for mintgate: configurations, and the ingredients and sequences of events.

Needs hypothesis (``pip install 'mintgate[testing]'``). ``configs()`` covers every valid
``RefreshConfig``, weighted towards the small durations where the rules interact;
``event_sequences()`` makes histories of events (not all of them valid: invalidations of
generations never issued are in there, for robustness tests) on an increasing clock.
"""

from __future__ import annotations

from hypothesis import strategies as st

from mintgate.policy import (
    CredentialError,
    Demand,
    ErrorKind,
    Event,
    Invalidate,
    MintFailed,
    MintSucceeded,
    RefreshConfig,
    Tick,
)

__all__ = ["configs", "delays", "draws", "event_sequences", "lifetimes"]

draws = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
"""Uniform draws in [0, 1), as the shell takes them from random.Random."""


@st.composite
def configs(draw: st.DrawFn) -> RefreshConfig:
    """Every valid configuration, weighted towards the interesting small durations."""
    refresh_at = draw(st.floats(min_value=0.05, max_value=1.0))
    retry_base = draw(st.sampled_from([0.001, 0.5, 1.0, 5.0]))
    cooldown = draw(st.sampled_from([0.001, 1.0, 10.0, 30.0]))
    return RefreshConfig(
        refresh_at=refresh_at,
        jitter=draw(st.floats(min_value=0.0, max_value=refresh_at)),
        floor=draw(st.sampled_from([0.0, 5.0, 30.0, 120.0])),
        skew=draw(st.sampled_from([0.0, 1.0, 5.0, 30.0])),
        retry_base=retry_base,
        retry_cap=retry_base + draw(st.sampled_from([0.0, 10.0, 60.0])),
        breaker_threshold=draw(st.integers(min_value=1, max_value=5)),
        breaker_cooldown=cooldown,
        breaker_cooldown_cap=cooldown + draw(st.sampled_from([0.0, 30.0, 300.0])),
        breaker_rejecting_cap=draw(st.sampled_from([0.0, 5.0, 60.0, 600.0])),
        mint_timeout=draw(st.sampled_from([0.001, 1.0, 10.0])),
        forced_min_interval=draw(st.sampled_from([0.0, 1.0, 5.0])),
        stale_grace=draw(st.sampled_from([0.0, 0.0, 10.0, 300.0])),
    )


lifetimes = st.one_of(
    st.none(),
    st.sampled_from([1.0, 10.0, 30.0, 60.0, 300.0, 3600.0]),
    st.floats(min_value=0.0, max_value=7200.0),
)
"""Token lifetimes from a mint's start: none (static), tiny, ordinary, arbitrary."""

delays = st.one_of(
    st.just(0.0),
    st.floats(min_value=0.0, max_value=5.0),
    st.floats(min_value=0.0, max_value=600.0),
)
"""Time between events: none, short, long."""


@st.composite
def event_sequences(draw: st.DrawFn, max_size: int = 60) -> list[Event[str]]:
    """Histories of events on an increasing clock: demands, ticks, mint results for attempts
    1-8 (current or foreign), failures, and invalidations of generations 1-4."""
    now = 0.0
    events: list[Event[str]] = []
    error = CredentialError(kind=ErrorKind.UNAVAILABLE, message="token endpoint answered HTTP 503")
    for _ in range(draw(st.integers(min_value=1, max_value=max_size))):
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
