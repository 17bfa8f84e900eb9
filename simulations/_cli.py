"""The ``mintgate simulate`` and ``mintgate demo`` subcommands (``mintgate.adapters.cli``
dispatches to them): ``simulate`` compares policies on a fleet, ``demo`` shows one live.

Every flag is checked before anything runs (the output folder is written to first); a bad one
gets a message naming the flag and exit status 2, never a traceback. ``simulate`` writes
``table.md``, ``metrics.json`` and ``simulation.png`` into ``--out``, and prints the table with
a legend; ``docs/simulations.md`` explains the figures.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from mintgate.simulations._fleet import simulate as simulate_fleet
from mintgate.simulations._metrics import Metrics
from mintgate.simulations._policies import POLICY_NAMES
from mintgate.simulations._report import (
    HEADERS,
    legend,
    markdown_table,
    rows,
    write_json,
    write_plot,
)
from mintgate.simulations._scenario import (
    PRESETS,
    Outage,
    OutageKind,
    Scenario,
    format_duration,
    parse_duration,
    parse_outage,
)
from mintgate.simulations._variants import PolicyVariant, parse_policies, preset_runs

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["demo", "simulate"]

DEFAULT_PRESET = "fleet-outage"


def _typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` that reports our own message (argparse's would only say 'invalid')."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = parse.__name__
    return convert


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{text!r} must be at least 1")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise ValueError(f"{text!r} must be a number > 0")
    return value


def _hours(text: str) -> float:
    """A duration (``90m``, ``3h``); a bare number is hours, as the flag's name says."""
    try:
        return _positive(text) * 3600.0
    except ValueError:
        pass
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than 0")
    return seconds


def _capacity(text: str) -> float | None:
    return None if text == "none" else _positive(text)


def _outage(text: str) -> Outage | None:
    return None if text == "none" else parse_outage(text)


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


_SCENARIO_FLAGS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("--instances", "instances", _count, "processes in the fleet (at most 100,000)"),
    ("--hours", "duration", _hours, "length of the run: 90m, 3h; a bare number is hours"),
    ("--lifetime", "lifetime", parse_duration, "token lifetime"),
    ("--demand-every", "demand_every", parse_duration, "each instance wants a token this often"),
    ("--start-spread", "start_spread", parse_duration, "instances start over this long"),
    ("--skew", "max_skew", parse_duration, "largest clock offset"),
    ("--latency", "latency", parse_duration, "endpoint median latency"),
    ("--capacity", "capacity", _capacity, "endpoint requests/s before it answers 429, or none"),
    ("--request-timeout", "request_timeout", parse_duration, "cut every request after this"),
    ("--seed", "seed", _seed, "the run's seed"),
)
"""``simulate``'s scenario flags: the flag, the ``Scenario`` field it sets, its parser, help."""

_FLAG_OF = {field: flag for flag, field, _, _ in _SCENARIO_FLAGS} | {"outages": "--outage"}


def _shown(field: str, value: Any) -> str:
    """A scenario value as its flag would be written."""
    if value is None:
        return "none"
    if field == "outages":
        return ", ".join(str(o) for o in value) or "none"
    if field in ("instances", "seed", "capacity"):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return format_duration(value)


def _flag_errors(message: str) -> str:
    """A scenario's message in the command's words: ``Scenario.lifetime`` is ``--lifetime``."""
    return re.sub(
        r"Scenario\.(\w+)", lambda found: _FLAG_OF.get(found.group(1), found.group(0)), message
    )


_VALUE_FLAGS = frozenset(
    {flag for flag, _, _, _ in _SCENARIO_FLAGS}
    | {"--outage", "--policies", "--out", "--preset", "--cycle", "--duration", "--call-every"}
)


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--lifetime -5m`` as ``--lifetime=-5m``: argparse would take ``-5m`` for a flag and say
    only "expected one argument"; joined, the flag's own parser says what is wrong."""
    joined: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        negative = following is not None and re.fullmatch(r"-\d.*", following) is not None
        if token in _VALUE_FLAGS and negative:
            joined.append(f"{token}={following}")
            index += 2
        else:
            joined.append(token)
            index += 1
    return joined


