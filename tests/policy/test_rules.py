"""One example test (or a few) per rule of the policy contract, named after what it shows."""

from __future__ import annotations

import pytest

from mintgate.policy import (
    CredentialError,
    ErrorKind,
    MintReason,
    NoticeKind,
    Reject,
    Serve,
    Wait,
    forced_refresh_wait,
)
from mintgate.policy.testing import Script

from .conftest import MakeScript


def kinds(notices: tuple[object, ...]) -> list[NoticeKind]:
    return [n.kind for n in notices]  # type: ignore[attr-defined]


def fresh(
    make_script: MakeScript, lifetime: float = 1000.0, draw: float = 0.0, **config: float
) -> Script[str]:
    """A script with one token of ``lifetime`` installed at the start."""
    script = make_script(**config)
    script.demand()
    script.mint_ok("t1", expires_in=lifetime, draw=draw)
    return script


# -- rule 1: serve fast ---------------------------------------------------------------------------


def test_rule1_a_usable_token_is_served_whatever_else_is_going_on(make_script: MakeScript) -> None:
    script = fresh(make_script, breaker_threshold=1)
    script.wake()  # refresh starts: a mint in flight
    assert script.demand().reply == script.state.serve
    script.mint_fail()  # the breaker opens
    assert script.state.breaker_open_until is not None
    step = script.demand()
    assert isinstance(step.reply, Serve)
    assert step.start_mint is None


def test_rule1_no_token_is_served_within_skew_of_its_expiry(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0, skew=5.0)
    script.advance(994.999)
    assert isinstance(script.demand().reply, Serve)
    script.advance(0.001)
    assert isinstance(script.demand().reply, Wait)


def test_rule1_stale_grace_extends_use_only_after_a_failed_refresh(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0, stale_grace=60.0, breaker_threshold=100)
    script.wake()
    script.mint_fail(ErrorKind.RATE_LIMITED, retry_after=500.0)
    script.advance(1059.9 - script.elapsed)
    step = script.demand()
    assert isinstance(step.reply, Serve)
    assert NoticeKind.SERVED_STALE in kinds(step.notices)
    script.advance(0.1)
    assert isinstance(script.demand().reply, Reject)


def test_rule1_the_hot_path_returns_the_same_state_object(make_script: MakeScript) -> None:
    script = fresh(make_script)
    before = script.state
    step = script.demand()
    assert step.state is before
    assert step.notices == ()
    assert step.start_mint is None


# -- rule 2: refresh proactively ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(0.0, 800.0), (0.5, 750.0), (0.999, 700.1)],
)
def test_rule2_the_refresh_point_is_drawn_between_refresh_at_minus_jitter_and_refresh_at(
    make_script: MakeScript, draw: float, expected: float
) -> None:
    script = fresh(make_script, lifetime=1000.0, draw=draw)
    assert script.state.refresh_point == pytest.approx(script.start + expected)


def test_rule2_the_floor_pulls_the_refresh_point_of_short_tokens_earlier(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script, lifetime=120.0, floor=30.0)
    assert script.state.refresh_point == pytest.approx(script.start + 90.0)


def test_rule2_the_refresh_point_never_passes_the_unusable_point(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0, floor=0.0, skew=50.0, refresh_at=1.0, jitter=0.0)
    assert script.state.refresh_point == pytest.approx(script.start + 950.0)


@pytest.mark.parametrize(
    ("lifetime", "usable", "earliest", "latest"),
    [
        (3.0, 2.7, 2.1, 2.25),  # skew 0.3 s, floor 0.75 s
        (20.0, 18.0, 14.0, 15.0),  # skew 2 s, floor 5 s
        (100.0, 95.0, 70.0, 75.0),  # skew 5 s, floor 25 s
        (3600.0, 3595.0, 2520.0, 2880.0),  # the configured margins
    ],
)
def test_rule2_margins_scale_with_short_lifetimes(
    make_script: MakeScript, lifetime: float, usable: float, earliest: float, latest: float
) -> None:
    for draw, point in ((0.999999, earliest), (0.0, latest)):
        script = fresh(make_script, lifetime=lifetime, draw=draw)
        assert script.state.refresh_point == pytest.approx(script.start + point, abs=1e-3)
        assert script.state.early_installs == 0  # outside its window: refreshed once
        assert script.state.fresh_until == pytest.approx(script.start + usable)


