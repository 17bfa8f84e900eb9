"""The new figures against a log: errors when healthy, and recovery after each outage.

A model-based check: every refusal, serve, install and capacity 429 of a run is logged as it
happens, and the figures are computed again from the log with plain code; the simulator's
bookkeeping (windows, the first serve after the last refusal, the first token after an outage)
must agree with it, for every policy, over the awkward scenario of test_fleet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mintgate.policy import RefreshConfig
from mintgate.simulations import POLICY_NAMES, Outage, Scenario, _fleet, simulate
from mintgate.simulations._metrics import OutageRecovery, p50_and_max
from mintgate.simulations._report import rows

from .test_fleet import ROUGH


def logged_run(
    monkeypatch: pytest.MonkeyPatch, scenario: Scenario, policy: str
) -> tuple[Any, list[tuple[str, float, int]]]:
    log: list[tuple[str, float, int]] = []
    run = _fleet._Run

    def wrap(name: str, entry: Callable[..., tuple[float, int]]) -> None:
        original = getattr(run, name)

        def logged(self: Any, *args: Any) -> Any:
            log.append((name, *entry(*args)))
            return original(self, *args)

        monkeypatch.setattr(run, name, logged)

    wrap("refused", lambda now, i, wait: (now, i))
    wrap("served", lambda i, at, lo, hi, serve, wait: (at(lo), i))
    wrap("installed", lambda now, i: (now, i))
    original_request = _fleet._Endpoint.request

    def request(self: Any, now: float, recorder: Any) -> Any:
        before = recorder.rate_limited
        answer = original_request(self, now, recorder)
        if recorder.rate_limited > before:
            log.append(("over capacity", now, -1))
            log.append(("429 answered", answer[0], -1))
        return answer

    monkeypatch.setattr(_fleet._Endpoint, "request", request)
    return simulate(scenario, policy), log


def expected(scenario: Scenario, log: list[tuple[str, float, int]]) -> tuple[int, list[Any]]:
    outages = scenario.outages
    sent = [t for kind, t, _ in log if kind == "over capacity"]
    answered = [t for kind, t, _ in log if kind == "429 answered"]
    over = {  # each second from a refused request to its 429
        second for a, b in zip(sent, answered, strict=True) for second in range(int(a), int(b) + 1)
    }

    def healthy(t: float) -> bool:
        second = int(t)
        return second not in over and not any(
            o.start < second + 1 and second < o.end for o in outages
        )

    healthy_errors = sum(1 for kind, t, _ in log if kind == "refused" and healthy(t))
    found = []
    for outage in outages:
        start = outage.end
        limit = min([o.start for o in outages if o.start >= start] + [scenario.duration])
        inside = [(kind, t, i) for kind, t, i in log if start <= t < limit]
        last_refusal = {i: t for kind, t, i in inside if kind == "refused"}
        back = [
            next((t for kind, t, j in inside if kind == "served" and j == i and t > last), None)
            for i, last in last_refusal.items()
        ]
        fresh = [
            next((t for kind, t, j in inside if kind == "installed" and j == i), None)
            for i in last_refusal
        ]
        no_refusals = p50_and_max([None if t is None else t - start for t in back])
        fresh_token = p50_and_max([None if t is None else t - start for t in fresh])
        found.append(
            OutageRecovery(
                str(outage), len(last_refusal), limit - start, *no_refusals, *fresh_token
            )
        )
    return healthy_errors, found


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_the_new_figures_agree_with_a_log_of_the_run(
    monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    metrics, log = logged_run(monkeypatch, ROUGH, policy)
    healthy, recovery = expected(ROUGH, log)
    assert metrics.healthy_caller_errors == healthy
    assert list(metrics.recovery) == recovery
    assert 0 <= healthy <= metrics.caller_errors


def test_the_rough_run_exercises_what_it_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics, log = logged_run(monkeypatch, ROUGH, "botocore")  # no backoff: it overruns capacity
    assert sum(kind == "over capacity" for kind, _, _ in log) > 100
    assert any(r.refusing > 0 for r in metrics.recovery)
    assert simulate(ROUGH, "mintgate").healthy_caller_errors > 0  # after its outages


def test_a_recovery_the_run_does_not_reach_shows_the_time_left() -> None:
    # Five-minute tokens die in a 20-minute outage that ends 20 s before the run does: the
    # breaker's probe comes later than that for some instances.
    scenario = Scenario(
        instances=10,
        duration=1820.0,
        lifetime=300.0,
        start_spread=60.0,
        outages=(Outage(600.0, 1200.0),),
    )
    metrics = simulate(scenario, "mintgate")
    recovery = metrics.recovery[0]
    assert recovery.refusing > 0
    assert recovery.window == 20.0
    assert recovery.no_refusals_max is None
    assert recovery.fresh_token_max is None
    (row,) = rows([metrics])
    assert row[-1].endswith("/> 20s")
    assert row[-2].endswith("/> 20s")


def test_a_short_rejecting_cap_recovers_sooner_and_fails_fewer_healthy_calls() -> None:
    scenario = Scenario(instances=100, duration=3 * 3600.0, outages=(Outage(3600.0, 1800.0),))
    default = simulate(scenario, "mintgate")
    short = simulate(scenario, "mintgate", config=RefreshConfig(breaker_rejecting_cap=30.0))
    assert short.healthy_caller_errors < default.healthy_caller_errors
    assert short.recovery[0].fresh_token_max is not None
    assert default.recovery[0].fresh_token_max is not None
    assert short.recovery[0].fresh_token_max < default.recovery[0].fresh_token_max
