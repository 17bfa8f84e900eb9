"""Committed sections: cut at mint_timeout for the core, run to their end for the secret.

The rotating-refresh-token case in virtual time: the issuer takes 1.5 s and rotates, the
provider's mint_timeout is 1 s. Without a committed section the second attempt would resend the
old refresh token while the first request is still on the wire.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from mintgate.policy import CredentialError, ErrorKind, RefreshConfig
from mintgate.shell import Minted, RefreshingProvider, committed

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend(virtual_backend: Any) -> Any:
    return virtual_backend  # trio and asyncio, both in virtual time (conftest)


class RotatingIssuer:
    """A strict issuer: each refresh token works once, and a reuse revokes the whole grant. It
    rotates when the request arrives; the answer takes ``latencies[n]`` to come back, whether or
    not the client still waits for it."""

    def __init__(self, *latencies: float) -> None:
        self.latencies = list(latencies)
        self.valid = "rt-0"
        self.revoked = False
        self.sent: list[str] = []

    async def refresh(self, token: str) -> tuple[str, str]:
        self.sent.append(token)
        if token != self.valid:
            self.revoked = True
        else:
            self.valid = f"rt-{len(self.sent)}"
        rotated = self.valid
        await anyio.sleep(self.latencies.pop(0) if self.latencies else 0.1)
        if self.revoked:
            raise RuntimeError("invalid_grant")
        return f"access-{len(self.sent)}", rotated


class RefreshMint:
    def __init__(self, issuer: RotatingIssuer, *, use_committed: bool) -> None:
        self.issuer, self.use_committed = issuer, use_committed
        self.stored = "rt-0"  # what the application persisted

    async def __call__(self) -> Minted[str]:
        async def spend() -> str:
            access, rotated = await self.issuer.refresh(self.stored)
            self.stored = rotated  # persisted before the access token is used
            return access

        access = await committed(spend, bound=30.0) if self.use_committed else await spend()
        return Minted(access, expires_in=3600)


async def test_a_refresh_cut_at_mint_timeout_does_not_lose_a_rotating_grant() -> None:
    issuer = RotatingIssuer(1.5)
    mint = RefreshMint(issuer, use_committed=True)
    config = RefreshConfig(mint_timeout=1.0)
    started = anyio.current_time()
    async with RefreshingProvider(mint, config=config) as provider:
        with pytest.raises(CredentialError) as first:
            await provider.token()  # the core hears TIMEOUT at 1 s, on time
        assert first.value.kind is ErrorKind.TIMEOUT
        assert anyio.current_time() - started == pytest.approx(1.0, abs=0.01)
        token = await provider.token()  # waits for the committed part, then uses rt-1
    assert token.value == "access-2"
    assert issuer.sent == ["rt-0", "rt-1"]  # never the same refresh token twice
    assert not issuer.revoked


async def test_without_a_committed_section_the_grant_is_lost() -> None:
    """The control: the same mint without committed() resends rt-0 and the issuer revokes."""
    issuer = RotatingIssuer(1.5)
    mint = RefreshMint(issuer, use_committed=False)
    async with RefreshingProvider(mint, config=RefreshConfig(mint_timeout=1.0)) as provider:
        for _ in range(2):
            with pytest.raises(CredentialError):
                await provider.token()
    assert issuer.sent == ["rt-0", "rt-0"]
    assert issuer.revoked


async def test_closing_waits_for_a_committed_section_up_to_its_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    finished: list[float] = []

    async def slow_spend() -> str:
        await anyio.sleep(5.0)
        finished.append(anyio.current_time())
        return "done"

    async def hung_spend() -> str:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    for spend, bound in ((slow_spend, 30.0), (hung_spend, 8.0)):

        async def mint(spend: Any = spend, bound: float = bound) -> Minted[str]:
            return Minted(await committed(spend, bound=bound), expires_in=60)

        started = anyio.current_time()
        async with RefreshingProvider(mint, config=RefreshConfig(mint_timeout=1.0)) as provider:
            with pytest.raises(CredentialError, match="mint_timeout=1 s"):
                await provider.token()  # cut at 1 s; the committed part goes on
        closed_after = anyio.current_time() - started
        if spend is slow_spend:
            assert finished  # closing waited for it
            assert closed_after == pytest.approx(5.0, abs=0.1)
        else:
            assert closed_after == pytest.approx(8.0, abs=0.1)  # abandoned at its bound
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("ran past its bound of 8 s and was abandoned" in m for m in errors)


async def test_committed_outside_a_host_runs_in_place_shielded_and_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    finished: list[float] = []

    async def slow() -> str:
        await anyio.sleep(2.0)
        finished.append(anyio.current_time())
        return "persisted"

    started = anyio.current_time()
    with anyio.move_on_after(0.5):  # the caller gives up; the committed part does not
        assert await committed(slow, bound=5.0) == "persisted"
    assert finished == [pytest.approx(started + 2.0, abs=0.1)]

    with pytest.raises(TimeoutError, match="past 1 s"):
        await committed(slow, bound=1.0)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("ran past its bound of 1 s and was abandoned" in m for m in errors)


async def test_a_bad_bound_is_a_clear_error() -> None:
    async def nothing() -> None:
        return None

    with pytest.raises(ValueError, match="bound must be a positive number"):
        await committed(nothing, bound=0.0)