def test_rule2_a_3_second_token_is_served_and_refreshed_on_the_defaults(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script, lifetime=3.0, draw=0.5)
    mints = 1
    for _ in range(100):  # a caller every 100 ms for 10 s, the mint answering at once
        script.advance(0.1)
        step = script.demand()
        assert isinstance(step.reply, Serve)
        if step.start_mint is not None:
            mints += 1
            script.mint_ok(f"t{mints}", expires_in=3.0, draw=0.5)
    assert mints == 5  # one per 2.175 s: 0, 2.2, 4.4, 6.6, 8.8


def test_rule2_an_adopted_token_counts_its_lifetime_from_when_it_was_issued(
    make_script: MakeScript,
) -> None:
    script = make_script()
    script.demand()
    issued = script.now - 1000.0  # minted by another process 1,000 s ago
    step = script.mint_ok("adopted", expires_at=issued + 3600.0, issued_at=issued, draw=0.0)
    token = step.resolve.token  # type: ignore[union-attr]
    assert token.issued_at == issued
    assert script.state.refresh_point == pytest.approx(issued + 2880.0)
    assert script.state.early_installs == 0


def test_rule2_an_issued_at_after_the_attempts_start_is_the_start(make_script: MakeScript) -> None:
    script = make_script()
    script.demand()
    script.advance(2.0)
    step = script.mint_ok("t1", expires_in=1000.0, issued_at=script.now, draw=0.0)
    assert step.resolve.token.issued_at == script.start  # type: ignore[union-attr]


def test_rule2_the_lifetime_counts_from_the_start_of_the_mint(make_script: MakeScript) -> None:
    script = make_script()
    script.demand()
    script.advance(50.0)  # a slow token endpoint
    step = script.mint_ok("t1", expires_in=1000.0, draw=0.0)
    token = step.resolve.token  # type: ignore[union-attr]
    assert token.issued_at == script.start
    assert token.expires_at == script.start + 1000.0
    assert script.state.refresh_point == pytest.approx(script.start + 800.0)


def test_rule2_one_background_mint_starts_when_the_clock_passes_the_point(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script, lifetime=1000.0)
    assert script.state.wake_at == pytest.approx(script.start + 800.0)
    step = script.wake()
    assert step.start_mint is not None
    assert step.start_mint.reason is MintReason.PROACTIVE
    assert script.demand().start_mint is None
    assert script.tick().start_mint is None


def test_rule2_a_demand_past_the_point_starts_the_refresh_too(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0)
    script.advance(900.0)  # the wake-up was late
    step = script.demand()
    assert isinstance(step.reply, Serve)
    assert step.start_mint is not None
    assert step.start_mint.reason is MintReason.PROACTIVE


# -- rule 3: single flight ------------------------------------------------------------------------


def test_rule3_many_callers_at_cold_start_share_one_mint(make_script: MakeScript) -> None:
    script = make_script()
    starts = [script.demand().start_mint for _ in range(1000)]
    assert sum(s is not None for s in starts) == 1
    assert all(isinstance(reply, Wait) for reply in (step.reply for _, step in script.history))
    assert script.mint_ok("t1").resolve == script.state.serve


def test_rule3_a_result_for_a_timed_out_attempt_is_ignored(make_script: MakeScript) -> None:
    script = make_script()
    script.demand()
    script.mint_fail(ErrorKind.TIMEOUT)
    script.demand()  # attempt 2
    before = script.state
    step = script.mint_ok("late", attempt=1)
    assert step.state == before
    assert step.resolve is None
    assert kinds(step.notices) == [NoticeKind.RESULT_IGNORED]


# -- rule 4: serve stale on failure ---------------------------------------------------------------


def test_rule4_a_failed_refresh_keeps_serving_and_backs_off_exponentially(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script, breaker_threshold=100, retry_base=2.0, retry_cap=16.0)
    script.wake()
    delays = []
    for _ in range(6):
        failed = script.mint_fail(draw=0.0)
        assert failed.resolve == script.state.serve
        assert failed.wake_at is not None
        delays.append(round(failed.wake_at - script.now, 6))
        script.wake()
    assert delays == [2.0, 4.0, 8.0, 16.0, 16.0, 16.0]


def test_rule4_jitter_shortens_the_backoff_by_up_to_half(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=100_000.0, retry_base=10.0)
    script.wake()
    failed = script.mint_fail(draw=0.9)
    assert failed.wake_at == pytest.approx(script.now + 10.0 * 0.55)


