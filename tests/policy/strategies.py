"""Hypothesis strategies for the core: configurations and events' ingredients."""

from __future__ import annotations

from hypothesis import strategies as st

from mintgate.policy import RefreshConfig

draws = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
"""Uniform draws in [0, 1), as the shell takes them from random.Random."""


@st.composite
def configs(draw: st.DrawFn) -> RefreshConfig:
    """Every valid configuration, weighted towards the interesting small durations."""
    refresh_at = draw(st.floats(min_value=0.05, max_value=1.0))
    retry_base = draw(st.sampled_from([0.0, 0.5, 1.0, 5.0]))
    cooldown = draw(st.sampled_from([0.0, 1.0, 10.0, 30.0]))
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
        mint_timeout=draw(st.sampled_from([0.0, 1.0, 10.0])),
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
