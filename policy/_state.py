"""Everything the core remembers about one credential, as one immutable value.

A :class:`PolicyState` is only ever replaced, never mutated: :func:`~mintgate.policy.step` takes
one and returns the next. Three values are derived when a state is built, because the hot path
(``Demand`` on a fresh token) needs them and they depend on nothing but the state:
``quiet_until`` (before it, a ``Demand`` is served with no other effect), ``serve`` (the reply
then) and ``wake_at`` (when the shell must next deliver a ``Tick``). The hot ``Step`` itself is
built on the first hot ``Demand`` and kept in ``hot_step``: building a ``Step`` costs more than
the whole decision, and it is the same immutable value every time.
"""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar, final

import attrs

from mintgate.policy._decisions import MintStart, Serve, Step, Token
from mintgate.policy._errors import CredentialError

__all__ = ["PolicyState"]

V = TypeVar("V")

INF = math.inf


@final
@attrs.frozen
class PolicyState(Generic[V]):
    """The core's memory of one credential. Build the first with :meth:`initial`.

    The fields are public for inspection and telemetry; only :func:`step` should produce states.

    Attributes:
        token: The installed token, usable or not, or None before the first one.
        generation: The generation of the newest token installed (0 before the first).
        invalidated: The installed token was rejected downstream and is never served again.
        fresh_until: Before this instant the token is served as fresh (``expires_at - skew``).
        usable_until: Before this instant the token may be served at all: ``fresh_until``, or
            ``expires_at + stale_grace`` once a retryable refresh failure granted stale grace;
            ``-inf`` once invalidated.
        stale_granted: A retryable failure of a refresh granted stale grace to this token.
        refresh_point: The token's refresh point (rules 2 and 7), None for a token that never
            expires.
        early_installs: Consecutive tokens installed inside their refresh window (rule 7).
        next_mint_at: When the next background mint is due, before the gates below apply.
        in_flight: The mint in flight, or None (single flight: never more than one).
        in_flight_since: When it started; the token it yields counts its lifetime from here.
        next_attempt: The attempt id the next mint will get.
        failures: Consecutive failed mints.
        last_error: The error of the newest failed mint since the last success.
        dead: A reauthentication error that ended all minting until the credential is replaced.
        suspended: A configuration error that suspended minting until :attr:`recheck_at`.
        recheck_at: While suspended, the one re-check attempt starts no earlier than this.
        not_before: No mint starts before this (the issuer's ``Retry-After``).
        breaker_open_until: While not None the breaker is open; at this instant it half-opens.
        cooldown: The cooldown ``c_j`` of the current opening (it doubles after each failed
            probe, up to the cap that applies then).
        openings: Which opening in a row this is (``j``: 1 for the first, one more per failed
            probe); 0 while the breaker is closed.
        forced_not_before: While the token is invalidated, no mint starts before this
            (``forced_min_interval``).
        expiry_noted: A ``TOKEN_EXPIRED`` notice was given for the current ``usable_until``.
    """

    token: Token[V] | None = None
    generation: int = 0
    invalidated: bool = False
    fresh_until: float = -INF
    usable_until: float = -INF
    stale_granted: bool = False
    refresh_point: float | None = None
    early_installs: int = 0
    next_mint_at: float | None = None
    in_flight: MintStart | None = None
    in_flight_since: float | None = None
    next_attempt: int = 1
    failures: int = 0
    last_error: CredentialError | None = None
    dead: CredentialError | None = None
    suspended: CredentialError | None = None
    recheck_at: float | None = None
    not_before: float | None = None
    breaker_open_until: float | None = None
    cooldown: float | None = None
    openings: int = 0
    forced_not_before: float | None = None
    expiry_noted: bool = False

    quiet_until: float = attrs.field(init=False, eq=False, repr=False)
    serve: Serve[V] | None = attrs.field(init=False, eq=False, repr=False)
    wake_at: float | None = attrs.field(init=False, eq=False, repr=False)
    hot_step: Step[V] | None = attrs.field(init=False, default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        start = self.background_start()
        if self.token is None or self.invalidated:
            quiet = -INF
        elif start is None:
            quiet = self.fresh_until
        else:
            quiet = min(self.fresh_until, start)
        wake = start
        if self.token is not None and not self.invalidated and not self.expiry_noted:
            wake = self.usable_until if wake is None else min(wake, self.usable_until)
        if wake is not None and math.isinf(wake):
            wake = None
        setattr_ = object.__setattr__
        setattr_(self, "quiet_until", quiet)
        setattr_(self, "serve", None if self.token is None else Serve(self.token))
        setattr_(self, "wake_at", wake)

    @classmethod
    def initial(cls) -> PolicyState[Any]:
        """The state of a credential that has never been minted."""
        return _INITIAL

    def gate(self) -> float:
        """The earliest instant any mint may start: breaker, ``Retry-After``, forced interval,
        and a suspension's re-check time."""
        gate = -INF
        if self.breaker_open_until is not None:
            gate = self.breaker_open_until
        if self.not_before is not None and self.not_before > gate:
            gate = self.not_before
        if self.recheck_at is not None and self.recheck_at > gate:
            gate = self.recheck_at
        if self.invalidated and self.forced_not_before is not None:
            gate = max(gate, self.forced_not_before)
        return gate

    def background_start(self) -> float | None:
        """When the next mint starts without a caller asking, or None if none is planned."""
        if self.in_flight is not None or self.dead is not None or self.next_mint_at is None:
            return None
        return max(self.next_mint_at, self.gate())

    def usable(self, now: float) -> bool:
        """Whether the token may be served at ``now`` (rule 1)."""
        return self.token is not None and now < self.usable_until


_INITIAL: PolicyState[Any] = PolicyState()