def test_rule4_the_retry_never_goes_past_halfway_to_the_last_usable_instant(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script, lifetime=100.0, retry_base=60.0, retry_cap=60.0)
    script.wake()  # at 75 (floor 25 s for a 100 s token); the token is usable until 95
    failed = script.mint_fail(draw=0.0)
    assert failed.wake_at == pytest.approx(script.now + 10.0)


def test_rule4_the_deadline_counts_stale_grace_when_it_applies(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=100.0, retry_base=60.0, retry_cap=60.0, stale_grace=45.0)
    script.wake()  # at 75; usable until 100 + 45 once the refresh failed
    failed = script.mint_fail(draw=0.0)
    assert failed.wake_at == pytest.approx(script.now + 35.0)


def test_rule4_without_a_usable_token_the_waiters_get_the_error_and_nothing_retries(
    make_script: MakeScript,
) -> None:
    script = make_script()
    script.demand()
    error = CredentialError(kind=ErrorKind.UNAVAILABLE, message="token endpoint answered HTTP 503")
    step = script.mint_fail()
    assert step.resolve == Reject(error)
    assert step.wake_at is None
    assert script.state.background_start() is None
    assert script.demand().start_mint is not None  # the next caller starts the next attempt


# -- rule 5: circuit breaker ----------------------------------------------------------------------


def test_rule5_threshold_failures_open_the_breaker_and_callers_are_rejected_at_once(
    make_script: MakeScript,
) -> None:
    script = make_script(breaker_threshold=2, breaker_cooldown=40.0)
    script.demand()
    script.mint_fail()
    script.demand()
    opened = script.mint_fail(ErrorKind.UNAVAILABLE, message="HTTP 502 from the issuer")
    assert NoticeKind.BREAKER_OPENED in kinds(opened.notices)
    script.advance(15.0)
    step = script.demand()
    assert step.start_mint is None
    assert isinstance(step.reply, Reject)
    error = step.reply.error
    assert error.kind is ErrorKind.CIRCUIT_OPEN
    assert error.retry_after == pytest.approx(25.0)
    assert "unavailable: HTTP 502 from the issuer" in error.message


def test_rule5_exactly_one_probe_after_the_cooldown(make_script: MakeScript) -> None:
    script = make_script(breaker_threshold=1, breaker_cooldown=30.0)
    script.demand()
    script.mint_fail()
    script.advance(30.0)
    first = script.demand()
    assert first.start_mint is not None
    assert first.start_mint.reason is MintReason.PROBE
    assert [script.demand().start_mint for _ in range(10)] == [None] * 10


def test_rule5_probe_success_closes_and_resets_the_cooldown(make_script: MakeScript) -> None:
    script = make_script(breaker_threshold=1, breaker_cooldown=30.0)
    script.demand()
    script.mint_fail()
    script.advance(30.0)
    script.demand()
    closed = script.mint_ok("t1")
    assert NoticeKind.BREAKER_CLOSED in kinds(closed.notices)
    assert script.state.breaker_open_until is None
    assert script.state.cooldown is None
    assert script.state.failures == 0


def test_rule5_probe_failure_doubles_the_cooldown_up_to_the_cap(make_script: MakeScript) -> None:
    config = {"breaker_threshold": 1, "breaker_cooldown": 30.0, "breaker_cooldown_cap": 100.0}
    script = fresh(make_script, lifetime=1e6, **config)  # a usable token all along
    script.wake()
    script.mint_fail()
    cooldowns = [script.state.cooldown]
    for _ in range(4):
        assert script.wake().start_mint is not None  # the probe, on the half-open wake-up
        script.mint_fail()
        cooldowns.append(script.state.cooldown)
    assert cooldowns == [30.0, 60.0, 100.0, 100.0, 100.0]


def test_rule5_while_callers_are_refused_the_cooldown_is_capped_shorter(
    make_script: MakeScript,
) -> None:
    script = make_script(breaker_threshold=1)  # no token: callers get CIRCUIT_OPEN
    script.demand()
    script.mint_fail()
    cooldowns = [script.state.cooldown]
    for _ in range(4):
        script.advance(script.state.breaker_open_until - script.now)  # type: ignore[operator]
        assert script.demand().start_mint is not None
        script.mint_fail()
        cooldowns.append(script.state.cooldown)
    assert cooldowns == [30.0, 60.0, 60.0, 60.0, 60.0]  # breaker_rejecting_cap, not 300 s


