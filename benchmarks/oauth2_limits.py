"""What do a decompression bomb and a slow rotating grant cost the OAuth2 mints?

Figures, each beside a baseline measured in the same run:

- **bomb**: peak memory (``ru_maxrss``) of a fresh subprocess that runs one client-credentials
  mint against the loopback token server answering with a gzip bomb (1 MiB on the wire,
  1 GiB inflated), on a 200 and on a 503, minus the same subprocess answered with a normal
  token (goal <= 5 MB); beside it, the same bomb read the way httpx decodes (``aiter_bytes``
  with the same 64 KiB cap, as the mint read it before).
- **rotation**: a refresh-token grant that answers in 1.5 s, rotates on every refresh and
  revokes the whole grant on reuse, behind a provider with ``mint_timeout=1`` (3-second tokens,
  a caller every 100 ms): attempts, requests, refresh tokens persisted, ``invalid_grant`` seen
  (goal 0); beside it, the same run with the request cut off like any mint (no committed
  section).

Run: ``.venv/bin/python benchmarks/oauth2_limits.py``
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import attrs

from mintgate.adapters import _oauth2
from mintgate.adapters.oauth2 import ClientCredentials, RefreshTokenMint
from mintgate.adapters.testing import RotatingGrant, TokenServer
from mintgate.policy import CredentialError, ErrorKind, RefreshConfig
from mintgate.shell import RefreshingProvider

FIRST = "rt-first-refresh-token"

_CHILD = """
import resource, sys, anyio, httpx
from mintgate.adapters.oauth2 import ClientCredentials, ClientCredentialsMint
from mintgate.adapters.testing import TokenServer, gzip_bomb, token
from mintgate.policy import CredentialError

case, expanded = sys.argv[1], int(sys.argv[2])
bomb = gzip_bomb(expanded, status=503 if case.endswith("503") else 200)
normal = token()

async def mint(server):
    credentials = ClientCredentials(server.url, "app", "secret")
    if case.startswith("httpx"):  # the way the mint read it before: httpx decodes each chunk
        async with httpx.AsyncClient() as client:
            async with client.stream("POST", server.url, data={"grant_type": "x"}) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > 65536:
                        break
        return
    async with ClientCredentialsMint(credentials) as minting:
        try:
            await minting()
        except CredentialError:
            pass

with TokenServer().running() as server:
    server.answer = lambda n: normal if case == "normal" else bomb
    anyio.run(mint, server)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_kib(case: str, expanded: int) -> int:
    """``ru_maxrss`` (KiB) of a fresh interpreter that runs one mint of ``case``."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, case, str(expanded)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return int(out.stdout.split()[-1])


@attrs.frozen
class Rotation:
    """One run of the slow rotating grant."""

    attempts: int
    requests: int
    rotations: int
    persisted: tuple[str, ...]
    sent: tuple[str, ...]
    invalid_grants: int
    reuses: int
    revoked: bool
    timeouts: int
    served: int
    distinct_served: int
    refused: tuple[ErrorKind, ...]


@contextlib.contextmanager
def _uncommitted() -> Iterator[None]:
    """The control: the mint's request runs as part of the mint, cut off with it."""

    async def inline(fn: Any, *, bound: float) -> Any:
        return await fn()

    names = vars(_oauth2)  # where the mint looks committed() up
    saved, names["committed"] = names["committed"], inline
    try:
        yield
    finally:
        names["committed"] = saved


async def rotation(server: TokenServer, seconds: float, *, committed: bool = True) -> Rotation:
    """A provider over a grant that answers in 1.5 s, rotates and revokes on reuse, with
    ``mint_timeout=1`` s and a caller every 100 ms, for ``seconds``."""
    grant = RotatingGrant(FIRST, lifetime=3, delay=1.5)
    server.respond = grant
    persisted: list[str] = []

    async def persist(refresh_token: str) -> None:
        persisted.append(refresh_token)

    config = RefreshConfig(mint_timeout=1.0, floor=0.5, skew=0.2)
    credentials = ClientCredentials(server.url, "app", "app-secret")
    served: list[str] = []
    refused: list[ErrorKind] = []
    with contextlib.nullcontext() if committed else _uncommitted():
        async with (
            RefreshTokenMint(credentials, FIRST, on_rotate=persist) as mint,
            RefreshingProvider(mint, config=config) as provider,
        ):
            with anyio.move_on_after(seconds):
                while True:
                    try:
                        served.append((await provider.token()).value)
                    except CredentialError as error:
                        refused.append(error.kind)
                    await anyio.sleep(0.1)
            stats = provider.statistics()
    sent = tuple(dict(request.form)["refresh_token"] for request in server.requests)
    return Rotation(
        attempts=stats.mints_started,
        requests=len(sent),
        rotations=grant.rotations,
        persisted=tuple(persisted),
        sent=sent,
        invalid_grants=grant.invalid_grants,
        reuses=grant.reuses,
        revoked=grant.revoked,
        timeouts=stats.mints_failed,
        served=len(served),
        distinct_served=len(set(served)),
        refused=tuple(refused),
    )


def rotation_run(seconds: float, *, committed: bool = True) -> Rotation:
    """:func:`rotation` on its own loopback server, on trio."""

    async def run() -> Rotation:
        with TokenServer().running() as server:
            return await rotation(server, seconds, committed=committed)

    return anyio.run(run, backend="trio")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expanded", type=int, default=1 << 30, help="bytes a bomb inflates to")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of a rotation run")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}\n")

    wire = len(_bomb_bytes(args.expanded))
    print(
        f"bomb: {wire / (1 << 20):.2f} MiB of gzip inflating to {args.expanded / (1 << 20):,.0f}"
        " MiB; peak RSS of a fresh process, less the same process answered normally"
    )
    base = peak_kib("normal", args.expanded)
    for case, label in (
        ("bomb-200", "the mint, bomb on a 200"),
        ("bomb-503", "the mint, bomb on a 503"),
        ("httpx-200", "httpx's own decoding (before)"),
    ):
        extra = (peak_kib(case, args.expanded) - base) / 1024
        goal = "   goal <= 5 MB" if case.startswith("bomb") else ""
        print(f"  {label:<32} {extra:8.1f} MB{goal}")
    print(f"  (the normal run's peak: {base / 1024:.1f} MB)")

    print(
        f"\nrotation: {args.seconds:g} s, answers in 1.5 s, mint_timeout=1 s, 3 s tokens,"
        " reuse revokes the grant"
    )
    for label, committed in (("committed section", True), ("cut off like any mint", False)):
        r = rotation_run(args.seconds, committed=committed)
        print(
            f"  {label:<22} attempts {r.attempts:3}  requests {r.requests:3}"
            f"  rotations {r.rotations:3}  persisted {len(r.persisted):3}"
            f"  invalid_grant {r.invalid_grants:3}  reuse {r.reuses}"
            f"  revoked {'yes' if r.revoked else 'no'}  callers served {r.served}/"
            f"{r.served + len(r.refused)}"
        )
    return 0


def _bomb_bytes(expanded: int) -> bytes:
    from mintgate.adapters.testing import gzip_bomb  # noqa: PLC0415 - only for the size line

    return gzip_bomb(expanded).body


if __name__ == "__main__":
    sys.exit(main())
