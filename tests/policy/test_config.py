"""RefreshConfig: the contract's defaults, and a clear ValueError for every bad value."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from mintgate.policy import RefreshConfig
from mintgate.shell.strategies import configs


def test_defaults_are_the_contracts() -> None:
    config = RefreshConfig()
    assert (config.refresh_at, config.jitter, config.floor, config.skew) == (0.8, 0.1, 30, 5)
    assert (config.retry_base, config.retry_cap) == (1, 60)
    assert config.breaker_threshold == 3
    assert (config.breaker_cooldown, config.breaker_cooldown_cap) == (30, 300)
    assert config.breaker_rejecting_cap == 60
    assert (config.mint_timeout, config.forced_min_interval, config.stale_grace) == (10, 1, 0)


def test_the_defaults_leave_room_for_a_refresh_before_the_token_is_unusable() -> None:
    config = RefreshConfig()
    assert config.floor >= config.skew + config.mint_timeout


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("refresh_at", 0.0, r"refresh_at must be in \(0, 1\]"),
        ("refresh_at", 1.5, r"refresh_at must be in \(0, 1\]"),
        ("refresh_at", float("nan"), "refresh_at must be finite"),
        ("refresh_at", "0.8", "refresh_at must be a number, got str"),
        ("jitter", -0.1, r"jitter must be in \[0, refresh_at=0.8\]"),
        ("jitter", 0.9, r"jitter must be in \[0, refresh_at=0.8\]"),
        ("floor", -1, "floor must be >= 0 seconds"),
        ("skew", float("inf"), "skew must be finite"),
        ("retry_base", True, "retry_base must be a number, got bool"),
        ("retry_cap", 0.5, r"retry_base \(1.0\) must be <= retry_cap \(0.5\)"),
        ("breaker_threshold", 0, "breaker_threshold must be an integer >= 1"),
        ("breaker_threshold", 2.5, "breaker_threshold must be an integer >= 1"),
        ("breaker_cooldown", 400, r"breaker_cooldown \(400\) must be <= breaker_cooldown_cap"),
        ("breaker_cooldown_cap", -5, "breaker_cooldown_cap must be >= 0 seconds"),
        ("mint_timeout", -0.001, "mint_timeout must be > 0 seconds"),
        ("mint_timeout", 0.0, "mint_timeout must be > 0 seconds"),
        ("retry_base", 0, "retry_base must be > 0 seconds"),
        ("breaker_cooldown", 0.0, "breaker_cooldown must be > 0 seconds"),
        ("breaker_rejecting_cap", -1, "breaker_rejecting_cap must be >= 0 seconds"),
        ("floor", 10**400, "floor must be a finite float"),
        ("refresh_at", 10**400, "refresh_at must be a finite float"),
        ("forced_min_interval", None, "forced_min_interval must be a number, got NoneType"),
        ("stale_grace", -60, "stale_grace must be >= 0 seconds"),
    ],
)
def test_a_bad_value_names_the_field_and_the_allowed_range(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RefreshConfig(**{field: value})


@pytest.mark.parametrize(
    ("rejecting", "cooldown", "cap", "effective"),
    [
        (60, 30, 300, 60),  # the defaults
        (10, 30, 300, 30),  # never below the base cooldown
        (600, 30, 300, 300),  # never above the ordinary cap
        (60, 5, 20, 20),  # a short ordinary cap is kept
    ],
)
def test_the_effective_rejecting_cap(
    rejecting: float, cooldown: float, cap: float, effective: float
) -> None:
    config = RefreshConfig(
        breaker_rejecting_cap=rejecting, breaker_cooldown=cooldown, breaker_cooldown_cap=cap
    )
    assert config.rejecting_cap == effective


def test_a_config_is_immutable() -> None:
    config = RefreshConfig()
    with pytest.raises(AttributeError):
        config.skew = 1.0  # type: ignore[misc]


@given(configs())
def test_every_generated_config_is_valid(config: RefreshConfig) -> None:
    assert 0 < config.refresh_at <= 1
    assert 0 <= config.jitter <= config.refresh_at
    assert min(config.retry_base, config.breaker_cooldown, config.mint_timeout) > 0