def _simulate_parser(prog: str) -> argparse.ArgumentParser:
    preset = PRESETS[DEFAULT_PRESET].scenario
    presets = "; ".join(f"{name}: {p.about}" for name, p in PRESETS.items())
    sim = argparse.ArgumentParser(
        prog=prog,
        description="Compare refresh policies on a simulated fleet. A preset sets the "
        "scenario and the policies; each flag then changes one thing. Durations read like "
        "90s, 20m, 3h or 1h30m. The figures are explained in docs/simulations.md.",
        epilog=f"Presets: {presets}.",
        argument_default=argparse.SUPPRESS,
    )
    sim.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=DEFAULT_PRESET,
        help=f"the scenario and policies to start from (default: {DEFAULT_PRESET})",
    )
    # Scenario flags keep their Scenario field's name and are absent unless given.
    for flag, field, parse, text in _SCENARIO_FLAGS:
        metavar = flag.removeprefix("--").upper().replace("-", "_")
        default = _shown(field, getattr(preset, field))
        sim.add_argument(
            flag,
            dest=field,
            type=_typed(parse),
            metavar=metavar,
            help=f"{text} (default: the preset's; {DEFAULT_PRESET}: {default})",
        )
    sim.add_argument(
        "--outage",
        dest="outages",
        type=_typed(_outage),
        action="append",
        metavar="START+DURATION[:KIND]",
        help="replaces the preset's outages; repeat for more; KIND is 503 (default), 429, "
        f"hang or invalid_grant; 'none' for no outage (default: the preset's; "
        f"{DEFAULT_PRESET}: {_shown('outages', preset.outages)})",
    )
    sim.add_argument(
        "--policies",
        type=_typed(parse_policies),
        default=None,
        help=f"comma-separated: {', '.join(POLICY_NAMES)}, or all; mintgate may take "
        "settings, each run named as written: mintgate:breaker_rejecting_cap=30s,refresh_at=0.5 "
        f"(default: the preset's; {DEFAULT_PRESET}: all, and "
        f"{', '.join(PRESETS[DEFAULT_PRESET].variants)})",
    )
    sim.add_argument(
        "--out",
        type=Path,
        default=Path("simulation-out"),
        help="output folder (default: simulation-out)",
    )
    sim.add_argument(
        "--no-plot", action="store_true", default=False, help="skip the PNG (default: draw it)"
    )
    return sim


def _demo_parser(prog: str) -> argparse.ArgumentParser:
    demo = argparse.ArgumentParser(
        prog=prog,
        description="Run a token server on loopback with short-lived tokens and an outage, "
        "and show mintgate keeping a credential fresh through it, live. Ctrl-C stops it.",
    )
    demo.add_argument(
        "--lifetime",
        type=_typed(parse_duration),
        default=20.0,
        help="token lifetime (default: 20s)",
    )
    demo.add_argument(
        "--outage",
        type=_typed(_outage),
        default=parse_outage("25s+30s:503"),
        metavar="START+DURATION[:KIND]",
        help="when the token server fails, from the demo's start; it recurs every --cycle; "
        "'none' for no outage (default: 25s+30s:503)",
    )
    demo.add_argument(
        "--cycle",
        type=_typed(parse_duration),
        default=120.0,
        help="outages recur this often (default: 2m)",
    )
    demo.add_argument(
        "--duration",
        type=_typed(parse_duration),
        help="stop after this long (default: run until Ctrl-C)",
    )
    demo.add_argument(
        "--call-every",
        type=_typed(_positive),
        default=0.25,
        help="seconds between calls (default: 0.25)",
    )
    return demo


_SCENARIO_FIELDS = {field.name for field in attrs.fields(Scenario)}


def _scenario(args: argparse.Namespace) -> Scenario:
    """The preset's scenario with every scenario flag given applied."""
    changes = {k: v for k, v in vars(args).items() if k in _SCENARIO_FIELDS}
    if "outages" in changes:
        changes["outages"] = tuple(o for o in changes["outages"] if o is not None)
    return attrs.evolve(PRESETS[args.preset].scenario, **changes)


