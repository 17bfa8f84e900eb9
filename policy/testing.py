"""Tools to drive and check the pure core: a scripted driver, the contract's invariants, vectors.

- :class:`Script` drives :func:`~mintgate.policy.step` on a fake clock with a fake mint, one call
  per event, and keeps the history: tests, the conformance runner and the demo scenario use it.
- :class:`InvariantChecker` watches every step from outside and raises
  :class:`InvariantViolation` the moment one of the contract's invariants breaks. It keeps its
  own model of the token, the breaker and the outage, built only from the events and the
  decisions, so it does not trust the state it checks.
- :func:`check_scenario` runs one scenario of the conformance vectors (``conformance.json``,
  shipped beside this module) and returns what did not match.

Everything here is as pure as the core: no clock, no randomness, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, final

from mintgate.policy._config import RefreshConfig
from mintgate.policy._decisions import MintReason, Reject, Serve, Step, Wait
from mintgate.policy._errors import CredentialError, ErrorKind
from mintgate.policy._events import Demand, Event, Invalidate, MintFailed, MintSucceeded, Tick
from mintgate.policy._machine import step
from mintgate.policy._state import PolicyState

__all__ = [
    "InvariantChecker",
    "InvariantViolation",
    "Observer",
    "Script",
    "check_scenario",
    "outage_attempt_bound",
]

V = TypeVar("V")

Observer = Callable[[PolicyState[Any], Event[Any], Step[Any]], None]


@final
class Script(Generic[V]):
    """Drives the core by hand: a fake clock, a fake mint, and the history of every step.

    Args:
        config: The policy configuration (defaults to ``RefreshConfig()``).
        start: The fake clock's first reading; production clocks rarely start at 0.
        observer: Called with ``(state_before, event, step)`` after every step, for example
            ``InvariantChecker(config).observe``.
    """

    def __init__(
        self,
        config: RefreshConfig | None = None,
        *,
        start: float = 0.0,
        observer: Observer | None = None,
    ) -> None:
        self.config = RefreshConfig() if config is None else config
        self.start = start
        self.now = start
        self.state: PolicyState[V] = PolicyState.initial()
        self.history: list[tuple[Event[V], Step[V]]] = []
        self._observer = observer

    @property
    def elapsed(self) -> float:
        """Seconds since the fake clock's start."""
        return self.now - self.start

    @property
    def last(self) -> Step[V]:
        """The newest step."""
        return self.history[-1][1]

    def replace_credential(self) -> None:
        """The credential was replaced (after a reauthentication error): start afresh."""
        self.state = PolicyState.initial()

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, not by {seconds!r}")
        self.now += seconds

    def feed(self, event: Event[V]) -> Step[V]:
        """Feed one event and keep the result."""
        before = self.state
        result = step(self.config, before, event)
        self.state = result.state
        self.history.append((event, result))
        if self._observer is not None:
            self._observer(before, event, result)
        return result

    def demand(self) -> Step[V]:
        """A caller asks for a token now."""
        return self.feed(Demand(self.now))

    def tick(self) -> Step[V]:
        """Deliver a ``Tick`` now."""
        return self.feed(Tick(self.now))

    def wake(self) -> Step[V]:
        """Move the clock to the wake-up the core asked for (if later) and deliver the ``Tick``."""
        wake_at = self.state.wake_at
        if wake_at is None:
            raise ValueError("the core asked for no wake-up")
        self.now = max(self.now, wake_at)
        return self.tick()

    def attempt(self, which: int | str = "current") -> int:
        """An attempt id: ``"current"`` (in flight), ``"stale"`` (one not in flight), or an int."""
        if isinstance(which, int):
            return which
        if which == "stale":
            return self.state.next_attempt - 2 if self.state.in_flight else self.state.next_attempt
        if self.state.in_flight is None:
            raise ValueError("no mint is in flight")
        return self.state.in_flight.attempt

    def mint_ok(
        self,
        value: V,
        *,
        expires_in: float | None = 3600.0,
        expires_at: float | None = None,
        draw: float = 0.5,
        attempt: int | str = "current",
        issued_at: float | None = None,
    ) -> Step[V]:
        """The mint answers with ``value``.

        ``expires_in`` counts from when the mint started, as adapters count it; ``expires_at``
        (absolute) wins when given; both None make a token that never expires. ``issued_at``
        (absolute) adopts a token issued before the attempt started.
        """
        attempt_id = self.attempt(attempt)
        if expires_at is None and expires_in is not None:
            started = self.state.in_flight_since
            expires_at = (self.now if started is None else started) + expires_in
        return self.feed(MintSucceeded(self.now, attempt_id, value, expires_at, draw, issued_at))

    def mint_fail(
        self,
        kind: ErrorKind = ErrorKind.UNAVAILABLE,
        *,
        message: str = "token endpoint answered HTTP 503",
        retry_after: float | None = None,
        draw: float = 0.5,
        attempt: int | str = "current",
    ) -> Step[V]:
        """The mint fails with an error of ``kind``."""
        error = CredentialError(kind=kind, message=message, retry_after=retry_after)
        return self.feed(MintFailed(self.now, self.attempt(attempt), error, draw))

    def invalidate(self, generation: int | None = None) -> Step[V]:
        """Downstream rejected the token of ``generation`` (default: the current one)."""
        return self.feed(
            Invalidate(self.now, self.state.generation if generation is None else generation)
        )


