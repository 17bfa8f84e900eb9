"""The main job's scripted scenario: it runs, it obeys the contract, and it tells the story."""

from __future__ import annotations

import io

from mintgate.policy import RefreshConfig
from mintgate.policy.testing import InvariantChecker
from mintgate.simulations import scenario


def test_the_scenario_obeys_the_contract_and_tells_the_story() -> None:
    out = io.StringIO()
    totals = scenario.run(out, observer=InvariantChecker(RefreshConfig()).observe)
    text = out.getvalue()
    # The outage is ridden out: no caller is refused before the credential is revoked.
    refused = [line for line in text.splitlines() if "caller: rejected" in line]
    assert refused
    assert all(line >= "02:06:35" for line in refused)
    assert "breaker_opened" in text
    assert "breaker_closed" in text
    # Three 401s for one token force one mint; the other two are ignored.
    assert text.count("invalidation_ignored") == 2
    assert "credential_dead" in text
    assert totals["mints started"] == 11
    assert totals["served stale"] == 0


def test_the_scenario_is_deterministic() -> None:
    first, second = io.StringIO(), io.StringIO()
    assert scenario.run(first) == scenario.run(second)
    assert first.getvalue() == second.getvalue()


def test_main_prints_the_totals(capsys: object) -> None:
    assert scenario.main() == 0
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    assert "Totals:" in captured.out
