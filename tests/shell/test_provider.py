"""RefreshingProvider's public surface, on trio (virtual time) and on asyncio (real time).

Durations here are short so the asyncio runs stay fast in real time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import anyio
import pytest
from returns.result import Failure, Success

from mintgate.policy import CredentialError, ErrorKind, Notice, NoticeKind, RefreshConfig
from mintgate.shell import Clock, CredentialInfo, Minted, RefreshingProvider
from mintgate.shell.testing import FakeMint

pytestmark = pytest.mark.anyio

SECRET = "eyJ.the-secret-access-token.sig"


async def test_token_serves_the_same_token_until_rotation() -> None:
    mint = FakeMint(lifetime=3600.0, latency=0.01)
    async with RefreshingProvider(mint) as provider:
        first = await provider.token()
        again = await provider.token()
        assert again is first
        assert first.value == "token-1"
        assert mint.calls == 1


async def test_token_result_returns_success_or_failure() -> None:
    mint = FakeMint(latency=0.01)
    async with RefreshingProvider(mint) as provider:
        ok = await provider.token_result()
        assert isinstance(ok, Success)
        assert ok.unwrap().generation == 1

    async def refused() -> Minted[str]:
        raise CredentialError(kind=ErrorKind.REAUTH_REQUIRED, message="invalid_grant")

    async with RefreshingProvider(refused) as provider:
        failed = await provider.token_result()
        assert isinstance(failed, Failure)
        assert failed.failure().kind is ErrorKind.REAUTH_REQUIRED


async def test_current_never_waits_and_never_mints() -> None:
    mint = FakeMint(latency=0.01)
    async with RefreshingProvider(mint) as provider:
        assert provider.current() is None
        assert mint.calls == 0
        token = await provider.token()
        assert provider.current() == token


async def test_invalidate_forces_one_new_token() -> None:
    mint = FakeMint(latency=0.01)
    async with RefreshingProvider(mint, config=RefreshConfig(forced_min_interval=0.0)) as provider:
        first = await provider.token()
        await provider.invalidate(first)
        assert provider.current() is None
        second = await provider.token()
        assert second.generation == first.generation + 1
        assert mint.calls == 2


async def test_statistics_is_a_snapshot_without_secrets() -> None:
    mint = FakeMint(lifetime=100.0, latency=0.01)
    async with RefreshingProvider(mint, name="billing") as provider:
        await provider.token()
        stats = provider.statistics()
    assert stats.name == "billing"
    assert stats.generation == 1
    assert stats.seconds_to_expiry is not None
    assert 99.0 < stats.seconds_to_expiry <= 100.0
    assert stats.breaker == "closed"
    assert (stats.mints_started, stats.mints_succeeded, stats.mints_failed) == (1, 1, 0)
    assert "token-1" not in repr(stats)


async def test_subscription_ends_when_the_provider_closes() -> None:
    mint = FakeMint(latency=0.01)
    received = []
    async with anyio.create_task_group() as tg, RefreshingProvider(mint) as provider:
        tokens = provider.subscribe()

        async def read() -> None:
            async for token in tokens:
                received.append(token.generation)

        tg.start_soon(read)
        await provider.token()
        await anyio.sleep(0.05)
    assert received == [1]


async def test_absolute_wall_clock_expiry_is_converted_to_the_loop_clock() -> None:
    async def aws_style() -> Minted[str]:
        return Minted("creds", expires_at=1_000_900.0)  # 900 s after the fake wall clock

    async with RefreshingProvider(aws_style, clock=Clock(lambda: 1_000_000.0)) as provider:
        token = await provider.token()
        assert token.expires_at is not None
        assert token.expires_at - anyio.current_time() == pytest.approx(900.0, abs=0.5)


async def test_no_secret_reaches_a_notice_a_log_record_or_a_repr(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Notice] = []

    class Collect:
        def notice(self, credential: CredentialInfo, notice: Notice) -> None:
            seen.append(notice)

    calls = 0

    async def mint() -> Minted[str]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ValueError(f"upstream echoed {SECRET}")
        return Minted(SECRET, expires_in=3600.0)

    caplog.set_level(logging.DEBUG, logger="mintgate")
    config = RefreshConfig(forced_min_interval=0.0)
    async with RefreshingProvider(mint, config=config, hooks=[Collect()]) as provider:
        token = await provider.token()
        await provider.invalidate(token)
        with pytest.raises(CredentialError) as caught:
            await provider.token()
        texts = [repr(token), str(caught.value), repr(caught.value), repr(provider.statistics())]
    assert seen
    assert {n.kind for n in seen} >= {NoticeKind.MINT_SUCCEEDED, NoticeKind.MINT_FAILED}
    texts += [repr(n) for n in seen] + [r.getMessage() for r in caplog.records]
    assert caplog.records
    assert all(SECRET not in text for text in texts)
    assert SECRET not in repr(Minted(SECRET, expires_in=1.0))


async def test_the_library_logs_through_a_null_handler_only() -> None:
    handlers = logging.getLogger("mintgate.shell").handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]


async def test_using_a_closed_or_unopened_provider_is_a_clear_error() -> None:
    provider = RefreshingProvider(FakeMint(latency=0.01))
    with pytest.raises(RuntimeError, match="inside 'async with'"):
        await provider.token()
    async with provider:
        with pytest.raises(RuntimeError, match="already open"):
            await provider.__aenter__()


def test_minted_rejects_bad_lifetimes() -> None:
    with pytest.raises(ValueError, match="expires_in or expires_at, not both"):
        Minted("v", expires_in=1.0, expires_at=2.0)
    with pytest.raises(ValueError, match=r"Minted.expires_in must be a finite number"):
        Minted("v", expires_in=float("nan"))
    with pytest.raises(ValueError, match=r"Minted.expires_at must be a Unix time or an aware"):
        Minted("v", expires_at="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Minted.issued_at must be a timezone-aware datetime"):
        Minted("v", issued_at=datetime(2026, 12, 2, 12, 0))


def test_minted_takes_an_aware_datetime_as_aws_gives_its_expiration() -> None:
    expiration = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert Minted("v", expires_at=expiration).expires_at == expiration.timestamp()
    cet = timezone(timedelta(hours=1))
    assert Minted("v", issued_at=datetime(2026, 12, 2, 13, 0, tzinfo=cet)).issued_at == (
        expiration.timestamp()
    )


async def test_a_mint_returning_the_wrong_type_is_a_clear_failure() -> None:
    async def wrong() -> Minted[str]:
        return "just a string"  # type: ignore[return-value]

    async with RefreshingProvider(wrong) as provider:
        with pytest.raises(CredentialError, match="the mint returned str, not Minted"):
            await provider.token()


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_the_provider_reads_the_loops_own_clock_on_the_real_clocks(backend: str) -> None:
    """The hot path reads the C clock directly; it must equal what the loop's deadlines use."""

    async def check() -> None:
        async with RefreshingProvider(FakeMint(latency=0.0)) as provider:
            for _ in range(100):
                ours, loops = provider._clock(), anyio.current_time()
                assert 0 <= loops - ours < 0.01

    anyio.run(check, backend=backend)


async def test_log_lines_show_durations_not_loop_clock_readings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mintgate")
    async with RefreshingProvider(FakeMint(lifetime=1000.0, latency=0.01)) as provider:
        await provider.token()
    (line,) = [r.getMessage() for r in caplog.records if "refresh_scheduled" in r.getMessage()]
    seconds = float(line.split(" in=")[1].rstrip("s"))
    # 70-80% of the lifetime from the notice's step, not a reading of the loop's clock.
    assert 700.0 - 0.1 <= seconds <= 800.0
    assert line.startswith("credential: refresh_scheduled generation=1 in=")