def test_rule5_the_row_counts_on_when_the_token_dies(make_script: MakeScript) -> None:
    """c_j keeps its j across the switch of caps: the 5th opening waits min(60, 480) = 60 s."""
    script = fresh(make_script, lifetime=300.0, breaker_threshold=1, skew=0.0, floor=0.0)
    script.wake()  # the refresh at 240 s
    script.mint_fail()  # opening 1
    while script.state.usable(script.now):
        assert script.wake().start_mint is not None
        script.mint_fail()
    assert script.state.openings >= 2
    assert script.state.cooldown == min(60.0, 30.0 * 2 ** (script.state.openings - 1))


def test_rule5_the_deadline_probe_lands_a_cooldown_before_the_token_dies(
    make_script: MakeScript,
) -> None:
    """The issue's case: failing from the refresh of a one-hour token, the endpoint back 100 s
    before it expires. The doubling alone would leave the last 260 s unprobed."""
    script = fresh(make_script, lifetime=3600.0, draw=0.0)
    attempts = []
    script.wake()  # the refresh at 2880 s
    while script.elapsed < 3600.0 - 100.0:
        attempts.append(round(script.elapsed, 3))
        script.mint_fail(draw=0.0)
        while script.wake().start_mint is None:
            pass
    attempts.append(round(script.elapsed, 3))
    # Retries 1 s and 2 s apart open the breaker; then 30, 60, 120, 240, and the deadline.
    assert attempts == [2880.0, 2881.0, 2883.0, 2913.0, 2973.0, 3093.0, 3333.0, 3565.0]
    served = script.mint_ok("t2", draw=0.0)  # the endpoint is back: the probe succeeds
    assert NoticeKind.BREAKER_CLOSED in kinds(served.notices)
    assert script.state.usable(script.now)


def test_rule5_the_deadline_probe_never_comes_sooner_than_a_base_cooldown(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script, lifetime=3600.0, draw=0.0, breaker_threshold=1)
    script.advance(3580.0)  # 15 s before the token's last usable instant
    script.demand()  # the late refresh
    script.mint_fail()
    assert script.state.breaker_open_until == pytest.approx(script.now + 30.0)


def test_rule5_once_open_the_probe_time_is_the_breakers_alone(make_script: MakeScript) -> None:
    """Rule 4's backoff no longer delays the probe (the issue's example)."""
    config = {
        "refresh_at": 0.5,
        "jitter": 0.0,
        "floor": 0.0,
        "skew": 0.0,
        "breaker_threshold": 1,
        "breaker_cooldown": 5.0,
        "breaker_cooldown_cap": 5.0,
    }
    script = fresh(make_script, lifetime=3600.0, **config)
    script.wake()
    attempts = []
    for _ in range(7):
        attempts.append(script.elapsed)
        script.mint_fail(draw=0.0)
        assert script.wake().start_mint is not None
    assert attempts == [1800.0, 1805.0, 1810.0, 1815.0, 1820.0, 1825.0, 1830.0]


def test_rule5_a_rejected_callers_retry_after_is_the_later_of_half_open_and_retry_after(
    make_script: MakeScript,
) -> None:
    script = make_script(breaker_threshold=1)
    script.demand()
    script.mint_fail(ErrorKind.RATE_LIMITED, retry_after=45.0)  # half-open at 30, 429 says 45
    script.advance(10.0)
    rejected = script.demand().reply
    assert isinstance(rejected, Reject)
    assert rejected.error.kind is ErrorKind.CIRCUIT_OPEN
    assert rejected.error.retry_after == pytest.approx(35.0)


# -- rule 6: respect the issuer -------------------------------------------------------------------


def test_rule6_retry_after_delays_the_next_attempt_at_least_that_long(
    make_script: MakeScript,
) -> None:
    script = make_script()
    script.demand()
    script.mint_fail(ErrorKind.RATE_LIMITED, retry_after=20.0)
    script.advance(19.0)
    early = script.demand()
    assert early.start_mint is None
    assert isinstance(early.reply, Reject)
    assert early.reply.error.retry_after == pytest.approx(1.0)
    script.advance(1.0)
    assert script.demand().start_mint is not None


