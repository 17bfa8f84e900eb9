"""The refresh policy as one pure function: ``step(config, state, event) -> Step``.

Theory of operation
===================

One credential is kept fresh by four small sub-machines that share one immutable state
(:class:`~mintgate.policy.PolicyState`). Each event (``Demand``, ``Tick``, ``MintSucceeded``,
``MintFailed``, ``Invalidate``) runs through them and comes out as a decision: a reply for a
caller, maybe a mint to start, maybe a resolution for parked waiters, the next wake-up, and
notices. Time and randomness are inputs (``now``, ``draw``); nothing here reads a clock, draws a
random number, logs or does I/O, so the same events always give the same steps.

Freshness (rules 1, 2, 7, 8)
    NONE -> FRESH -> (refresh point) DUE -> (expires_at - skew) UNUSABLE, and with stale grace
    granted by a failed refresh, STALE until ``expires_at + stale_grace``. INVALIDATED when
    downstream rejects the current generation. A token is *usable* while FRESH, DUE or STALE;
    every ``Demand`` is served at once while it is, whatever else is going on. The refresh
    point is fixed when the token is installed: ``issued + lifetime * (refresh_at - jitter *
    draw)``, clamped into ``[issued, min(expires_at - floor, expires_at - skew)]``; a token that
    arrives inside its refresh window (a re-served cached token, an adopted or late one) gets
    the point pushed out by a growing backoff so it cannot cause a mint loop. ``skew`` and
    ``floor`` shrink with short lifetimes: a token of lifetime ``L`` uses ``min(skew, 0.1 L)``
    and ``min(floor, 0.25 L)`` everywhere, so a 3-second token is served and refreshed in time.

Single flight (rule 3)
    IDLE <-> IN_FLIGHT(attempt). A mint starts only from IDLE; callers that cannot be served
    while one is in flight WAIT for it, and its result resolves them all. A result whose attempt
    id is not the one in flight is foreign (a timed-out attempt's late answer) and changes
    nothing.

Backoff (rules 4, 6)
    After a retryable failure while a usable token exists, a background RETRY is scheduled
    ``min(retry_cap, retry_base * 2**(n-1)) * (1 - draw/2)`` later, but never later than
    halfway to the token's last usable instant (patience early, urgency near expiry), and
    never earlier than the issuer's ``Retry-After``. With no usable token the failure reaches
    the waiters and nothing is retried in the background: the next ``Demand`` starts the next
    attempt. A reauthentication failure makes the credential DEAD: the token is served until
    ``expires_at - skew``, then every caller gets that error, and nothing is minted again until
    the credential is replaced (``PolicyState.initial()``). A configuration failure SUSPENDS it
    the same way, except that one re-check (a probe) is let through ``breaker_cooldown_cap``
    later, and its answer is handled like any attempt's: a fixed issuer heals the credential.

Breaker (rule 5)
    CLOSED -> (``breaker_threshold`` consecutive failures) OPEN(until) -> (cooldown over)
    HALF_OPEN: exactly one PROBE is let through, on the wake-up when a token is cached, else
    on the next ``Demand``. Probe success -> CLOSED and the cooldown resets; probe failure ->
    OPEN again with the cooldown doubled, up to ``breaker_cooldown_cap`` while a usable token
    is served and up to the shorter ``rejecting_cap`` while callers are refused. While a usable
    token is cached the half-open time never lets the token die unprobed: it comes no later
    than a base cooldown before the token's last usable instant (the deadline probe). Once
    OPEN, the probe's time is the breaker's alone (rule 4's backoff no longer applies). While
    OPEN nothing is minted and a ``Demand`` without a usable token is rejected at once with
    ``retry_after`` until the probe is allowed.

All mints pass the same *gate*: the breaker's half-open time, the issuer's ``Retry-After``, a
suspension's re-check time, and, while the token is invalidated, ``forced_min_interval`` since
the last forced mint. A mint is due
when a caller has no usable token (``Demand``) or when ``next_mint_at`` has passed (refresh point,
retry, deferred forced mint); it starts once the gate allows. The decision always carries the
next instant the shell must wake the core: the next background mint or the instant the token
stops being usable, whichever is first, and never earlier than the step's ``now``.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import attrs

from mintgate.policy._config import RefreshConfig
from mintgate.policy._decisions import (
    MintReason,
    MintStart,
    Notice,
    NoticeKind,
    Reject,
    Serve,
    Step,
    Token,
    Wait,
)
from mintgate.policy._errors import CredentialError, ErrorKind, forced_refresh_limited
from mintgate.policy._events import Demand, Event, Invalidate, MintFailed, MintSucceeded, Tick
from mintgate.policy._state import PolicyState

__all__ = ["backoff_delay", "margins", "step"]

V = TypeVar("V")

_NO_NOTICES: tuple[Notice, ...] = ()


def step(config: RefreshConfig, state: PolicyState[V], event: Event[V]) -> Step[V]:
    """Feed one event to the policy and get the decision.

    Args:
        config: The policy's configuration.
        state: The current state; it is not modified.
        event: What happened.

    Returns:
        The new state and what the shell must do now.

    Raises:
        ValueError: The event is malformed (a non-finite time, a draw outside ``[0, 1)``, an
            invalidation of a generation never issued). Expected outcomes never raise: they
            are ``Reject`` replies and notices.
        TypeError: ``event`` is not one of the five events.
    """
    # The hot decision: a usable token, nothing due. One comparison; the Step is built once.
    if event.__class__ is Demand and event.now < state.quiet_until:
        return state.hot_step or _remember_hot_step(state)
    return _dispatch(config, state, event)


def _remember_hot_step(state: PolicyState[V]) -> Step[V]:
    hot = Step(state, state.serve, None, None, state.wake_at, _NO_NOTICES)
    object.__setattr__(state, "hot_step", hot)
    return hot


def _dispatch(config: RefreshConfig, state: PolicyState[V], event: Event[V]) -> Step[V]:
    if isinstance(event, Demand):
        return _on_demand(config, state, _time("Demand.now", event.now))
    if isinstance(event, Tick):
        return _on_tick(config, state, _time("Tick.now", event.now))
    if isinstance(event, MintSucceeded):
        return _on_success(config, state, event)
    if isinstance(event, MintFailed):
        return _on_failure_event(config, state, event)
    if isinstance(event, Invalidate):
        return _on_invalidate(config, state, event)
    raise TypeError(f"step() takes a policy event, not {type(event).__name__}")


# -- validation of inputs: a malformed event is a caller bug, named clearly ------------------


def _time(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


def _draw(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a uniform draw in [0, 1), got {value!r}")
    return float(value)


def _attempt(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int attempt id, got {value!r}")
    return value


# -- the four kinds of step --------------------------------------------------------------------


def _on_demand(config: RefreshConfig, state: PolicyState[V], now: float) -> Step[V]:
    notices: list[Notice] = []
    usable = state.usable(now)
    state, start = _maybe_start(config, state, now, wanted=not usable, notices=notices)
    reply: Serve[V] | Wait | Reject
    if usable:
        assert state.token is not None
        if now >= state.fresh_until:
            notices.append(Notice(NoticeKind.SERVED_STALE, now, generation=state.generation))
        reply = Serve(state.token)
    elif state.in_flight is not None:
        reply = Wait()
    else:
        reply = Reject(_why_not(state, now))
    return Step(state, reply, start, None, _wake(state, now), tuple(notices))


def _on_tick(config: RefreshConfig, state: PolicyState[V], now: float) -> Step[V]:
    notices: list[Notice] = []
    if (
        state.token is not None
        and not state.invalidated
        and not state.expiry_noted
        and now >= state.usable_until
    ):
        notices.append(Notice(NoticeKind.TOKEN_EXPIRED, now, generation=state.generation))
        state = attrs.evolve(state, expiry_noted=True)
    state, start = _maybe_start(config, state, now, wanted=False, notices=notices)
    return Step(state, None, start, None, _wake(state, now), tuple(notices))


def _on_success(config: RefreshConfig, state: PolicyState[V], event: MintSucceeded[V]) -> Step[V]:
    now = _time("MintSucceeded.now", event.now)
    attempt = _attempt("MintSucceeded.attempt", event.attempt)
    draw = _draw("MintSucceeded.draw", event.draw)
    expires_at = event.expires_at
    if expires_at is not None:
        expires_at = _time("MintSucceeded.expires_at", expires_at)
    issued_at = event.issued_at
    if issued_at is not None:
        issued_at = _time("MintSucceeded.issued_at", issued_at)
    flight = state.in_flight
    if flight is None or attempt != flight.attempt:
        return _ignored_result(state, now, attempt)
    assert state.in_flight_since is not None
    # Rule 2: issued when the attempt started, or earlier for an adopted token (a later
    # issued_at is clamped to the start: a token is never younger than the attempt).
    issued = state.in_flight_since
    if issued_at is not None and issued_at < issued:
        issued = issued_at

    skew = 0.0
    if expires_at is not None:
        skew = margins(config, expires_at - issued)[0]
        if now >= expires_at - skew:
            error = CredentialError(
                kind=ErrorKind.INVALID_RESPONSE,
                message=(
                    f"the minted token was unusable on arrival: it expires "
                    f"{expires_at - now:.3f} s after it arrived, within skew={skew:g} s"
                ),
            )
            return _on_failure(config, state, now, flight, error, draw)

    generation = state.generation + 1
    token = Token(event.value, expires_at, issued, generation)
    notices = [Notice(NoticeKind.MINT_SUCCEEDED, now, attempt=attempt, generation=generation)]
    if state.breaker_open_until is not None:
        notices.append(Notice(NoticeKind.BREAKER_CLOSED, now, attempt=attempt))

    refresh: float | None = None
    early = 0
    fresh_until = math.inf
    if expires_at is not None:
        fresh_until = expires_at - skew
        refresh, early = _refresh_point(config, state, now, issued, expires_at, draw)
        notices.append(
            Notice(NoticeKind.REFRESH_SCHEDULED, now, generation=generation, when=refresh)
        )
    state = attrs.evolve(
        state,
        token=token,
        generation=generation,
        invalidated=False,
        fresh_until=fresh_until,
        usable_until=fresh_until,
        stale_granted=False,
        refresh_point=refresh,
        early_installs=early,
        next_mint_at=refresh,
        in_flight=None,
        in_flight_since=None,
        failures=0,
        last_error=None,
        suspended=None,
        recheck_at=None,
        not_before=None,
        breaker_open_until=None,
        cooldown=None,
        openings=0,
        expiry_noted=False,
    )
    return Step(state, None, None, Serve(token), _wake(state, now), tuple(notices))


def _on_failure_event(config: RefreshConfig, state: PolicyState[V], event: MintFailed) -> Step[V]:
    now = _time("MintFailed.now", event.now)
    attempt = _attempt("MintFailed.attempt", event.attempt)
    draw = _draw("MintFailed.draw", event.draw)
    if not isinstance(event.error, CredentialError):
        raise ValueError(
            f"MintFailed.error must be a CredentialError, got {type(event.error).__name__}"
        )
    flight = state.in_flight
    if flight is None or attempt != flight.attempt:
        return _ignored_result(state, now, attempt)
    return _on_failure(config, state, now, flight, event.error, draw)


def _on_failure(
    config: RefreshConfig,
    state: PolicyState[V],
    now: float,
    flight: MintStart,
    error: CredentialError,
    draw: float,
) -> Step[V]:
    failures = state.failures + 1
    notices = [Notice(NoticeKind.MINT_FAILED, now, attempt=flight.attempt, error=error)]
    token = state.token
    held = token is not None and not state.invalidated
    changes: dict[str, Any] = {
        "in_flight": None,
        "in_flight_since": None,
        "failures": failures,
        "last_error": error,
        "next_mint_at": None,
        # A suspension ends with its re-check's answer, whatever it is.
        "suspended": None,
        "recheck_at": None,
    }
    if not error.retryable:
        # Rule 6: no backoff retries and no stale grace; the token is served while fresh.
        changes["stale_granted"] = False
        if held and state.usable_until != state.fresh_until:
            changes.update(usable_until=state.fresh_until, expiry_noted=False)
        if error.requires_reauth:  # dead until the credential is replaced
            notices.append(Notice(NoticeKind.CREDENTIAL_DEAD, now, error=error))
            state = attrs.evolve(state, dead=error, **changes)
            return _resolved(state, now, error, notices)
        return _suspend(config, state, now, error, changes, notices)

    # Rule 1: a retryable failure of a refresh of the current token grants stale grace.
    if held and config.stale_grace > 0 and not state.stale_granted:
        assert token is not None
        grace_end = None if token.expires_at is None else token.expires_at + config.stale_grace
        if grace_end is not None and grace_end > now:  # a grace already over grants nothing
            changes.update(stale_granted=True, usable_until=grace_end, expiry_noted=False)

    # Rule 6: the issuer's Retry-After delays the next attempt, whatever it is.
    changes["not_before"] = None if error.retry_after is None else now + error.retry_after
    state = attrs.evolve(state, **changes)
    usable = state.usable(now)

    # Rule 5: the breaker opens at the threshold; a failed probe reopens it, cooldown doubled.
    if state.breaker_open_until is not None:
        openings = state.openings + 1
    elif failures >= config.breaker_threshold:
        openings = 1
    else:
        openings = 0
    if openings:
        cap = config.breaker_cooldown_cap if usable else config.rejecting_cap
        cooldown = min(cap, config.breaker_cooldown * 2.0 ** min(openings - 1, 64))
        half_open = now + cooldown
        if usable and math.isfinite(state.usable_until):
            # The deadline probe: one probe still lands a base cooldown before the end.
            deadline = state.usable_until - config.breaker_cooldown
            half_open = max(now + config.breaker_cooldown, min(half_open, deadline))
        state = attrs.evolve(
            state, cooldown=cooldown, openings=openings, breaker_open_until=half_open
        )
        notices.append(
            Notice(NoticeKind.BREAKER_OPENED, now, attempt=flight.attempt, when=half_open)
        )

    if state.breaker_open_until is not None:
        # The probe's time is the breaker's alone: on the half-open wake-up if a token is
        # cached (usable or not), else on the next Demand.
        if token is not None:
            state = attrs.evolve(state, next_mint_at=now)
    elif usable:
        # Rule 4: retry in the background while a usable token is served meanwhile, never
        # later than halfway to its last usable instant.
        delay = backoff_delay(config, failures, draw)
        if math.isfinite(state.usable_until):
            delay = min(delay, (state.usable_until - now) / 2)
        state = attrs.evolve(state, next_mint_at=now + delay)
    start = state.background_start()
    if start is not None:
        notices.append(Notice(NoticeKind.RETRY_SCHEDULED, now, when=start))
    return _resolved(state, now, error, notices)


def _suspend(
    config: RefreshConfig,
    state: PolicyState[V],
    now: float,
    error: CredentialError,
    changes: dict[str, Any],
    notices: list[Notice],
) -> Step[V]:
    """Rule 6 for a configuration error: one re-check ``breaker_cooldown_cap`` later (or when
    its own Retry-After ends, if later), none before. It starts a new row for the breaker."""
    wait = config.breaker_cooldown_cap
    if error.retry_after is not None:
        wait = max(wait, error.retry_after)
    recheck = now + wait
    changes.update(
        suspended=error,
        recheck_at=recheck,
        failures=0,
        not_before=None,
        breaker_open_until=None,
        cooldown=None,
        openings=0,
        # On the wake-up if a token is cached (even one no longer usable), else on a Demand.
        next_mint_at=recheck if state.token is not None else None,
    )
    state = attrs.evolve(state, **changes)
    notices.append(Notice(NoticeKind.CREDENTIAL_SUSPENDED, now, error=error, when=recheck))
    return _resolved(state, now, error.with_retry_after(wait), notices)


def _on_invalidate(config: RefreshConfig, state: PolicyState[V], event: Invalidate) -> Step[V]:
    now = _time("Invalidate.now", event.now)
    generation = event.generation
    if isinstance(generation, bool) or not isinstance(generation, int):
        raise ValueError(f"Invalidate.generation must be an int, got {generation!r}")
    if not 1 <= generation <= state.generation:
        raise ValueError(
            f"Invalidate.generation={generation} was never issued "
            f"(generations issued so far: 1..{state.generation})"
        )
    if generation != state.generation or state.invalidated:
        notice = Notice(NoticeKind.INVALIDATION_IGNORED, now, generation=generation)
        return Step(state, None, None, None, _wake(state, now), (notice,))
    notices = [Notice(NoticeKind.TOKEN_INVALIDATED, now, generation=generation)]
    # Rule 8: a forced mint, unless one is in flight already (it will replace the token), or
    # the credential is suspended (rule 6: the re-check's time stays as it is).
    next_mint_at: float | None = now
    if state.in_flight is not None:
        next_mint_at = None
    elif state.suspended is not None:
        next_mint_at = state.next_mint_at
    state = attrs.evolve(
        state,
        invalidated=True,
        stale_granted=False,
        fresh_until=-math.inf,
        usable_until=-math.inf,
        next_mint_at=next_mint_at,
    )
    state, start = _maybe_start(config, state, now, wanted=False, notices=notices)
    return Step(state, None, start, None, _wake(state, now), tuple(notices))


# -- shared pieces -----------------------------------------------------------------------------


def backoff_delay(config: RefreshConfig, failures: int, draw: float) -> float:
    """Rule 4's jittered exponential delay after the ``failures``-th consecutive failure."""
    exponent = min(failures - 1, 64)
    return min(config.retry_cap, config.retry_base * 2.0**exponent) * (1 - draw / 2)


