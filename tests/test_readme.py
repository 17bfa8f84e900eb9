"""The README's code block runs and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_example_runs_and_its_comments_are_true() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert block is not None
    code = block.group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    printed = out.getvalue().splitlines()
    claimed = [
        line.split("# ", 1)[1]
        for line in code.splitlines()
        if line.startswith("print(") and "# " in line
    ]
    assert len(printed) == len(claimed) == 3
    assert printed[0] == claimed[0]
    assert claimed[1].startswith(printed[1] + ":")
    assert printed[2].startswith("Serve(token=Token(")


def test_the_readme_embedding_example_runs_on_both_backends() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 2
    code = blocks[1]
    for backend in ("asyncio", "trio"):
        variant = code.replace("anyio.run(main)", f"anyio.run(main, backend={backend!r})")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(variant, str(README), "exec"), {})
        assert out.getvalue().strip() == "1 closed"


def test_the_readme_shows_the_two_commands_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    assert "python3 tasks.py demo" in text
    assert "python3 tasks.py test" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 tasks.py test" in ci
