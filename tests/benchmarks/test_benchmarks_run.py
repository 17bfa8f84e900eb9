"""The benchmark scripts keep working: each runs with tiny counts and prints its figures.

No timing is asserted here: the figures are read by people, in docs/performance.md.
"""

from __future__ import annotations

import sys

import pytest

from . import load_benchmark as _load

step_throughput = _load("step_throughput")


def test_step_throughput_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert step_throughput.main(["--calls", "2000", "--events", "3000", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("trivial call", "hot step", "mixed workload", "events/s", "demand"):
        assert label in out


def test_the_trace_is_a_valid_history_with_every_kind_of_event() -> None:
    trace, mix = step_throughput.record_trace(20_000, seed=3)
    assert len(trace) == 20_000
    assert {"demand", "tick", "mint succeeded", "mint failed", "invalidate"} <= set(mix)


token_latency = _load("token_latency")


def test_token_latency_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--calls", "500", "--repeats", "1", "--callers", "50", "--providers", "5"]
    assert token_latency.main(args) == 0
    out = capsys.readouterr().out
    for label in ("token()", "aget()", "current()", "cold start", "mints 1", "bare event", "KiB"):
        assert label in out


simulation_speed = _load("simulation_speed")


def test_simulation_speed_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--instances", "20", "--hours", "1", "--slice", "5", "--repeats", "1"]
    assert simulation_speed.main(argv) == 0
    out = capsys.readouterr().out
    for label in ("x bare loop", "aws-static-stability", "batch=False", "goal:"):
        assert label in out


def test_the_recovery_figures_meet_the_policys_goals(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behaviour, not speed: these figures are virtual-time counts, so they may be asserted."""
    recovery = _load("recovery")
    assert [recovery.recovery(seed)[0] for seed in (0, 5, 9)] == [0, 0, 0]
    errors, _, low, high = recovery.short_tokens()
    assert errors == 0
    assert 2.1 <= low <= high <= 2.25 + 1e-9
    attempts, served = recovery.configuration_error()
    assert attempts == 3  # the first, then one re-check per 5 minutes
    assert served is not None
    assert served <= 300.0
    monkeypatch.setattr(sys, "argv", ["recovery.py", "--quick"])
    recovery.main()
    assert "outage bound" in capsys.readouterr().out


host_scale = _load("host_scale")


def test_host_scale_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--credentials", "200", "--providers", "20", "--timed", "50", "--hours", "2"]
    assert host_scale.main([*args, "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("per credential less its token", "one host", "a provider each", "heap"):
        assert label in out


def test_the_host_run_refreshes_every_credential_before_its_token_ends() -> None:
    """Behaviour, not speed: 50 credentials over 3 virtual hours of one-hour tokens."""
    _, instants = host_scale.timer_run(50, 3.0, one_host=True)
    assert 50 * 3 <= len(instants) <= 50 * 5


oauth2_limits = _load("oauth2_limits")


def test_oauth2_limits_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert oauth2_limits.main(["--expanded", str(4 << 20), "--seconds", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("bomb on a 200", "bomb on a 503", "httpx's own decoding", "invalid_grant"):
        assert label in out


store_speed = _load("store_speed")


def test_store_speed_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--records", "50", "--reads", "50", "--updates", "20", "--rounds", "1"]
    assert store_speed.main(args) == 0
    out = capsys.readouterr().out
    for label in ("SQLiteStore.get", "raw sqlite3", "two processes", "create_many(100)", "bytes"):
        assert label in out


crypto_speed = _load("crypto_speed")


def test_crypto_speed_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert crypto_speed.main(["--count", "200", "--records", "20", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("plain copy", "Keyring seal", "Keyring open", "overhead", "get + update"):
        assert label in out
    assert "37 (state), 37 (token)" in out