def _check_writable(parser: argparse.ArgumentParser, out: Path) -> None:
    """Before the run: a folder that cannot be written is a bad flag, not a lost result."""
    if out.exists() and not out.is_dir():
        parser.error(f"argument --out: {str(out)!r} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"argument --out: cannot create {str(out)!r}: {error.strerror}")
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".mintgate-"):
            pass  # what the run will do at its end, done before it starts
    except OSError as error:
        parser.error(f"argument --out: cannot write into {str(out)!r}: {error.strerror}")


class _Progress:
    """A progress bar on stderr, shown only once a run has taken a second (and on a terminal)."""

    def __init__(self, console: Console, policies: Sequence[str]) -> None:
        from rich.progress import Progress  # noqa: PLC0415

        self.policies = policies
        self.started = time.monotonic()
        self.bar = Progress(console=console, transient=True)
        self.task = self.bar.add_task("simulating", total=len(policies))
        self.shown = False
        self.enabled = console.is_terminal

    def callback(self, index: int) -> Callable[[float], None]:
        def report(fraction: float) -> None:
            if not self.enabled:
                return
            if not self.shown and time.monotonic() - self.started > 1.0:
                self.bar.start()
                self.shown = True
            if self.shown:
                name = self.policies[index]
                self.bar.update(self.task, completed=index + fraction, description=name)

        return report

    def close(self) -> None:
        if self.shown:
            self.bar.stop()


def simulate(argv: Sequence[str], *, prog: str = "mintgate simulate") -> int:
    """``mintgate simulate``: returns the exit status (argparse exits 2 on a bad flag)."""
    parser = _simulate_parser(prog)
    args = parser.parse_args(_join_negative_values(argv))
    try:
        scenario = _scenario(args)
    except ValueError as error:
        parser.error(_flag_errors(str(error)))
    chosen: tuple[PolicyVariant, ...] = args.policies or preset_runs(PRESETS[args.preset])
    _check_writable(parser, args.out)
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    out, err = Console(), Console(stderr=True)
    if not out.is_terminal:
        out.width = 200  # a file or a pipe: no terminal to fit, keep every column readable
    out.print(f"[bold]{scenario.describe()}[/]")
    progress = _Progress(err, [variant.name for variant in chosen])
    results: list[Metrics] = []
    try:
        for index, variant in enumerate(chosen):
            metrics = simulate_one(scenario, variant, progress=progress.callback(index))
            results.append(metrics)
    finally:
        progress.close()

    table = Table(*HEADERS)
    table.columns[0].no_wrap = True
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows(results):
        table.add_row(*row)
    out.print(table)
    for line in legend():
        out.print(line, style="dim", highlight=False, soft_wrap=True)

    written = [args.out / "table.md", args.out / "metrics.json"]
    written[0].write_text(f"{scenario.describe()}\n\n{markdown_table(results)}")
    write_json(written[1], scenario, results)
    if not args.no_plot:
        written.append(args.out / "simulation.png")
        write_plot(written[-1], scenario, results)
    out.print("wrote " + ", ".join(str(path) for path in written))
    return 0


def simulate_one(
    scenario: Scenario, variant: PolicyVariant, progress: Callable[[float], None] | None = None
) -> Metrics:
    """One run of a comparison."""
    return simulate_fleet(
        scenario, variant.policy, config=variant.config, name=variant.name, progress=progress
    )


def demo(argv: Sequence[str], *, prog: str = "mintgate demo") -> int:
    """``mintgate demo``: returns the exit status (130 after Ctrl-C)."""
    parser = _demo_parser(prog)
    args = parser.parse_args(_join_negative_values(argv))
    if args.lifetime < 2:
        parser.error(f"--lifetime must be at least 2s for the demo, got {args.lifetime:g}s")
    outage: Outage | None = args.outage
    if outage is not None and outage.kind is OutageKind.INVALID_GRANT:
        parser.error("the demo's outage kinds are 503, 429 and hang")
    if outage is not None and outage.end > args.cycle:
        parser.error(f"the outage {outage} must end within --cycle ({args.cycle:g}s)")
    from mintgate.simulations._demo import run_demo  # noqa: PLC0415

    return run_demo(
        lifetime=args.lifetime,
        outage=outage,
        cycle=args.cycle,
        duration=args.duration,
        call_every=args.call_every,
    )
