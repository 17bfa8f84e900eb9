"""The knobs of the refresh policy, validated once at construction.

Every field, its default and its allowed range come from the policy contract
(``shared/design/policy.md``); ``docs/policy.md`` gives the reason for each default. A bad value
is a caller bug and raises ``ValueError`` naming the field and the allowed range, so nothing
downstream ever sees a configuration that could make the state machine misbehave.
"""

from __future__ import annotations

import math
from typing import Any, final

import attrs

__all__ = ["RefreshConfig"]


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"RefreshConfig.{name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range, such as 10**400
        raise ValueError(
            f"RefreshConfig.{name} must be a finite float, got an int too large for one"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"RefreshConfig.{name} must be finite, got {value!r}")
    return number


def _finite(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _number(attribute.name, value)


def _duration(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if _number(attribute.name, value) < 0:
        raise ValueError(f"RefreshConfig.{attribute.name} must be >= 0 seconds, got {value!r}")


def _positive(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # A zero backoff, cooldown or timeout would let a down endpoint be hammered thousands of
    # times a second.
    if _number(attribute.name, value) <= 0:
        raise ValueError(f"RefreshConfig.{attribute.name} must be > 0 seconds, got {value!r}")


@final
@attrs.frozen
class RefreshConfig:
    """How a credential is kept fresh. Every duration is in seconds.

    Args:
        refresh_at: Fraction of a token's lifetime after which a proactive refresh starts,
            in ``(0, 1]``.
        jitter: Fraction of the lifetime; the refresh point is drawn uniformly in
            ``[refresh_at - jitter, refresh_at]``. In ``[0, refresh_at]``.
        floor: A refresh starts no later than this long before expiry.
        skew: A token is never served within this long of its expiry.
        retry_base: First backoff delay after a failed background refresh.
        retry_cap: Largest backoff delay; ``>= retry_base``.
        breaker_threshold: Consecutive mint failures that open the circuit breaker; ``>= 1``.
        breaker_cooldown: How long the breaker stays open before one half-open probe.
        breaker_cooldown_cap: Largest cooldown (it doubles after each failed probe) while a
            usable token is still served; ``>= breaker_cooldown``.
        breaker_rejecting_cap: Largest cooldown while *no* usable token exists and callers are
            refused; in effect ``min(max(breaker_rejecting_cap, breaker_cooldown),
            breaker_cooldown_cap)`` (:attr:`rejecting_cap`).
        mint_timeout: The shell cancels a mint that takes longer than this.
        forced_min_interval: Least time between two mints forced by invalidations.
        stale_grace: How long past its expiry a token may still be served while every refresh
            fails; 0 never serves an expired token.
    """

    refresh_at: float = attrs.field(default=0.8, validator=_finite)
    jitter: float = attrs.field(default=0.1, validator=_finite)
    floor: float = attrs.field(default=30.0, validator=_duration)
    skew: float = attrs.field(default=5.0, validator=_duration)
    retry_base: float = attrs.field(default=1.0, validator=_positive)
    retry_cap: float = attrs.field(default=60.0, validator=_duration)
    breaker_threshold: int = 3
    breaker_cooldown: float = attrs.field(default=30.0, validator=_positive)
    breaker_cooldown_cap: float = attrs.field(default=300.0, validator=_duration)
    breaker_rejecting_cap: float = attrs.field(default=60.0, validator=_duration)
    mint_timeout: float = attrs.field(default=10.0, validator=_positive)
    forced_min_interval: float = attrs.field(default=1.0, validator=_duration)
    stale_grace: float = attrs.field(default=0.0, validator=_duration)

    @property
    def rejecting_cap(self) -> float:
        """The cap of the doubling cooldown while no usable token exists: never below the base
        cooldown, never above the ordinary cap."""
        return min(
            max(self.breaker_rejecting_cap, self.breaker_cooldown), self.breaker_cooldown_cap
        )

    def __attrs_post_init__(self) -> None:
        if not 0 < self.refresh_at <= 1:
            raise ValueError(f"RefreshConfig.refresh_at must be in (0, 1], got {self.refresh_at!r}")
        if not 0 <= self.jitter <= self.refresh_at:
            raise ValueError(
                f"RefreshConfig.jitter must be in [0, refresh_at={self.refresh_at!r}], "
                f"got {self.jitter!r}"
            )
        threshold = self.breaker_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ValueError(
                f"RefreshConfig.breaker_threshold must be an integer >= 1, got {threshold!r}"
            )
        if self.retry_base > self.retry_cap:
            raise ValueError(
                f"RefreshConfig.retry_base ({self.retry_base!r}) must be <= "
                f"retry_cap ({self.retry_cap!r})"
            )
        if self.breaker_cooldown > self.breaker_cooldown_cap:
            raise ValueError(
                f"RefreshConfig.breaker_cooldown ({self.breaker_cooldown!r}) must be <= "
                f"breaker_cooldown_cap ({self.breaker_cooldown_cap!r})"
            )
