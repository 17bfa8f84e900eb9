"""The ``mintgate`` command: a dispatcher that loads each subcommand only when it is chosen.

``mintgate simulate`` and ``mintgate demo`` live in :mod:`mintgate.simulations`; the credential
commands the manager brings will live in :mod:`mintgate.adapters`. This module imports nothing
optional: a subcommand's module is imported when the subcommand runs, and a missing extra is
named for that subcommand (``mintgate demo needs httpx: pip install 'mintgate[sim]'``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import cast, final

import attrs

__all__ = ["SUBCOMMANDS", "Subcommand", "main"]


@final
@attrs.frozen
class Subcommand:
    """Where a subcommand lives and what it needs.

    Attributes:
        module: The module that holds it, imported only when it runs.
        function: ``function(argv, prog=...) -> int`` in that module.
        about: One line for ``mintgate --help``.
        extras: Each optional package it imports, and the extra that installs it.
    """

    module: str
    function: str
    about: str
    extras: Mapping[str, str]


SUBCOMMANDS: dict[str, Subcommand] = {
    "simulate": Subcommand(
        "mintgate.simulations._cli",
        "simulate",
        "compare refresh policies on a simulated fleet",
        {"rich": "sim", "matplotlib": "sim"},
    ),
    "demo": Subcommand(
        "mintgate.simulations._cli",
        "demo",
        "one credential kept fresh live, against a loopback token server",
        {"rich": "sim", "httpx": "sim"},
    ),
}


def _parser() -> argparse.ArgumentParser:
    width = max(map(len, SUBCOMMANDS))
    listed = "\n".join(f"  {name:<{width}}  {sub.about}" for name, sub in SUBCOMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="mintgate",
        description=f"mintgate's command line.\n\ncommands:\n{listed}",
        epilog="mintgate COMMAND --help shows a command's flags.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=sorted(SUBCOMMANDS), metavar="COMMAND")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mintgate`` command; returns the exit status."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    name: str = args.command
    sub = SUBCOMMANDS[name]
    try:
        module = importlib.import_module(sub.module)
        run = cast("Callable[..., int]", getattr(module, sub.function))
        return run(args.args, prog=f"mintgate {name}")
    except ModuleNotFoundError as missing:
        package = (missing.name or "").partition(".")[0]
        extra = sub.extras.get(package)
        if extra is None:
            raise
        print(f"mintgate {name} needs {package}: pip install 'mintgate[{extra}]'", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mintgate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
