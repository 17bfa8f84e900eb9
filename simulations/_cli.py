"""The ``mintgate`` command: ``simulate`` compares policies on a fleet, ``demo`` shows one live.

Every flag is checked before anything runs; a bad one gets a message naming it and exit status
2, never a traceback. ``simulate`` writes ``table.md``, ``metrics.json`` and ``simulation.png``
into ``--out``; ``docs/simulations.md`` explains the figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from mintgate.simulations._fleet import simulate
from mintgate.simulations._metrics import Metrics
from mintgate.simulations._policies import POLICY_NAMES
from mintgate.simulations._report import COLUMNS, markdown_table, rows, write_json, write_plot
from mintgate.simulations._scenario import (
    PRESETS,
    Outage,
    OutageKind,
    Scenario,
    parse_duration,
    parse_outage,
)

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["main"]

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
    return _positive(text) * 3600.0


def _capacity(text: str) -> float | None:
    return None if text == "none" else _positive(text)


def _outage(text: str) -> Outage | None:
    return None if text == "none" else parse_outage(text)


def _policies(text: str) -> tuple[str, ...]:
    if text == "all":
        return POLICY_NAMES
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in POLICY_NAMES]
    if unknown or not names:
        raise ValueError(
            f"unknown policy {', '.join(map(repr, unknown)) or repr(text)}; "
            f"known: {', '.join(POLICY_NAMES)} (or all)"
        )
    return names


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


_SCENARIO_FLAGS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    ("--instances", "instances", _count, "processes in the fleet"),
    ("--hours", "duration", _hours, "length of the run"),
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mintgate",
        description="mintgate's fleet simulator and live demo.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    presets = "; ".join(f"{name}: {p.about}" for name, p in PRESETS.items())
    sim = commands.add_parser(
        "simulate",
        help="compare refresh policies on a simulated fleet",
        description="Compare refresh policies on a simulated fleet. A preset sets the "
        "scenario and the policies; each flag then changes one thing. Durations read like "
        "90s, 20m, 3h or 1h30m.",
        epilog=f"Presets: {presets}.",
        argument_default=argparse.SUPPRESS,
    )
    sim.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    # Scenario flags keep their Scenario field's name and are absent unless given.
    for flag, field, parse, text in _SCENARIO_FLAGS:
        metavar = flag.removeprefix("--").upper().replace("-", "_")
        sim.add_argument(flag, dest=field, type=_typed(parse), metavar=metavar, help=text)
    sim.add_argument(
        "--outage",
        dest="outages",
        type=_typed(_outage),
        action="append",
        metavar="START+DURATION[:KIND]",
        help="replaces the preset's outages; repeat for more; KIND is 503 (default), 429, "
        "hang or invalid_grant; 'none' for no outage",
    )
    sim.add_argument(
        "--policies",
        type=_typed(_policies),
        default=None,
        help=f"comma-separated: {', '.join(POLICY_NAMES)}",
    )
    sim.add_argument("--out", type=Path, default=Path("simulation-out"), help="output folder")
    sim.add_argument("--no-plot", action="store_true", default=False, help="skip the PNG")

    demo = commands.add_parser(
        "demo",
        help="one credential kept fresh live, against a loopback token server",
        description="Run a token server on loopback with short-lived tokens and an outage, "
        "and show mintgate keeping a credential fresh through it, live. Ctrl-C stops it.",
    )
    demo.add_argument(
        "--lifetime", type=_typed(parse_duration), default=20.0, help="token lifetime (20s)"
    )
    demo.add_argument(
        "--outage",
        type=_typed(_outage),
        default=parse_outage("25s+30s:503"),
        metavar="START+DURATION[:KIND]",
        help="when the token server fails, from the demo's start (25s+30s:503); "
        "it recurs every --cycle; 'none' for no outage",
    )
    demo.add_argument(
        "--cycle", type=_typed(parse_duration), default=120.0, help="outages recur this often"
    )
    demo.add_argument(
        "--duration", type=_typed(parse_duration), help="stop after this long (default: Ctrl-C)"
    )
    demo.add_argument(
        "--call-every", type=_typed(_positive), default=0.25, help="seconds between calls (0.25)"
    )
    return parser


_SCENARIO_FIELDS = {field.name for field in attrs.fields(Scenario)}


def _scenario(args: argparse.Namespace) -> Scenario:
    """The preset's scenario with every scenario flag given applied."""
    changes = {k: v for k, v in vars(args).items() if k in _SCENARIO_FIELDS}
    if "outages" in changes:
        changes["outages"] = tuple(o for o in changes["outages"] if o is not None)
    return attrs.evolve(PRESETS[args.preset].scenario, **changes)


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


def _simulate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        scenario = _scenario(args)
    except ValueError as error:
        parser.error(str(error))
    policies: tuple[str, ...] = args.policies or PRESETS[args.preset].policies
    try:  # before the run: a folder that cannot be written is a bad flag, not a lost result
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"argument --out: cannot create {str(args.out)!r}: {error.strerror}")
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    out, err = Console(), Console(stderr=True)
    if not out.is_terminal:
        out.width = 170  # a file or a pipe: no terminal to fit, keep every column readable
    out.print(f"[bold]{scenario.describe()}[/]")
    progress = _Progress(err, policies)
    results: list[Metrics] = []
    try:
        for index, policy in enumerate(policies):
            results.append(simulate(scenario, policy, progress=progress.callback(index)))
    finally:
        progress.close()

    table = Table(*COLUMNS)
    table.columns[0].no_wrap = True
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows(results):
        table.add_row(*row)
    out.print(table)

    written = [args.out / "table.md", args.out / "metrics.json"]
    written[0].write_text(f"{scenario.describe()}\n\n{markdown_table(results)}")
    write_json(written[1], scenario, results)
    if not args.no_plot:
        written.append(args.out / "simulation.png")
        write_plot(written[-1], scenario, results)
    out.print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _demo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
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


_EXTRA = {"rich", "matplotlib", "httpx"}
"""What the sim extra installs; the command says so when one is missing."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mintgate`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "simulate":
            return _simulate(args, parser)
        return _demo(args, parser)
    except ModuleNotFoundError as missing:
        package = (missing.name or "").partition(".")[0]
        if package not in _EXTRA:
            raise
        print(
            f"mintgate {args.command} needs {package}: pip install 'mintgate[sim]'",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("mintgate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
