"""The project's two entry points, runnable on a fresh machine with only ``python3``.

``python3 tasks.py simulate`` sets up ``.venv`` and runs the main job, ``mintgate simulate`` (any
further arguments are passed on to it); ``python3 tasks.py test`` sets up ``.venv`` and runs the
whole check: ruff, ``mypy --strict`` and pytest. Setup is idempotent: the
virtual environment is reinstalled only when ``pyproject.toml`` changes (or a new package file
appears, which a strict editable install needs to see).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".mintgate-installed"
PACKAGES = ("policy", "shell", "adapters", "simulations")


def _fingerprint() -> str:
    """What the installed environment depends on: the packaging and the set of module files."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix in {".py", ".json", ".typed"}:
                digest.update(str(path.relative_to(ROOT)).encode())
    return digest.hexdigest()


def _run(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def setup(*_: str) -> None:
    """Create ``.venv`` and install mintgate (editable, strict mode) with its dev extras."""
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    _run(
        BIN / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "-e",
        ".[dev]",
        "--config-settings",
        "editable_mode=strict",
    )
    STAMP.write_text(wanted)


def test(*_: str) -> None:
    """Lint, type-check and run the test suite."""
    setup()
    _run(BIN / "ruff", "check", ".")
    _run(BIN / "ruff", "format", "--check", ".")
    # The packages as installed (mintgate.shell, ...), not as directories (shell, ...): checked
    # by path, a module that names its own package's types through ``mintgate.`` would meet a
    # second copy of them.
    packages = [arg for package in PACKAGES for arg in ("-p", f"mintgate.{package}")]
    _run(BIN / "mypy", "--strict", *packages)
    _run(BIN / "mypy", "--strict", "tests", "benchmarks", "tasks.py")
    _run(BIN / "pytest")


def simulate(*args: str) -> None:
    """Run the main job: compare refresh policies on a simulated fleet (``mintgate simulate``)."""
    setup()
    _run(BIN / "mintgate", "simulate", *args)


def main(argv: list[str]) -> int:
    commands = {"setup": setup, "test": test, "simulate": simulate}
    if not argv or argv[0] not in commands or (argv[0] != "simulate" and len(argv) > 1):
        print(f"usage: python3 tasks.py {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    try:
        commands[argv[0]](*argv[1:])
    except subprocess.CalledProcessError as failed:
        return failed.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
