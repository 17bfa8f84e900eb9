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

__all__ = [
    "COLUMNS",
    "HEADERS",
    "Column",
    "legend",
    "markdown_table",
    "rows",
    "write_json",
    "write_plot",
]


@attrs.frozen
class Column:
    """One column of the comparison: its header, the JSON field(s) it shows, what it means."""

    header: str
    field: str
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("policy", "policy", "the policy, or a mintgate configuration (mintgate:key=value,...)"),
    Column("requests", "requests", "requests sent to the token endpoint, failed ones included"),
    Column("peak req/min", "peak_requests_per_minute", "the busiest minute's requests"),
    Column("peak in flight", "peak_concurrent", "the most requests in flight at once"),
    Column(
        "429s caused",
        "rate_limited",
        "requests the endpoint refused for being over its capacity (not a scheduled 429 outage)",
    ),
    Column("caller errors", "caller_errors", "demands refused with an error"),
    Column(
        "errors when healthy",
        "healthy_caller_errors",
        "caller errors in seconds with no outage in effect and the endpoint under its capacity",
    ),
    Column(
        "expired served",
        "expired_served",
        "demands served a token already expired on the endpoint's clock (a 401 at the API)",
    ),
    Column("wait p99", "wait_p99", "99th percentile of a demand's wait for its answer"),
    Column("wait max", "wait_max", "the longest wait"),
    Column(
        "after failure, inst-h",
        "served_after_failure_seconds",
        "instance-hours serving a token whose refresh had failed (the JSON holds seconds)",
    ),
    Column(
        "no refusals p50/max",
        "recovery[].no_refusals_p50, no_refusals_max",
        "per outage, over the instances that refused a caller after it: from its end until "
        "each refused no more",
    ),
    Column(
        "fresh token p50/max",
        "recovery[].fresh_token_p50, fresh_token_max",
        "per outage, over the same instances: from its end until each held a token minted after it",
    ),
)
"""The comparison's columns; ``docs/simulations.md`` defines each and its JSON field."""

HEADERS: tuple[str, ...] = tuple(column.header for column in COLUMNS)

DOCS = "docs/simulations.md"


def legend() -> list[str]:
    """One line per column saying what it counts, and where the figures are explained."""
    width = max(len(column.header) for column in COLUMNS)
    lines = [f"{column.header:<{width}}  {column.meaning}" for column in COLUMNS]
    return [*lines, f"Every figure is explained in {DOCS}."]


def _duration(seconds: float | None, window: float) -> str:
    if seconds is None:
        return f"> {format_duration(round(window))}"  # not reached within the window
    return format_duration(round(seconds))


def _recovery(metrics: Metrics, which: str) -> str:
    if not metrics.recovery:
        return "-"
    return ", ".join(
        f"{_duration(getattr(r, f'{which}_p50'), r.window)}/"
        f"{_duration(getattr(r, f'{which}_max'), r.window)}"
        for r in metrics.recovery
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
            f"{m.healthy_caller_errors:,}",
            f"{m.expired_served:,}",
            _seconds(m.wait_p99),
            _seconds(m.wait_max),
            f"{m.served_after_failure_seconds / 3600:,.1f}",
            _recovery(m, "no_refusals"),
            _recovery(m, "fresh_token"),
        )
        for m in results
    ]


def markdown_table(results: Sequence[Metrics]) -> str:
    """The comparison as a Markdown table (numbers right-aligned)."""
    align = ["---"] + ["--:"] * (len(COLUMNS) - 1)
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(align) + "|"]
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
        axis.set_ylabel(f"{label}\n(symlog: linear to 10)", fontsize="small")
        axis.set_yscale("symlog", linthresh=10)
        axis.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize="small", ncols=2)
    axes[0].set_title(scenario.describe(), fontsize="small", wrap=True)
    axes[-1].set_xlabel(
        f"hours into the run (outages shaded; {format_duration(60)} bins; y axes symlog: "
        "linear from 0 to 10, logarithmic above)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
