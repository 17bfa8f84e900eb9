"""Random event sequences against the contract's invariants (hypothesis stateful testing).

The machine plays the shell and the world: callers demand tokens, wake-ups come at or after the
time the core asked for, mints answer with random lifetimes after random latencies or fail with
random errors, outages of random length make every mint fail, results for abandoned attempts
and invalidations of old generations arrive late. The InvariantChecker checks every invariant
of the contract after every step (including the exact outage bound); the hot path is checked
against the general path; and at the end the whole run is replayed and must give equal steps.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from mintgate.policy import (
    CredentialError,
    Demand,
    ErrorKind,
    Event,
    MintFailed,
    MintSucceeded,
    PolicyState,
    RefreshConfig,
    Step,
    step,
)
from mintgate.policy._machine import _dispatch
from mintgate.policy.testing import InvariantChecker, Script
from mintgate.shell.strategies import configs, delays, draws, lifetimes

RETRYABLE = [ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT, ErrorKind.RATE_LIMITED, ErrorKind.UNKNOWN]
errors = st.builds(
    lambda kind, retry_after: CredentialError(
        kind=kind, message=f"{kind.value} from the fake issuer", retry_after=retry_after
    ),
    st.sampled_from([*RETRYABLE, *RETRYABLE, ErrorKind.REAUTH_REQUIRED, ErrorKind.CONFIGURATION]),
    st.one_of(st.none(), st.floats(min_value=0.0, max_value=120.0)),
)


class PolicyMachine(RuleBasedStateMachine):
    config: RefreshConfig
    script: Script[str]
    checker: InvariantChecker
    outage_until: float

    @initialize(config=configs(), start=st.floats(min_value=0.0, max_value=1e7))
    def setup(self, config: RefreshConfig, start: float) -> None:
        self.config = config
        self.checker = InvariantChecker(config)
        self.script = Script(config, start=start, observer=self.observe)
        self.outage_until = -1.0
        self.minted = 0
        self.replaced_at: set[int] = set()

    def observe(self, before: PolicyState[Any], event: Event[Any], result: Step[Any]) -> None:
        self.checker.observe(before, event, result)
        if isinstance(event, Demand):
            # The hot path is an optimisation of the general one, never a different answer.
            assert _dispatch(self.config, before, event) == result

    # -- the world -------------------------------------------------------------------------

    @rule(dt=delays)
    def demand(self, dt: float) -> None:
        self.script.advance(dt)
        self.script.demand()

    @rule(
        edge=st.sampled_from(
            ["unusable", "expiry", "grace_end", "refresh", "half_open", "not_before"]
        ),
        offset=st.sampled_from([-1e-3, 0.0, 1e-3]),
    )
    def demand_at_an_edge(self, edge: str, offset: float) -> None:
        """Random delays rarely land near the instants where the rules change; aim for them."""
        state, config = self.script.state, self.config
        token = state.token
        expires = None if token is None else token.expires_at
        instants = {
            "unusable": None if expires is None else expires - config.skew,
            "expiry": expires,
            "grace_end": None if expires is None else expires + config.stale_grace,
            "refresh": state.refresh_point,
            "half_open": state.breaker_open_until,
            "not_before": state.not_before,
        }
        instant = instants[edge]
        if instant is not None and instant + offset > self.script.now:
            self.script.now = instant + offset
        self.script.demand()

    @rule(late=st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=30.0)))
    def wake_up(self, late: float) -> None:
        if self.script.state.wake_at is not None:
            self.script.now = max(self.script.now, self.script.state.wake_at) + late
            self.script.tick()

    @rule(dt=delays)
    def spurious_tick(self, dt: float) -> None:
        self.script.advance(dt)
        self.script.tick()

    @precondition(lambda self: self.script.state.in_flight is not None)
    @rule(latency=delays, lifetime=lifetimes, draw=draws)
    def mint_answers(self, latency: float, lifetime: float | None, draw: float) -> None:
        self.script.advance(latency)
        if self.script.now < self.outage_until:
            self.script.mint_fail(ErrorKind.UNAVAILABLE, draw=draw)
        else:
            self.minted += 1
            self.script.mint_ok(f"token-{self.minted}", expires_in=lifetime, draw=draw)

    @precondition(lambda self: self.script.state.in_flight is not None)
    @rule(latency=delays, error=errors, draw=draws)
    def mint_fails(self, latency: float, error: CredentialError, draw: float) -> None:
        self.script.advance(latency)
        attempt = self.script.attempt()
        self.script.feed(MintFailed(self.script.now, attempt, error, draw))

    @precondition(lambda self: self.script.state.in_flight is not None)
    @rule(draw=draws)
    def mint_times_out(self, draw: float) -> None:
        self.script.advance(self.config.mint_timeout)
        self.script.mint_fail(ErrorKind.TIMEOUT, draw=draw)

    @precondition(lambda self: self.script.state.next_attempt > 1)
    @rule(data=st.data(), lifetime=lifetimes, draw=draws, fails=st.booleans())
    def foreign_result(
        self, data: st.DataObject, lifetime: float | None, draw: float, fails: bool
    ) -> None:
        state = self.script.state
        in_flight = None if state.in_flight is None else state.in_flight.attempt
        attempt = data.draw(st.integers(min_value=-3, max_value=state.next_attempt + 3))
        if attempt == in_flight:
            attempt = state.next_attempt + 7
        if fails:
            error = CredentialError(kind=ErrorKind.UNAVAILABLE, message="late failure")
            self.script.feed(MintFailed(self.script.now, attempt, error, draw))
        else:
            expires = None if lifetime is None else self.script.now + lifetime
            self.script.feed(MintSucceeded(self.script.now, attempt, "late", expires, draw))

    @precondition(lambda self: self.script.state.generation >= 1)
    @rule(data=st.data())
    def invalidate(self, data: st.DataObject) -> None:
        generation = data.draw(st.integers(min_value=1, max_value=self.script.state.generation))
        self.script.invalidate(generation)

    @precondition(lambda self: self.script.state.breaker_open_until is not None)
    @rule(count=st.integers(min_value=1, max_value=16), draw=draws)
    def probes_keep_failing(self, count: int, draw: float) -> None:
        """A long row of failed probes on time: where the caps and the deadline probe act."""
        for _ in range(count):
            if self.script.state.in_flight is not None:
                self.script.mint_fail(ErrorKind.UNAVAILABLE, draw=draw)
            elif self.script.state.wake_at is not None:
                self.script.wake()
            else:
                self.script.demand()

    @precondition(
        lambda self: self.script.state.token is not None and self.script.state.dead is None
    )
    @rule(draw=draws)
    def outage_through_the_tokens_end(self, draw: float) -> None:
        """Every attempt fails, wake-ups on time, until the cached token is no longer usable:
        the deadline probe's ground, which random rules rarely reach."""
        for _ in range(60):
            state = self.script.state
            if state.in_flight is not None:
                self.script.mint_fail(ErrorKind.UNAVAILABLE, draw=draw)
            elif state.usable(self.script.now) and state.wake_at is not None:
                self.script.wake()
            else:
                return

    @rule(duration=st.floats(min_value=0.0, max_value=7200.0))
    def outage(self, duration: float) -> None:
        self.outage_until = self.script.now + duration

    @precondition(lambda self: self.script.state.dead is not None)
    @rule()
    def replace_credential(self) -> None:
        self.replaced_at.add(len(self.script.history))
        self.script.replace_credential()

    # -- checks beyond the observer --------------------------------------------------------

    @invariant()
    def wake_up_is_derived_from_the_state(self) -> None:
        state = self.script.state
        start = state.background_start()
        if start is not None:
            assert state.wake_at is not None
            assert state.wake_at <= start

    def teardown(self) -> None:
        # Replay: the same events and draws give equal steps, from the same initial state.
        if not hasattr(self, "script"):
            return
        state: PolicyState[str] = PolicyState.initial()
        for index, (event, expected) in enumerate(self.script.history):
            if index in self.replaced_at:
                state = PolicyState.initial()
            replayed = step(self.config, state, event)
            assert replayed == expected
            state = replayed.state


PolicyMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPolicyMachine = PolicyMachine.TestCase
