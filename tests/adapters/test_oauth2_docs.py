"""docs/oauth2.md's example runs, against the loopback token server and API."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from mintgate.adapters.testing import TokenServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "oauth2.md"


def test_the_documented_example_calls_the_api_with_a_fresh_token(token_server: TokenServer) -> None:
    block = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    code = block.group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 10  # ten lines
    base = token_server.api_url.removesuffix("/api/resource")
    code = code.replace("https://auth.example.com/oauth/token", token_server.url)
    code = code.replace("https://api.example.com/orders", f"{base}/api/resource")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})
    assert out.getvalue().strip() == "200"
    assert token_server.api_calls == ["Bearer access-1"]
    assert ("scope", "orders:read") in token_server.requests[0].form
