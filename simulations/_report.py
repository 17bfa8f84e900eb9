"""What a comparison of policies looks like: a terminal table, a Markdown table, JSON and a plot.

``mintgate simulate`` writes all of them; ``docs/simulations.md`` holds the Markdown table and
the plot of the default run. Plotting needs matplotlib (the ``sim`` extra) and draws off screen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from mintgate.simulations._metrics import Metrics
from mintgate.simulations._scenario import Scenario, format_duration

__all__ = ["COLUMNS", "markdown_table", "rows", "write_json", "write_plot"]

COLUMNS: tuple[str, ...] = (
    "policy",
    "requests",
    "peak req/min",
    "peak in flight",
    "429s caused",
    "caller errors",
    "expired served",
    "wait p99",
    "wait max",
    "served after failure, inst-h",
    "recovery",
)
"""The comparison's columns; ``docs/simulations.md`` defines each."""


def _recovery(metrics: Metrics) -> str:
    if not metrics.recovery:
        return "-"
    return ", ".join(
        "not in run" if r is None else format_duration(round(r)) for r in metrics.recovery
    )


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def rows(results: Sequence[Metrics]) -> list[tuple[str, ...]]:
    """One row of text per policy, in :data:`COLUMNS` order."""
    return [
        (
            m.policy,
            f"{m.requests:,}",
            f"{m.peak_requests_per_minute:,}",
            f"{m.peak_concurrent:,}",
            f"{m.rate_limited:,}",
            f"{m.caller_errors:,}",
            f"{m.expired_served:,}",
            _seconds(m.wait_p99),
            _seconds(m.wait_max),
            f"{m.served_after_failure_seconds / 3600:,.1f}",
            _recovery(m),
        )
        for m in results
    ]


def markdown_table(results: Sequence[Metrics]) -> str:
    """The comparison as a Markdown table (numbers right-aligned)."""
    align = ["---"] + ["--:"] * (len(COLUMNS) - 1)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines) + "\n"


def _scenario_json(scenario: Scenario) -> dict[str, Any]:
    fields = attrs.asdict(scenario, recurse=False)
    fields["outages"] = [str(o) for o in scenario.outages]
    return fields


def write_json(path: Path, scenario: Scenario, results: Sequence[Metrics]) -> None:
    """The scenario and every policy's metrics, series included."""
    document = {
        "scenario": _scenario_json(scenario),
        "description": scenario.describe(),
        "policies": [m.to_json() for m in results],
    }
    path.write_text(json.dumps(document, indent=1) + "\n")


def write_plot(path: Path, scenario: Scenario, results: Sequence[Metrics]) -> None:
    """A PNG of three panels over the run: requests per minute, caller errors and expired tokens
    served per minute, and demands served a token whose refresh had failed, per minute; outages
    are shaded."""
    import matplotlib  # noqa: PLC0415 - only when plotting; the simulator needs none of it

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    panels = (
        ("requests to the endpoint / min", "series_requests"),
        ("errors + expired served / min", "series_errors"),
        ("served after a failure / min", "series_served_after_failure"),
    )
    figure, axes = pyplot.subplots(len(panels), 1, figsize=(11, 9), sharex=True)
    for axis, (label, field) in zip(axes, panels, strict=True):
        for metrics in results:
            series = getattr(metrics, field)
            hours = [(minute + 0.5) / 60 for minute in range(len(series))]
            width = 2.2 if metrics.policy == "mintgate" else 1.1
            axis.plot(hours, series, label=metrics.policy, linewidth=width)
        for outage in scenario.outages:
            axis.axvspan(outage.start / 3600, outage.end / 3600, color="0.85", zorder=0)
        axis.set_ylabel(label)
        axis.set_yscale("symlog", linthresh=10)
        axis.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize="small", ncols=2)
    axes[0].set_title(scenario.describe(), fontsize="small", wrap=True)
    axes[-1].set_xlabel(f"hours into the run (outages shaded; {format_duration(60)} bins)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
