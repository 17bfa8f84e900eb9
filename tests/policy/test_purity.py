"""The core is pure: it imports only the standard library (minus clocks, randomness, logging and
I/O), attrs and returns. This walks every module of the package, not just the ones loaded."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mintgate.policy

PACKAGE = Path(mintgate.policy.__file__).resolve().parent
FORBIDDEN = {
    "time",
    "random",
    "os",
    "asyncio",
    "logging",
    "socket",
    "threading",
    "subprocess",
    "sqlite3",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "urllib",
    "http",
    "secrets",
    "datetime",
    "multiprocessing",
    "concurrent",
    "select",
    "signal",
    "selectors",
}
ALLOWED_THIRD_PARTY = {"attrs", "returns", "mintgate"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_core_imports_nothing_impure() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 8
    for module in modules:
        for root in imported_roots(module):
            assert root not in FORBIDDEN, f"{module.name} imports {root}"
            assert root in sys.stdlib_module_names or root in ALLOWED_THIRD_PARTY, (
                f"{module.name} imports {root}, which is neither stdlib nor attrs/returns"
            )


def test_the_core_imports_only_mintgate_policy_of_mintgate() -> None:
    for module in PACKAGE.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("mintgate")
            ):
                assert node.module.startswith("mintgate.policy"), f"{module.name}: {node.module}"


def test_the_purity_check_would_notice_an_impure_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom os import path\n")
    assert imported_roots(bad) & FORBIDDEN == {"time", "os"}