def margins(config: RefreshConfig, lifetime: float) -> tuple[float, float]:
    """The effective ``(skew, floor)`` for a token of ``lifetime`` seconds: ``min(skew, 0.1 L)``
    and ``min(floor, 0.25 L)``, sized for tokens of minutes or hours, shrunk for short ones."""
    lifetime = max(lifetime, 0.0)
    return min(config.skew, 0.1 * lifetime), min(config.floor, 0.25 * lifetime)


def _refresh_point(
    config: RefreshConfig,
    state: PolicyState[V],
    now: float,
    issued: float,
    expires_at: float,
    draw: float,
) -> tuple[float, int]:
    """The refresh point of a token arriving at ``now`` (rule 2), pushed out by rule 7.

    Returns the point and the new count of consecutive installs inside their window.
    """
    lifetime = expires_at - issued
    skew, floor = margins(config, lifetime)
    unusable = expires_at - skew
    point = issued + lifetime * (config.refresh_at - config.jitter * draw)
    point = max(issued, min(point, expires_at - floor, unusable))
    previous = state.token
    inside = point <= now or (
        previous is not None
        and previous.expires_at is not None
        and expires_at <= previous.expires_at
    )
    if not inside:
        return point, 0
    early = state.early_installs + 1
    return min(max(point, now + backoff_delay(config, early, 0.0)), unusable), early