def test_rule6_retry_after_beats_the_backoff_of_a_background_retry(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script, lifetime=10_000.0)
    script.wake()
    failed = script.mint_fail(ErrorKind.RATE_LIMITED, retry_after=300.0, draw=0.0)
    assert failed.wake_at == pytest.approx(script.now + 300.0)


def test_rule6_a_credential_that_needs_replacing_is_never_retried(
    make_script: MakeScript,
) -> None:
    kind = ErrorKind.REAUTH_REQUIRED
    script = fresh(make_script, lifetime=1000.0, stale_grace=500.0)
    script.wake()
    dead = script.mint_fail(kind)
    assert NoticeKind.CREDENTIAL_DEAD in kinds(dead.notices)
    assert isinstance(script.demand().reply, Serve)  # still fresh: served
    script.advance(195.0)  # at expires_at - skew; no stale grace for a dead credential
    for _ in range(3):
        step = script.demand()
        assert isinstance(step.reply, Reject)
        assert step.reply.error.kind is kind
        assert step.start_mint is None
        assert script.tick().start_mint is None
        script.advance(10_000.0)


def test_rule6_a_configuration_error_suspends_until_one_recheck(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0, stale_grace=500.0)
    script.wake()  # the refresh at 800 s
    suspended = script.mint_fail(ErrorKind.CONFIGURATION, message="error 'invalid_scope'")
    assert kinds(suspended.notices) == [NoticeKind.MINT_FAILED, NoticeKind.CREDENTIAL_SUSPENDED]
    assert suspended.notices[1].when == pytest.approx(script.now + 300.0)
    assert isinstance(script.demand().reply, Serve)  # still fresh: served
    assert suspended.wake_at == pytest.approx(script.start + 995.0)  # the unusable point
    script.advance(195.0)  # at expires_at - skew; no stale grace for a suspended credential
    step = script.demand()
    assert isinstance(step.reply, Reject)
    assert step.reply.error.kind is ErrorKind.CONFIGURATION
    assert step.reply.error.retry_after == pytest.approx(105.0)  # until the re-check
    assert step.start_mint is None
    assert script.tick().start_mint is None
    recheck = script.wake()  # a token is cached: the re-check comes on the wake-up at 1100 s
    assert script.elapsed == pytest.approx(1100.0)
    assert recheck.start_mint is not None
    assert recheck.start_mint.reason is MintReason.PROBE
    healed = script.mint_ok("t2")  # the operator granted the scope
    assert isinstance(healed.resolve, Serve)
    assert script.state.suspended is None


def test_rule6_without_a_token_the_recheck_waits_for_a_demand(make_script: MakeScript) -> None:
    script = make_script()
    script.demand()
    failed = script.mint_fail(ErrorKind.CONFIGURATION, retry_after=None)
    assert isinstance(failed.resolve, Reject)
    assert failed.resolve.error.retry_after == pytest.approx(300.0)  # parked waiters too
    assert failed.wake_at is None  # never on a wake-up
    script.advance(299.0)
    early = script.demand()
    assert early.start_mint is None
    assert isinstance(early.reply, Reject)
    assert early.reply.error.retry_after == pytest.approx(1.0)
    script.advance(1.0)
    recheck = script.demand()
    assert recheck.start_mint is not None
    assert recheck.start_mint.reason is MintReason.PROBE
    assert isinstance(recheck.reply, Wait)


@pytest.mark.parametrize(
    ("answer", "then"),
    [
        (ErrorKind.CONFIGURATION, "suspended again"),
        (ErrorKind.REAUTH_REQUIRED, "dead"),
        (ErrorKind.UNAVAILABLE, "retried as any failure"),
    ],
)
def test_rule6_the_recheck_is_an_ordinary_attempt(
    make_script: MakeScript, answer: ErrorKind, then: str
) -> None:
    script = make_script(breaker_threshold=1)
    script.demand()
    script.mint_fail(ErrorKind.CONFIGURATION)
    script.advance(300.0)
    script.demand()  # the re-check
    step = script.mint_fail(answer)
    state = script.state
    if then == "suspended again":
        assert state.recheck_at == pytest.approx(script.now + 300.0)
        assert NoticeKind.CREDENTIAL_SUSPENDED in kinds(step.notices)
    elif then == "dead":
        assert state.dead is not None
        assert state.suspended is None
    else:
        assert state.suspended is None
        assert state.failures == 1  # the suspension reset the count: a new row
        assert state.openings == 1  # threshold 1: the first opening of a new row
        assert state.cooldown == 30.0


