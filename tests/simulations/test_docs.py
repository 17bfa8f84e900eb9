"""docs/simulations.md stays true: each preset's table there is what the simulator gives today."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mintgate.simulations import PRESETS
from mintgate.simulations._cli import simulate_one
from mintgate.simulations._report import markdown_table
from mintgate.simulations._variants import preset_runs

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = (DOCS / "simulations.md").read_text(encoding="utf-8")


def _documented(preset: str) -> str:
    found = re.search(rf"<!-- table: {preset} -->\n(.*?)<!-- end table -->", PAGE, re.DOTALL)
    assert found is not None, f"docs/simulations.md has no table for {preset}"
    return found.group(1)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_documented_table_is_what_the_simulator_gives(preset: str) -> None:
    chosen = PRESETS[preset]
    results = [simulate_one(chosen.scenario, run) for run in preset_runs(chosen)]
    fresh = f"{chosen.scenario.describe()}\n\n{markdown_table(results)}"
    assert _documented(preset) == fresh
    if preset == "fleet-outage":  # the default run's output, committed beside the page
        assert (DOCS / "simulations" / "table.md").read_text(encoding="utf-8") == fresh
        assert (DOCS / "simulations" / "simulation.png").exists()
