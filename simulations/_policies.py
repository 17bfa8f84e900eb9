"""The policies a simulated instance can run: mintgate's core, and models of other libraries.

Every policy speaks the core's vocabulary: it takes the core's events (``Demand``, ``Tick``,
``MintSucceeded``, ``MintFailed``) on the instance's own clock and answers with the core's
decisions (``Serve``, ``Wait``, ``Reject``, ``MintStart``), so one simulator drives them all and
the comparison is like for like. mintgate is the real :func:`mintgate.policy.step`; the
baselines are small models of what other libraries do, each with its source in
:data:`BASELINES` and in ``docs/simulations.md``.

A policy also says until when it is *quiet* (``quiet_until``): before that instant on its clock,
every demand is served ``serving`` and changes nothing. The simulator uses it to serve a run of
demands at once instead of one by one; a test checks that this gives the same metrics.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

import attrs

from mintgate.policy import (
    CredentialError,
    Demand,
    ErrorKind,
    Event,
    MintFailed,
    MintReason,
    MintStart,
    MintSucceeded,
    PolicyState,
    RefreshConfig,
    Reject,
    Serve,
    Step,
    Token,
    Wait,
    step,
)

__all__ = [
    "BASELINES",
    "POLICY_NAMES",
    "Baseline",
    "BaselineModel",
    "Decision",
    "MintgatePolicy",
    "SimPolicy",
    "make_policy",
]

INF = math.inf


class Decision(NamedTuple):
    """What a policy answers to one event: the fields of the core's ``Step`` the simulator uses."""

    reply: Serve[str] | Wait | Reject | None
    start_mint: MintStart | None
    resolve: Serve[str] | Reject | None
    wake_at: float | None


class SimPolicy(Protocol):
    """One instance's policy, as the simulator drives it."""

    @property
    def quiet_until(self) -> float:
        """Before this instant (the instance's clock) a demand is served and changes nothing."""
        ...

    @property
    def serving(self) -> Serve[str] | None:
        """What a quiet demand is served."""
        ...

    def handle(self, event: Event[str]) -> Decision | Step[str]:
        """Take one event; say what to do."""
        ...

    def credential_replaced(self) -> None:
        """The operator re-provisioned the credential (after a revocation window)."""
        ...


class MintgatePolicy:
    """mintgate's pure core, unchanged: :func:`mintgate.policy.step` over a :class:`PolicyState`."""

    __slots__ = ("config", "state")

    def __init__(self, config: RefreshConfig) -> None:
        self.config = config
        self.state: PolicyState[str] = PolicyState.initial()

    @property
    def quiet_until(self) -> float:
        return self.state.quiet_until

    @property
    def serving(self) -> Serve[str] | None:
        return self.state.serve

    def handle(self, event: Event[str]) -> Step[str]:
        result = step(self.config, self.state, event)
        self.state = result.state
        return result

    def credential_replaced(self) -> None:
        # A dead credential starts afresh, as an application would build a new provider; a live
        # one keeps its token (the operator's change does not touch it).
        if self.state.dead is not None:
            self.state = PolicyState.initial()


@attrs.frozen
class Baseline:
    """How another library keeps a token fresh, reduced to the knobs that decide its behaviour.

    Args:
        name: The policy's name on the command line.
        models: What it models, with the source.
        blocking_margin: The token is not used this long before its expiry: a caller waits for
            a refresh, and fails if it fails.
        refresh_margin: A refresh starts this long before expiry while the token is still
            served (None: only the blocking refresh).
        half_life_from: Tokens living at least this long refresh at half their lifetime instead
            (azure-identity's ``refresh_on``); None: never.
        caller_waits: The caller that starts a refresh inside ``refresh_margin`` waits for it
            (it is done inline on that caller's thread); later callers are served the old token.
        retry_spacing: After a failed refresh, the next proactive one waits a delay drawn
            uniformly in this range; (0, 0) retries on the next demand.
        extend_expired: On a failed refresh of an expired token, keep serving it for a delay
            drawn uniformly in this range (static stability); None: never serve it expired.
    """

    name: str
    models: str
    blocking_margin: float
    refresh_margin: float | None = None
    half_life_from: float | None = None
    caller_waits: bool = True
    retry_spacing: tuple[float, float] = (0.0, 0.0)
    extend_expired: tuple[float, float] | None = None


BASELINES: tuple[Baseline, ...] = (
    Baseline(
        "go-oauth2",
        "Go golang.org/x/oauth2: a token is invalid 10 s before expiry (expiryDelta); "
        "ReuseTokenSource refreshes inline under a mutex and returns the error",
        blocking_margin=10.0,
    ),
    Baseline(
        "authlib",
        "authlib OAuth2Client: ensure_active_token refreshes inline once a token is within "
        "its 60 s leeway of expiry; a failure raises",
        blocking_margin=60.0,
    ),
    Baseline(
        "google-auth",
        "google-auth: credentials are expired 3m45s before expiry (REFRESH_THRESHOLD) and "
        "before_request refreshes inline; a failure raises (default blocking mode)",
        blocking_margin=225.0,
    ),
    Baseline(
        "botocore",
        "botocore RefreshableCredentials: advisory window 15 min (one thread refreshes, a "
        "failure is logged and the old credentials used), mandatory window 10 min (refresh "
        "inline, a failure raises); no backoff",
        blocking_margin=600.0,
        refresh_margin=900.0,
    ),
    Baseline(
        "azure-identity",
        "azure-identity: refresh from refresh_on (5 min before expiry, or half the lifetime "
        "for tokens of 2 h or more), at most one attempt per 30 s, the cached token served "
        "until it expires; an expired token is requested inline on every call",
        blocking_margin=0.0,
        refresh_margin=300.0,
        half_life_from=7200.0,
        retry_spacing=(30.0, 30.0),
    ),
    Baseline(
        "aws-static-stability",
        "AWS SDKs (2026) static stability: prefetch 5 min before expiry, retry 5-10 min after a "
        "failure, and keep serving expired credentials (extended 5-10 min) while refresh fails",
        blocking_margin=0.0,
        refresh_margin=300.0,
        retry_spacing=(300.0, 600.0),
        extend_expired=(300.0, 600.0),
    ),
)