def test_rule6_a_suspension_closes_the_breaker_and_resets_the_failures(
    make_script: MakeScript,
) -> None:
    script = make_script(breaker_threshold=2)
    script.demand()
    script.mint_fail()
    script.demand()
    script.mint_fail()  # the breaker opens
    script.advance(30.0)
    script.demand()  # the probe
    script.mint_fail(ErrorKind.CONFIGURATION)
    state = script.state
    assert (state.failures, state.breaker_open_until, state.openings) == (0, None, 0)


def test_rule6_an_invalidation_while_suspended_forces_no_mint(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0)
    script.wake()
    script.mint_fail(ErrorKind.CONFIGURATION)
    recheck = script.state.recheck_at
    step = script.invalidate()
    assert step.start_mint is None
    assert isinstance(script.demand().reply, Reject)  # unusable now
    assert script.state.recheck_at == recheck
    script.advance(1.0)  # past forced_min_interval: still nothing
    assert script.tick().start_mint is None
    assert script.wake().start_mint is not None  # the re-check, on time
    assert script.now == pytest.approx(recheck)


def test_rule6_a_retry_after_longer_than_the_cap_pushes_the_recheck(
    make_script: MakeScript,
) -> None:
    script = make_script()
    script.demand()
    script.mint_fail(ErrorKind.CONFIGURATION, retry_after=900.0)
    assert script.state.recheck_at == pytest.approx(script.now + 900.0)


def test_rule6_replacing_the_credential_starts_again_from_the_initial_state(
    make_script: MakeScript,
) -> None:
    script = make_script()
    script.demand()
    script.mint_fail(ErrorKind.REAUTH_REQUIRED)
    assert script.demand().start_mint is None
    script.replace_credential()
    assert script.demand().start_mint is not None


# -- rule 7: no refresh loops ---------------------------------------------------------------------


def _adopt(script: Script[str], issued: float, expires: float) -> None:
    """The mint hands back a token issued long ago (a shared cache, another process)."""
    script.mint_ok("adopted", expires_at=issued + expires, issued_at=issued, draw=0.5)


def test_rule7_a_token_arriving_inside_its_window_backs_off_instead_of_looping(
    make_script: MakeScript,
) -> None:
    script = make_script(retry_base=1.0, retry_cap=60.0)
    script.demand()
    issued = script.now - 3000.0  # a one-hour token, past its refresh point on arrival
    _adopt(script, issued, 3600.0)
    points = []
    for _ in range(15):
        points.append(round(script.state.refresh_point - script.now, 6))  # type: ignore[operator]
        script.wake()
        _adopt(script, issued, 3600.0)  # the cache hands back the same token
    # retry_cap holds at 60 s; the last is capped at the token's unusable point, 595 s in.
    assert points == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] + [60.0] * 8 + [595.0 - 543.0]


def test_rule7_a_short_token_is_not_inside_its_window(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=20.0)  # was a backoff loop while floor + skew > L
    script.wake()
    script.mint_ok("short", expires_in=20.0)
    assert script.state.early_installs == 0


def test_rule7_an_install_outside_its_window_resets_the_backoff(make_script: MakeScript) -> None:
    script = make_script()
    script.demand()
    issued = script.now - 3000.0
    _adopt(script, issued, 3600.0)
    script.wake()
    _adopt(script, issued, 3600.0)
    assert script.state.early_installs == 2
    script.wake()
    script.mint_ok("long", expires_in=3600.0)
    assert script.state.early_installs == 0


def test_rule7_a_cached_token_handed_back_counts_as_inside_its_window(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script, lifetime=1000.0)
    expires = script.state.token.expires_at  # type: ignore[union-attr]
    script.wake()
    script.mint_ok("same", expires_at=expires)
    assert script.state.early_installs == 1


def test_rule7_a_token_unusable_on_arrival_is_a_failed_mint(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0, breaker_threshold=100)
    script.wake()
    script.advance(10.0)  # a slow answer: L = 11 s, so its skew is 1.1 s
    step = script.mint_ok("stale", expires_at=script.now + 1.0, draw=0.0)
    assert script.state.generation == 1
    assert script.state.failures == 1
    assert kinds(step.notices)[0] is NoticeKind.MINT_FAILED
    assert step.wake_at == pytest.approx(script.now + 1.0)  # backoff with the success's draw