def _maybe_start(
    config: RefreshConfig,
    state: PolicyState[V],
    now: float,
    *,
    wanted: bool,
    notices: list[Notice],
) -> tuple[PolicyState[V], MintStart | None]:
    """Start a mint if one is due at ``now`` and the gate lets it through.

    A mint is due when a caller has no usable token (``wanted``) or when ``next_mint_at`` has
    passed. Single flight and a dead credential stop everything.
    """
    if state.in_flight is not None or state.dead is not None:
        return state, None
    if wanted:
        due = now
    elif state.next_mint_at is not None:
        due = state.next_mint_at
    else:
        return state, None
    if max(due, state.gate()) > now:
        return state, None
    if state.suspended is not None:
        reason = MintReason.PROBE  # the re-check of rule 6
    elif state.breaker_open_until is not None:
        reason = MintReason.PROBE
        notices.append(Notice(NoticeKind.BREAKER_HALF_OPEN, now, attempt=state.next_attempt))
    elif state.invalidated:
        reason = MintReason.FORCED
    elif state.failures > 0:
        reason = MintReason.RETRY
    elif state.usable(now):
        reason = MintReason.PROACTIVE
    else:
        reason = MintReason.COLD
    start = MintStart(state.next_attempt, reason)
    notices.append(Notice(NoticeKind.MINT_STARTED, now, attempt=start.attempt, reason=reason))
    state = attrs.evolve(
        state,
        in_flight=start,
        in_flight_since=now,
        next_attempt=start.attempt + 1,
        next_mint_at=None,
        forced_not_before=(
            now + config.forced_min_interval if state.invalidated else state.forced_not_before
        ),
    )
    return state, start


