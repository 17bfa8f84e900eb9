"""docs/testing.md's example runs, as it stands, as a user's own test suite would run it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_the_documented_example_passes_in_a_fresh_suite(pytester: pytest.Pytester) -> None:
    block = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    pytester.makepyfile(test_my_credential_policy=block.group(1))
    result = pytester.runpytest("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_the_plugin_fixtures_reach_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_fixtures(fake_mint, virtual_clock, virtual_time_backend):
            assert fake_mint.calls == 0
            assert virtual_time_backend == ("trio", {"clock": virtual_clock})
        """
    )
    pytester.runpytest("-q").assert_outcomes(passed=1)