# -- rule 8: invalidate by generation -------------------------------------------------------------


def test_rule8_a_burst_of_401s_for_one_token_forces_one_mint(make_script: MakeScript) -> None:
    script = fresh(make_script)
    starts = [script.invalidate(1).start_mint for _ in range(50)]
    assert [s.reason for s in starts if s is not None] == [MintReason.FORCED]
    assert isinstance(script.demand().reply, Wait)


def test_rule8_an_invalidation_of_an_older_generation_changes_nothing(
    make_script: MakeScript,
) -> None:
    script = fresh(make_script)
    script.invalidate(1)
    script.mint_ok("t2")
    before = script.state
    step = script.invalidate(1)
    assert step.state == before
    assert step.start_mint is None
    assert kinds(step.notices) == [NoticeKind.INVALIDATION_IGNORED]


def test_rule8_forced_mints_are_limited_to_one_per_interval(make_script: MakeScript) -> None:
    script = fresh(make_script, forced_min_interval=5.0)
    script.invalidate()
    script.mint_ok("t2")
    script.advance(2.0)
    deferred = script.invalidate()
    assert deferred.start_mint is None
    assert deferred.wake_at == pytest.approx(script.start + 5.0)
    early = script.demand()
    assert isinstance(early.reply, Reject)
    assert early.reply.error.kind is ErrorKind.UNAVAILABLE
    assert early.reply.error.retry_after == pytest.approx(3.0)
    assert forced_refresh_wait(early.reply.error) == pytest.approx(3.0)  # BearerAuth's cue
    assert forced_refresh_wait(CredentialError(kind=ErrorKind.UNAVAILABLE, message="503")) is None
    started = script.wake()
    assert started.start_mint is not None
    assert started.start_mint.reason is MintReason.FORCED


def test_rule8_an_invalidation_during_a_mint_waits_for_that_mint(make_script: MakeScript) -> None:
    script = fresh(make_script)
    script.wake()  # proactive refresh in flight
    step = script.invalidate()
    assert step.start_mint is None
    assert isinstance(script.demand().reply, Wait)
    assert script.mint_ok("t2").resolve == script.state.serve


def test_rule8_a_generation_never_issued_is_a_caller_bug(make_script: MakeScript) -> None:
    script = fresh(make_script)
    with pytest.raises(ValueError, match=r"generation=7 was never issued"):
        script.invalidate(7)


# -- rule 9: wake-ups -----------------------------------------------------------------------------


def test_rule9_every_decision_says_when_to_wake(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0, breaker_threshold=1)
    assert script.last.wake_at == pytest.approx(script.start + 800.0)  # the refresh point
    started = script.wake()
    assert started.wake_at == pytest.approx(script.start + 995.0)  # the unusable point
    failed = script.mint_fail(draw=0.0)
    assert failed.wake_at == pytest.approx(script.now + 30.0)  # the half-open time


def test_rule9_a_wake_up_is_never_earlier_than_now(make_script: MakeScript) -> None:
    """The issue's example: the stale grace of a 1 s token ended before its refresh answered."""
    script = make_script(
        refresh_at=1.0,
        jitter=0.0,
        floor=0.0,
        skew=0.0,
        breaker_threshold=1,
        breaker_cooldown=5.0,
        stale_grace=20.0,
    )
    script.demand()
    script.mint_ok("t1", expires_in=1.0)
    script.wake()  # the refresh at 1 s
    script.advance(21.0)
    step = script.mint_ok("late", expires_at=script.now - 1.0)  # unusable on arrival
    assert step.wake_at is not None
    assert step.wake_at >= script.now


def test_rule9_no_wake_up_is_asked_when_nothing_is_pending(make_script: MakeScript) -> None:
    script = make_script()
    assert script.demand().wake_at is None  # a cold mint in flight: its result will come
    script.mint_ok("key", expires_in=None)
    assert script.last.wake_at is None


def test_rule9_the_unusable_point_gives_one_expiry_notice(make_script: MakeScript) -> None:
    script = fresh(make_script, lifetime=1000.0)
    script.wake()
    script.mint_fail(ErrorKind.REAUTH_REQUIRED)
    expired = script.wake()
    assert kinds(expired.notices) == [NoticeKind.TOKEN_EXPIRED]
    assert expired.wake_at is None