POLICY_NAMES: tuple[str, ...] = ("mintgate", *(b.name for b in BASELINES))

_BY_NAME = {b.name: b for b in BASELINES}


class BaselineModel:
    """A :class:`Baseline` running on one instance, single flight like its library.

    Demand-driven like the libraries it models: nothing happens between calls, so it never asks
    for a wake-up. A refresh failure is served the old token while that is still allowed (see
    :class:`Baseline`) and refused otherwise; a token that arrives already inside the blocking
    margin is refused, as botocore does ("refreshed credentials are still expired").
    """

    __slots__ = (
        "_attempts",
        "_generation",
        "_in_flight",
        "_next_attempt_at",
        "_refresh_from",
        "_serve",
        "_usable_until",
        "spec",
    )

    def __init__(self, spec: Baseline) -> None:
        self.spec = spec
        self._serve: Serve[str] | None = None
        self._usable_until = -INF
        self._refresh_from = INF
        self._next_attempt_at = -INF
        self._in_flight: int | None = None
        self._attempts = 0
        self._generation = 0

    @property
    def quiet_until(self) -> float:
        if self._serve is None:
            return -INF
        # While a refresh is in flight this is already in the past: it started once due.
        return min(self._usable_until, max(self._refresh_from, self._next_attempt_at))

    @property
    def serving(self) -> Serve[str] | None:
        return self._serve

    def credential_replaced(self) -> None:
        """Nothing to do: these libraries retry on every call anyway."""

    def _start(self, now: float) -> MintStart:
        self._attempts += 1
        self._in_flight = self._attempts
        reason = MintReason.COLD if self._serve is None else MintReason.PROACTIVE
        return MintStart(self._attempts, reason)

    def handle(self, event: Event[str]) -> Decision:
        now = event.now
        if isinstance(event, MintSucceeded):
            return self._installed(event)
        if isinstance(event, MintFailed):
            return self._failed(event)
        if not isinstance(event, Demand):  # a Tick or an Invalidate: never asked for
            return Decision(None, None, None, None)
        serve = self._serve
        if serve is not None and now < self._usable_until:
            due = now >= self._refresh_from and now >= self._next_attempt_at
            if self._in_flight is None and due:
                start = self._start(now)
                return Decision(Wait() if self.spec.caller_waits else serve, start, None, None)
            return Decision(serve, None, None, None)
        blocking = self._start(now) if self._in_flight is None else None
        return Decision(Wait(), blocking, None, None)

    def _installed(self, event: MintSucceeded[str]) -> Decision:
        if event.attempt != self._in_flight:
            return Decision(None, None, None, None)
        self._in_flight = None
        spec, now = self.spec, event.now
        expires_at = INF if event.expires_at is None else event.expires_at
        self._generation += 1
        token = Token(event.value, event.expires_at, now, self._generation)
        self._serve = Serve(token)
        self._usable_until = expires_at - spec.blocking_margin
        margin = spec.refresh_margin
        lifetime = expires_at - now
        if spec.half_life_from is not None and lifetime >= spec.half_life_from:
            self._refresh_from = now + lifetime / 2
        else:
            self._refresh_from = INF if margin is None else expires_at - margin
        self._next_attempt_at = -INF
        if now >= self._usable_until:
            error = CredentialError(
                kind=ErrorKind.INVALID_RESPONSE,
                message=f"the refreshed token is already inside the {spec.name} refresh margin",
            )
            return Decision(None, None, Reject(error), None)
        return Decision(None, None, self._serve, None)

    def _failed(self, event: MintFailed) -> Decision:
        if event.attempt != self._in_flight:
            return Decision(None, None, None, None)
        self._in_flight = None
        spec, now, draw = self.spec, event.now, event.draw
        low, high = spec.retry_spacing
        self._next_attempt_at = now + low + (high - low) * draw
        serve = self._serve
        if serve is not None and now >= self._usable_until and spec.extend_expired is not None:
            low, high = spec.extend_expired
            self._usable_until = now + low + (high - low) * draw
        if serve is not None and now < self._usable_until:
            return Decision(None, None, serve, None)
        return Decision(None, None, Reject(event.error), None)


def make_policy(name: str, config: RefreshConfig) -> SimPolicy:
    """A fresh policy for one instance: ``"mintgate"`` (with ``config``) or a baseline's name."""
    if name == "mintgate":
        return MintgatePolicy(config)
    try:
        return BaselineModel(_BY_NAME[name])
    except KeyError:
        known = ", ".join(POLICY_NAMES)
        raise ValueError(f"unknown policy {name!r}; known: {known}") from None
