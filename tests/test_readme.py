"""The README's code blocks run and print what their comments say."""

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


def _run_block(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    return out.getvalue().strip()


def _claimed(code: str) -> str:
    """What the block's print line says it prints, in its comment."""
    (line,) = [line for line in code.splitlines() if line.strip().startswith("print(")]
    return line.split("# ", 1)[1]


def test_the_readme_embedding_examples_run_on_trio_and_on_asyncio() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 4
    trio_block, asyncio_block, host_block = blocks[1], blocks[2], blocks[3]
    assert "trio.run(main)" in trio_block
    assert "asyncio.run(main())" in asyncio_block
    assert "Host()" in host_block
    for code in (trio_block, asyncio_block, host_block):
        assert len(code.strip().splitlines()) <= 16  # ten lines of code, and blank ones
        assert _run_block(code) == _claimed(code)


def test_the_readme_shows_the_two_commands_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    assert "python3 tasks.py simulate" in text
    assert "python3 tasks.py test" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 tasks.py test" in ci
