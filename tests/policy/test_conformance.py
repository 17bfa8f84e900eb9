"""The conformance vectors shipped in the package: all pass, cover every rule, can fail."""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from typing import Any

import pytest

from mintgate.policy.testing import check_scenario

VECTORS: dict[str, Any] = json.loads(
    (files("mintgate.policy") / "conformance.json").read_text(encoding="utf-8")
)
SCENARIOS = VECTORS["scenarios"]


@pytest.mark.parametrize("start", [0.0, 1_000_000.125, 7.5e8])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(scenario: dict[str, Any], start: float) -> None:
    assert check_scenario(scenario, start=start) == []


def test_every_rule_of_the_contract_has_a_scenario() -> None:
    covered = {rule for scenario in SCENARIOS for rule in scenario["rules"]}
    assert covered == set(range(1, 10))


def test_names_are_unique() -> None:
    names = [s["name"] for s in SCENARIOS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (lambda steps: steps[0]["expect"].update(reply="serve:t1"), "reply: expected 'serve:t1'"),
        (lambda steps: steps[3]["expect"].update(wake_at=2701), "wake_at: expected 2701"),
        (lambda steps: steps[3]["expect"].update(notices=[]), "notices: expected []"),
    ],
)
def test_the_runner_reports_a_wrong_expectation(edit: Any, complaint: str) -> None:
    scenario = copy.deepcopy(SCENARIOS[0])
    edit(scenario["steps"])
    problems = check_scenario(scenario)
    assert any(complaint in p for p in problems), problems


def test_the_runner_reports_an_impossible_step() -> None:
    scenario = {"name": "x", "rules": [], "steps": [{"mint_ok": {"value": "t"}}]}
    assert check_scenario(scenario) == ["step 0 (mint_ok): no mint is in flight"]