# -- invariants --------------------------------------------------------------------------------


class InvariantViolation(AssertionError):
    """A step broke one of the policy contract's invariants."""


def outage_attempt_bound(config: RefreshConfig, outage: float, *, token_cached: bool = True) -> int:
    """The most mint attempts an outage may see, ``outage`` seconds after the breaker opened.

    ``breaker_threshold + max{p : sum(min(cap_min, cooldown * 2**(i-1)) for i in 1..p) <= D}``,
    ``cap_min`` the effective rejecting cap: the failures that open the breaker, then one probe
    per elapsed cooldown. With a usable token at some point of the outage (``token_cached``) the
    deadline probe may shorten two waits, so two more attempts are allowed.
    """
    cap = config.rejecting_cap
    probes, spent = 0, 0.0
    while True:
        cooldown = min(cap, config.breaker_cooldown * 2.0 ** min(probes, 64))
        if cooldown == cap and spent + cap <= outage:
            # From here on every wait is the cap: count them at once, then settle the last.
            whole = int((outage - spent) // cap)
            probes, spent = probes + whole, spent + whole * cap
            while spent > outage:  # floating-point rounding of the product
                probes, spent = probes - 1, spent - cap
            cooldown = cap
        if spent + cooldown > outage:
            return config.breaker_threshold + probes + (2 if token_cached else 0)
        spent += cooldown
        probes += 1


@final
class InvariantChecker:
    """Checks the contract's invariants over a sequence of steps, from outside the core.

    Call :meth:`observe` after every step, with the state the step was given. It raises
    :class:`InvariantViolation` naming the invariant and the event at the first violation.
    """

    def __init__(self, config: RefreshConfig) -> None:
        self.config = config
        self._reset()
        self.steps = 0

    def _reset(self) -> None:
        self.in_flight: int | None = None
        self.in_flight_since = 0.0
        self.token_generation = 0
        self.token_expires: float | None = None
        self.token_issued = 0.0
        self.token_invalidated = False
        self.stale_ok = False
        self.dead = False
        self.suspended_until: float | None = None  # a configuration error's re-check time
        # The breaker, modelled from failures alone.
        self.failures = 0
        self.open_until: float | None = None
        self.openings = 0
        self.not_before: float | None = None  # the last failure's Retry-After
        self.forced_not_before: float | None = None  # rule 8's interval, while invalidated
        # The current run of consecutive failures (an outage) and its attempts.
        self.run_attempts = 0
        self.run_opened_at: float | None = None
        self.run_had_usable = False

    # -- the model -----------------------------------------------------------------------------

    def skew(self) -> float:
        """The current token's effective skew: ``min(skew, 0.1 * lifetime)``."""
        if self.token_expires is None:
            return self.config.skew
        return min(self.config.skew, 0.1 * max(self.token_expires - self.token_issued, 0.0))

    def last_usable(self) -> float:
        """The instant the current token stops being usable (``U`` of rule 5)."""
        if self.token_generation == 0 or self.token_invalidated:
            return -math.inf
        if self.token_expires is None:
            return math.inf
        if self.stale_ok and not self.dead:
            return self.token_expires + self.config.stale_grace
        return self.token_expires - self.skew()

    def usable(self, now: float) -> bool:
        """Whether the model says the current token may be served at ``now``."""
        return now < self.last_usable()

    def _fail(self, what: str, event: Event[Any]) -> None:
        raise InvariantViolation(f"step {self.steps}: {what} (event {event!r})")

    def observe(self, before: PolicyState[Any], event: Event[Any], result: Step[Any]) -> None:
        """Check one step and fold it into the model."""
        if self.steps and before == PolicyState.initial():
            self._reset()  # the credential was replaced: the contract starts it afresh
        self.steps += 1
        now = event.now
        usable_before = self.usable(now)
        if usable_before and self.run_attempts:
            self.run_had_usable = True

        if isinstance(event, Demand):
            self._check_demand(event, result, usable_before)
        elif result.reply is not None:
            self._fail("a reply to an event that is not a Demand", event)

        if isinstance(event, MintSucceeded | MintFailed):
            if event.attempt != self.in_flight:
                self._check_unchanged(before, event, result, "a result for a foreign attempt")
            else:
                self._settle(event, result)
        elif isinstance(event, Invalidate):
            if event.generation != self.token_generation or self.token_invalidated:
                self._check_unchanged(before, event, result, "a stale invalidation")
            else:
                self.token_invalidated = True
                self.stale_ok = False
        elif result.resolve is not None:
            self._fail("waiters resolved although no mint ended", event)

        if result.start_mint is not None:
            self._check_start(event, result)
        self._check_refresh_point(result)
        if result.wake_at is not None:
            if not math.isfinite(result.wake_at):
                self._fail(f"wake_at is not finite: {result.wake_at!r}", event)
            if result.wake_at < now:
                self._fail(f"wake_at {result.wake_at!r} is earlier than the step's now", event)

    def _check_demand(self, event: Demand, result: Step[Any], usable: bool) -> None:
        reply = result.reply
        if usable and not isinstance(reply, Serve):
            self._fail(f"a Demand was not served although a usable token exists: {reply!r}", event)
        if isinstance(reply, Serve):
            self._check_served(reply, event)
        elif isinstance(reply, Reject) and usable:
            self._fail("an error reached a caller while a usable token exists", event)
        elif isinstance(reply, Reject) and reply.error.kind is ErrorKind.CIRCUIT_OPEN:
            # Rule 5: retry_after is the time until the probe is allowed.
            allowed = self.open_until
            if allowed is None:
                self._fail("CIRCUIT_OPEN although the breaker is closed", event)
                return
            if self.not_before is not None:
                allowed = max(allowed, self.not_before)
            if self.token_invalidated and self.forced_not_before is not None:
                allowed = max(allowed, self.forced_not_before)
            got = reply.error.retry_after
            if got is None or not math.isclose(got, allowed - event.now, abs_tol=1e-6):
                self._fail(f"CIRCUIT_OPEN retry_after {got!r}, not {allowed - event.now!r}", event)
        elif isinstance(reply, Wait) and self.in_flight is None and result.start_mint is None:
            self._fail("a caller was parked with no mint in flight", event)
        elif reply is None:
            self._fail("a Demand got no reply", event)

    def _check_served(self, serve: Serve[Any], event: Event[Any]) -> None:
        token = serve.token
        if token.generation != self.token_generation:
            self._fail(f"served generation {token.generation}, not the current one", event)
        if not self.usable(event.now):
            self._fail("served a token that is not usable", event)
        grace = self.config.stale_grace
        if token.expires_at is not None and event.now >= token.expires_at + grace:
            self._fail(f"served a token {event.now - token.expires_at:g} s past its expiry", event)

    def _check_unchanged(
        self, before: PolicyState[Any], event: Event[Any], result: Step[Any], what: str
    ) -> None:
        if result.state != before:
            self._fail(f"{what} changed the state", event)
        if result.start_mint is not None or result.resolve is not None:
            self._fail(f"{what} started a mint or resolved waiters", event)

    def _settle(self, event: MintSucceeded[Any] | MintFailed, result: Step[Any]) -> None:
        """A mint in flight ended: update the token, the breaker and the outage run."""
        now = event.now
        self.in_flight = None
        self.suspended_until = None  # a suspension ends with its re-check's answer
        installed = result.state.generation > self.token_generation
        if installed:
            assert isinstance(event, MintSucceeded)
            issued = self.in_flight_since
            if event.issued_at is not None and event.issued_at < issued:
                issued = event.issued_at
            self.token_generation = result.state.generation
            self.token_expires = event.expires_at
            self.token_issued = issued
            self.token_invalidated = False
            self.stale_ok = False
            self.failures = 0
            self.open_until = None
            self.openings = 0
            self.not_before = None
            self._new_run()
            if not isinstance(result.resolve, Serve) or result.resolve.token.generation != (
                self.token_generation
            ):
                self._fail("waiters were not given the token just installed", event)
            return
        # A failure, or a token unusable on arrival (which counts as one).
        error = None if isinstance(event, MintSucceeded) else event.error
        if error is not None and error.requires_reauth:
            self.dead = True
            self.stale_ok = False
        elif error is not None and not error.retryable:
            # Rule 6: a configuration error suspends; one re-check after the cap, none before.
            self.stale_ok = False
            wait = self.config.breaker_cooldown_cap
            if error.retry_after is not None:
                wait = max(wait, error.retry_after)
            self.suspended_until = now + wait
            self.failures = 0
            self.open_until = None
            self.openings = 0
            self.not_before = None
            self._new_run()
        else:
            self._failed_retryably(event, result, error)
        resolve = result.resolve
        if isinstance(resolve, Serve):
            self._check_served(resolve, event)
        elif isinstance(resolve, Reject):
            if self.usable(now):
                self._fail("waiters got an error while a usable token exists", event)
        else:
            self._fail("a mint ended without resolving its waiters", event)

    def _new_run(self) -> None:
        self.run_attempts = 0
        self.run_opened_at = None
        self.run_had_usable = False

    def _failed_retryably(
        self, event: Event[Any], result: Step[Any], error: CredentialError | None
    ) -> None:
        config, now = self.config, event.now
        if self.token_generation and not self.token_invalidated and config.stale_grace:
            self.stale_ok = True
        retry_after = None if error is None else error.retry_after
        self.not_before = None if retry_after is None else now + retry_after
        self.failures += 1
        if self.open_until is not None:
            self.openings += 1
        elif self.failures >= config.breaker_threshold:
            self.openings = 1
            if self.run_opened_at is None:
                self.run_opened_at = now
        else:
            return
        # Rule 5: c_j under the cap that applies just after the failure, and the deadline probe.
        usable = self.usable(now)
        cap = config.breaker_cooldown_cap if usable else config.rejecting_cap
        cooldown = min(cap, config.breaker_cooldown * 2.0 ** min(self.openings - 1, 64))
        self.open_until = now + cooldown
        if usable and math.isfinite(self.last_usable()):
            latest = max(
                now + config.breaker_cooldown, self.last_usable() - config.breaker_cooldown
            )
            self.open_until = max(now + config.breaker_cooldown, min(self.open_until, latest))
            retry_after = 0.0 if error is None or error.retry_after is None else error.retry_after
            due = max(latest, now + retry_after)
            # A usable token never dies unprobed: the core must wake by the deadline probe.
            if result.wake_at is None or result.wake_at > due + 1e-9 * max(1.0, abs(due)):
                self._fail(
                    f"no wake-up by the deadline probe at {due!r}: {result.wake_at!r}", event
                )

    def _check_start(self, event: Event[Any], result: Step[Any]) -> None:
        start = result.start_mint
        assert start is not None
        now = event.now
        if self.in_flight is not None:
            self._fail("a second mint started while one is in flight", event)
        if self.dead:
            self._fail("a mint started after a reauthentication error", event)
        if self.suspended_until is not None:
            if now < self.suspended_until:
                self._fail("a mint started before a suspension's re-check time", event)
            if start.reason is not MintReason.PROBE:
                self._fail(f"the re-check is a {start.reason}, not a probe", event)
        if self.open_until is not None:
            if now < self.open_until:
                self._fail("a mint started while the breaker is open", event)
            if start.reason is not MintReason.PROBE:
                self._fail(f"the mint after the cooldown is a {start.reason}, not a probe", event)
        self.in_flight = start.attempt
        self.in_flight_since = now
        if self.token_invalidated:
            self.forced_not_before = now + self.config.forced_min_interval
        self.run_attempts += 1
        if self.usable(now):
            self.run_had_usable = True
        bound = self.config.breaker_threshold
        if self.run_opened_at is not None:
            # The core adds cooldowns to failure times; subtracting them back can lose an ulp.
            slack = 1e-9 * max(1.0, abs(now))
            bound = outage_attempt_bound(
                self.config, now - self.run_opened_at + slack, token_cached=self.run_had_usable
            )
        if self.run_attempts > bound:
            self._fail(
                f"{self.run_attempts} attempts in one outage, more than the bound {bound}", event
            )

    def _check_refresh_point(self, result: Step[Any]) -> None:
        state = result.state
        token = state.token
        if token is None or token.expires_at is None or state.refresh_point is None:
            return
        config = self.config
        point = state.refresh_point
        lifetime = token.expires_at - token.issued_at
        skew = min(config.skew, 0.1 * max(lifetime, 0.0))
        floor = min(config.floor, 0.25 * max(lifetime, 0.0))
        unusable = token.expires_at - skew
        latest = min(token.expires_at - floor, unusable)
        low = max(
            token.issued_at,
            min(token.issued_at + lifetime * (config.refresh_at - config.jitter), latest),
        )
        high = max(token.issued_at, min(token.issued_at + lifetime * config.refresh_at, latest))
        if state.early_installs:
            high = unusable  # rule 7 pushed it out, never past the unusable point
        slack = 1e-9 * max(1.0, abs(point))
        if not low - slack <= point <= high + slack:
            raise InvariantViolation(
                f"refresh point {point!r} outside the rule-2 window [{low!r}, {high!r}]"
            )


# -- conformance vectors ------------------------------------------------------------------------


def check_scenario(scenario: Mapping[str, Any], *, start: float = 0.0) -> list[str]:
    """Run one scenario of the conformance vectors; return a line for each mismatch.

    Args:
        scenario: One entry of ``conformance.json``'s ``scenarios``.
        start: Where the fake clock starts; expected times in the vectors are relative to it.
    """
    config = RefreshConfig(**scenario.get("config", {}))
    script: Script[str] = Script(config, start=start, observer=InvariantChecker(config).observe)
    problems: list[str] = []
    for index, entry in enumerate(scenario["steps"]):
        action = next(key for key in entry if key != "expect")
        before = script.state
        try:
            result = _perform(script, action, entry[action])
        except (ValueError, InvariantViolation) as error:
            problems.append(f"step {index} ({action}): {error}")
            break
        if result is None:
            continue
        expected = entry.get("expect", {})
        for key, want in expected.items():
            got = _observed(script, before, result, key)
            if not _same(got, want):
                problems.append(f"step {index} ({action}) {key}: expected {want!r}, got {got!r}")
    return problems


def _perform(script: Script[str], action: str, args: Any) -> Step[str] | None:
    if action == "advance":
        script.advance(float(args))
        return None
    if action == "demand":
        return script.demand()
    if action == "tick":
        return script.tick()
    if action == "wake":
        return script.wake()
    if action == "mint_ok":
        return script.mint_ok(
            args.get("value", "token"),
            expires_in=args.get("expires_in", 3600.0),
            expires_at=None
            if args.get("expires_at") is None
            else script.start + args["expires_at"],
            draw=args.get("draw", 0.5),
            attempt=args.get("attempt", "current"),
            issued_at=None if args.get("issued_at") is None else script.start + args["issued_at"],
        )
    if action == "mint_fail":
        return script.mint_fail(
            ErrorKind(args.get("kind", "unavailable")),
            retry_after=args.get("retry_after"),
            draw=args.get("draw", 0.5),
            attempt=args.get("attempt", "current"),
        )
    if action == "invalidate":
        return script.invalidate(args.get("generation"))
    raise ValueError(f"unknown action {action!r}")


def _describe(decision: object) -> str | None:
    if decision is None:
        return None
    if isinstance(decision, Serve):
        return f"serve:{decision.token.value}"
    if isinstance(decision, Reject):
        return f"reject:{decision.error.kind.value}"
    if isinstance(decision, Wait):
        return "wait"
    raise TypeError(f"not a decision: {decision!r}")


def _observed(script: Script[str], before: PolicyState[Any], result: Step[str], key: str) -> Any:
    if key in ("reply", "resolve"):
        return _describe(getattr(result, key))
    if key == "start_mint":
        return None if result.start_mint is None else result.start_mint.reason.value
    if key == "wake_at":
        return None if result.wake_at is None else result.wake_at - script.start
    if key == "notices":
        return [notice.kind.value for notice in result.notices]
    if key == "retry_after":
        for decision in (result.reply, result.resolve):
            if isinstance(decision, Reject):
                return decision.error.retry_after
        return None
    if key == "message":
        for decision in (result.reply, result.resolve):
            if isinstance(decision, Reject):
                return decision.error.message
        return None
    if key == "generation":
        return result.state.generation
    if key == "refresh_point":
        point = result.state.refresh_point
        return None if point is None else point - script.start
    if key == "state_unchanged":
        return result.state == before
    if key == "notice_when":
        return {n.kind.value: n.when - script.start for n in result.notices if n.when is not None}
    raise ValueError(f"unknown expectation {key!r}")


def _same(got: Any, want: Any) -> bool:
    if (
        isinstance(want, float | int)
        and not isinstance(want, bool)
        and isinstance(got, float | int)
    ):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6)
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() <= got.keys() and all(_same(got[k], v) for k, v in want.items())
    if isinstance(want, str) and isinstance(got, str) and want.startswith("~"):
        return want[1:] in got
    return bool(got == want)
