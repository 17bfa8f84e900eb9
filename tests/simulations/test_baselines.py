"""Each baseline does, on a small scenario, what the library it models is documented to do.

One instance starts at 0 on a true clock and mints a 1-hour token (it expires at about 3600 s);
its demands come every 10 s. An outage placed around that expiry shows each library's windows.
"""

from __future__ import annotations

import pytest

from mintgate.simulations import Metrics, Outage, Scenario, simulate


def _run(
    policy: str,
    *outages: Outage,
    lifetime: float = 3600.0,
    duration: float = 2.5 * 3600.0,
    demand_every: float = 10.0,
) -> Metrics:
    scenario = Scenario(
        instances=1,
        duration=duration,
        lifetime=lifetime,
        start_spread=0.0,
        max_skew=0.0,
        latency=0.01,
        demand_every=demand_every,
        outages=outages,
    )
    return simulate(scenario, policy)


def _first_minute(series: tuple[int, ...]) -> int:
    return next(minute for minute, count in enumerate(series) if count)


# Outage 50 min to 70 min: the first token (expiring at 60 min) cannot be refreshed.
OUTAGE = Outage(3000.0, 1200.0)


@pytest.mark.parametrize(
    ("policy", "margin"), [("go-oauth2", 10.0), ("authlib", 60.0), ("google-auth", 225.0)]
)
def test_a_fixed_margin_fails_callers_from_its_margin_to_the_outage_end(
    policy: str, margin: float
) -> None:
    metrics = _run(policy, OUTAGE, demand_every=1.0)
    # Every demand from expiry - margin until the outage ends refreshes inline and fails.
    failing = OUTAGE.end - (3600.0 - margin)
    assert metrics.caller_errors == pytest.approx(failing, abs=2)
    assert _first_minute(metrics.series_errors) == int((3600.0 - margin) // 60)
    # No backoff: one request per failing demand.
    assert metrics.requests == pytest.approx(metrics.caller_errors + metrics.minted, abs=1)


def test_mintgate_rides_out_the_same_outage_on_a_token_it_refreshed_early() -> None:
    metrics = _run("mintgate", OUTAGE)
    assert metrics.caller_errors == 0
    assert metrics.expired_served == 0


def test_mintgate_serves_the_old_token_through_an_outage_at_its_refresh_point() -> None:
    # Outage 40 min to 55 min: the refresh at 42-48 min fails, the token lives until 60 min.
    metrics = _run("mintgate", Outage(2400.0, 900.0))
    assert metrics.caller_errors == 0
    assert metrics.served_after_failure_seconds > 300.0
    assert metrics.recovery[0].refusing == 0  # no caller was refused after the outage


def test_botocore_serves_stale_in_the_advisory_window_and_fails_in_the_mandatory_one() -> None:
    # Outage 45 min to 55 min: advisory from 45 min (15 min left), mandatory from 50 min.
    metrics = _run("botocore", Outage(2700.0, 600.0))
    assert metrics.served_after_failure_seconds == pytest.approx(300.0, abs=10.0)
    assert _first_minute(metrics.series_errors) == 50
    assert metrics.caller_errors == pytest.approx(30, abs=2)
    # Without backoff it asks on every demand in both windows.
    assert metrics.requests >= 55


def test_azure_identity_retries_every_30_s_then_fails_each_call_once_expired() -> None:
    # Outage 55 min to 65 min: refresh_on is 5 min before expiry (55 min).
    metrics = _run("azure-identity", Outage(3300.0, 600.0))
    before_expiry = sum(metrics.series_requests[55:60])
    # At most one attempt per 30 s, made by the first demand after (so every 30-40 s here).
    assert 300 / 40 <= before_expiry <= 300 / 30
    assert _first_minute(metrics.series_errors) == 60
    assert metrics.caller_errors == pytest.approx(30, abs=2)  # 60 to 65 min, every demand


def test_azure_identity_refreshes_long_tokens_at_half_their_life() -> None:
    metrics = _run("azure-identity", lifetime=4 * 3600.0, duration=5 * 3600.0)
    assert metrics.minted == 3  # at 0, 2 h and 3 h (half of the 2 h left)
    assert _first_minute(metrics.series_requests[1:]) + 1 == 120


def test_aws_static_stability_serves_expired_credentials_and_backs_off() -> None:
    metrics = _run("aws-static-stability", OUTAGE)
    assert metrics.caller_errors == 0
    assert metrics.expired_served > 0
    # Prefetch at 55 min, then a retry every 5-10 min: a handful of requests in 20 min.
    during = sum(metrics.series_requests[50:70])
    assert 2 <= during <= 5
    # No caller is refused, after the outage either: the expired credentials are the price.
    assert metrics.recovery[0].refusing == 0
    assert metrics.healthy_caller_errors == 0


def test_a_token_that_arrives_inside_the_mandatory_window_is_refused() -> None:
    # Five-minute tokens under botocore's 10-minute mandatory window: every token is refused.
    metrics = _run("botocore", lifetime=300.0, duration=600.0)
    assert metrics.minted > 0
    assert metrics.caller_errors == metrics.demands
