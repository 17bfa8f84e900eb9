"""Scenario input: durations, outages and fields are read strictly, and a bad one is named."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mintgate.simulations import (
    POLICY_NAMES,
    PRESETS,
    Outage,
    OutageKind,
    Scenario,
    format_duration,
    parse_duration,
    parse_outage,
)
from mintgate.simulations._metrics import Recorder, first_true
from mintgate.simulations._variants import preset_runs


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("20m", 1200.0),
        ("3h", 10800.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        (" 2m ", 120.0),
        ("1h2m3s", 3723.0),
    ],
)
def test_durations_are_read(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "3x", "3h 20m", "nan", "inf", "20m3", "m20"])
def test_a_bad_duration_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration") as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize("text", ["-5", "-5m", " -1h30m"])
def test_a_negative_duration_says_so(text: str) -> None:
    with pytest.raises(ValueError, match=r"is negative: a duration is 0 or more") as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)


@given(st.integers(min_value=0, max_value=10**7))
def test_a_formatted_duration_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_outages_are_read_and_written_back() -> None:
    outage = parse_outage("3h+20m:503")
    assert outage == Outage(10800.0, 1200.0, OutageKind.UNAVAILABLE)
    assert str(outage) == "3h+20m:503"
    assert parse_outage("90m+5m").kind is OutageKind.UNAVAILABLE
    assert parse_outage("1h+1m:invalid_grant").kind is OutageKind.INVALID_GRANT
    assert parse_outage("0+30s:hang") == Outage(0.0, 30.0, OutageKind.HANG)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3h", r"must look like START\+DURATION\[:KIND\]"),
        ("3h+20m:500", r"unknown kind '500'; known: 503, 429, hang, invalid_grant"),
        ("3h+0s", r"must last more than 0 s"),
        ("soon+20m", r"'soon' is not a duration"),
    ],
)
def test_a_bad_outage_is_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_outage(text)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("instances", 0, r"Scenario.instances must be an integer >= 1, got 0"),
        ("instances", 2.5, r"Scenario.instances must be an integer >= 1, got 2.5"),
        ("duration", 0.0, r"Scenario.duration must be a number > 0, got 0.0"),
        ("lifetime", math.inf, r"Scenario.lifetime must be a number > 0, got inf"),
        ("start_spread", -1.0, r"Scenario.start_spread must be a number >= 0, got -1.0"),
        ("capacity", 0.0, r"Scenario.capacity must be a number > 0, got 0.0"),
        ("latency", "fast", r"Scenario.latency must be a number > 0, got 'fast'"),
    ],
)
def test_a_bad_scenario_field_is_named(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scenario(**{field: value})  # type: ignore[arg-type]


def test_an_outage_after_the_run_is_refused() -> None:
    with pytest.raises(ValueError, match=r"outage 3h\+20m:503 starts after the run ends \(2h\)"):
        Scenario(duration=7200.0, outages=(Outage(10800.0, 1200.0),))
    with pytest.raises(ValueError, match=r"Scenario.outages must hold Outage values, got '3h'"):
        Scenario(outages=("3h",))  # type: ignore[arg-type]


def test_a_scenario_describes_itself_for_reproduction() -> None:
    text = PRESETS["fleet-outage"].scenario.describe()
    assert text.startswith("500 instances x 8h, 1h tokens, a demand every 10s per instance")
    assert "outages 3h+20m:503, seed 1" in text


def test_every_preset_names_known_policies_and_says_why() -> None:
    for name, preset in PRESETS.items():
        assert set(preset.policies) <= set(POLICY_NAMES), name
        assert preset.policies[0] == "mintgate"
        runs = preset_runs(preset)  # the variants parse, and come right after mintgate
        assert [run.name for run in runs[1 : 1 + len(preset.variants)]] == list(preset.variants)
        assert len(preset.about) > 40


@given(st.lists(st.booleans()))
def test_first_true_finds_the_first_true_of_a_monotone_test(prefix: list[bool]) -> None:
    values = sorted(prefix)  # false then true
    expected = values.index(True) if True in values else len(values)
    assert first_true(0, len(values), lambda m: values[m]) == expected


def test_spread_puts_each_demand_in_its_minute() -> None:
    recorder = Recorder(minutes=3)
    recorder.spread(recorder.series_served_after_failure, lambda m: 45.0 + 10.0 * m, 0, 20)
    # Demands at 45, 55 | 65 ... 115 | 125 ... 235: the last minute takes what lies beyond.
    assert recorder.series_served_after_failure == [2, 6, 12]


def test_wait_quantiles_count_the_immediate_answers() -> None:
    recorder = Recorder(minutes=1)
    recorder.answered(98, 0.0)
    recorder.answered(1, 2.0)
    recorder.answered(1, 5.0)
    metrics = recorder.finish("x", (), 0)
    assert (metrics.wait_p50, metrics.wait_p99, metrics.wait_max) == (0.0, 2.0, 5.0)
    assert metrics.demands == 100