def _resolved(
    state: PolicyState[V], now: float, error: CredentialError, notices: list[Notice]
) -> Step[V]:
    """The step that ends a failed mint: waiters get the token if one is usable, else the error."""
    resolve: Serve[V] | Reject
    if state.usable(now):
        assert state.token is not None
        resolve = Serve(state.token)
        if now >= state.fresh_until:
            notices.append(Notice(NoticeKind.SERVED_STALE, now, generation=state.generation))
    else:
        resolve = Reject(error)
    return Step(state, None, None, resolve, _wake(state, now), tuple(notices))


def _wake(state: PolicyState[Any], now: float) -> float | None:
    """Rule 9: the state's wake-up, never earlier than the step's ``now`` (due now)."""
    wake = state.wake_at
    return now if wake is not None and wake < now else wake


def _why_not(state: PolicyState[Any], now: float) -> CredentialError:
    """The error for a caller with no usable token and no mint that can start now."""
    if state.dead is not None:
        return state.dead
    retry_after = state.gate() - now
    assert retry_after > 0, "a mint should have started"
    if state.suspended is not None:
        return state.suspended.with_retry_after(retry_after)
    last = state.last_error
    if state.breaker_open_until is not None and state.breaker_open_until > now:
        cause = "" if last is None else f"; last error: {last.kind.value}: {last.message}"
        return CredentialError(
            kind=ErrorKind.CIRCUIT_OPEN,
            message=f"circuit breaker open after {state.failures} consecutive mint failures{cause}",
            retry_after=retry_after,
        )
    if state.not_before is not None and state.not_before > now and last is not None:
        return last.with_retry_after(retry_after)
    return forced_refresh_limited(retry_after)


def _ignored_result(state: PolicyState[V], now: float, attempt: int) -> Step[V]:
    notice = Notice(NoticeKind.RESULT_IGNORED, now, attempt=attempt)
    return Step(state, None, None, None, _wake(state, now), (notice,))
