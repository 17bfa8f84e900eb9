"""The shell in virtual time: the scenarios issue 3 names, on trio and on asyncio.

Every test runs twice: on trio with a fresh MockClock (autojump), and on asyncio with a fresh
VirtualTimeEventLoop. Hours pass in milliseconds.
"""

from __future__ import annotations

import gc
import random
import weakref
from typing import Any

import anyio
import pytest

from mintgate.policy import CredentialError, ErrorKind, NoticeKind, RefreshConfig, Token
from mintgate.policy.testing import outage_attempt_bound
from mintgate.shell import BreakerState, Clock, Minted, RefreshingProvider
from mintgate.shell.testing import HANG, FakeMint, RecordingHook, unavailable

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend(virtual_backend: Any) -> Any:
    return virtual_backend  # trio and asyncio, both in virtual time (conftest)


async def test_a_day_of_one_hour_tokens_is_24_mints_each_at_its_refresh_point() -> None:
    mint = FakeMint(lifetime=3600.0, latency=0.05)
    notices = RecordingHook()
    async with RefreshingProvider(mint, hooks=[notices], rng=random.Random(1)) as provider:
        await provider.token()
        while provider.statistics().generation < 24:
            await anyio.sleep(60.0)  # a caller every minute, all day
            await provider.token()
        assert mint.calls == 24
    points = [n.when for _, n in notices.seen if n.kind is NoticeKind.REFRESH_SCHEDULED]
    assert len(points) == 24
    # Each background mint started exactly at the jittered refresh point of the token before.
    assert mint.started_at[1:] == pytest.approx(points[:23], abs=1e-9)
    gaps = [b - a for a, b in zip(mint.started_at, mint.started_at[1:], strict=False)]
    assert all(0.7 * 3600 <= gap <= 0.8 * 3600 for gap in gaps)
    assert len({round(gap, 3) for gap in gaps}) > 1  # jittered, not in step


async def test_cold_start_with_10000_callers_makes_one_mint_and_serves_all() -> None:
    mint = FakeMint(latency=0.05)
    served: list[Token[str]] = []
    async with RefreshingProvider(mint) as provider, anyio.create_task_group() as tg:
        for _ in range(10_000):
            tg.start_soon(lambda: _collect(provider, served))
    assert mint.calls == 1
    assert len(served) == 10_000
    assert {t.generation for t in served} == {1}


async def _collect(provider: RefreshingProvider[str], into: list[Token[str]]) -> None:
    into.append(await provider.token())


async def test_a_20_minute_outage_before_the_refresh_point_reaches_no_caller() -> None:
    mint = FakeMint(lifetime=3600.0)
    notices = RecordingHook()
    config = RefreshConfig()
    async with RefreshingProvider(mint, config=config, hooks=[notices]) as provider:
        await provider.token()
        start = anyio.current_time()
        outage = (start + 2400.0, start + 2400.0 + 1200.0)  # before the refresh point (>= 2520 s)
        mint.outcome = lambda _: (
            unavailable(0) if outage[0] <= anyio.current_time() < outage[1] else None
        )
        first = provider.current()
        assert first is not None
        assert first.expires_at is not None
        usable_until = first.expires_at - config.skew
        errors: list[float] = []
        calls_before = mint.calls
        while anyio.current_time() < outage[1] + 400:
            try:
                await provider.token()
            except CredentialError:
                errors.append(anyio.current_time())
            await anyio.sleep(1.0)
        # No caller error while the cached token was usable (stale_grace is 0 by default, so
        # callers are refused between its end and the next probe, and only then).
        assert errors
        assert min(errors) >= usable_until
        opened = [n.at for _, n in notices.seen if n.kind is NoticeKind.BREAKER_OPENED]
        attempts = mint.calls - calls_before
        assert opened, "the outage was long enough to open the breaker"
        assert attempts <= outage_attempt_bound(config, outage[1] - opened[0]) + 1  # + recovery
        assert provider.statistics().breaker == "closed"


async def test_expired_token_and_failing_mint_100_callers_one_attempt_one_error() -> None:
    mint = FakeMint(lifetime=100.0)
    async with RefreshingProvider(mint, config=RefreshConfig(breaker_threshold=100)) as provider:
        await provider.token()
        mint.outcome = unavailable
        await anyio.sleep(1000.0)  # past expiry; the background retries ran and failed
        calls_before = mint.calls
        errors: list[BaseException] = []

        async def caller() -> None:
            try:
                await provider.token()
            except CredentialError as error:
                errors.append(error)

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(caller)
    assert mint.calls - calls_before == 1
    assert len(errors) == 100
    assert len({id(e) for e in errors}) == 100  # each caller raises its own instance
    assert all(e == errors[0] for e in errors)
    assert errors[0].kind is ErrorKind.UNAVAILABLE  # type: ignore[attr-defined]


async def test_a_hung_mint_is_cut_at_mint_timeout_and_retried() -> None:
    mint = FakeMint(lifetime=3600.0)
    mint.outcome = lambda call: HANG if call == 1 else None
    config = RefreshConfig(mint_timeout=10.0)
    async with RefreshingProvider(mint, config=config) as provider:
        start = anyio.current_time()
        with pytest.raises(CredentialError) as caught:
            await provider.token()
        assert caught.value.kind is ErrorKind.TIMEOUT
        assert anyio.current_time() - start == pytest.approx(10.0)
        token = await provider.token()  # the next caller starts the next attempt
        assert token.generation == 1
        assert mint.calls == 2


async def test_a_burst_of_401s_forces_one_mint() -> None:
    mint = FakeMint()
    async with RefreshingProvider(mint) as provider:
        first = await provider.token()
        for _ in range(50):
            await provider.invalidate(first)
        second = await provider.token()
        for _ in range(50):
            await provider.invalidate(first)  # late 401s for the old token change nothing
        assert second.generation == 2
        assert mint.calls == 2
        assert (await provider.token()) == second


async def test_subscribers_see_rotations_and_a_slow_one_skips_to_the_newest() -> None:
    mint = FakeMint(lifetime=100.0)
    config = RefreshConfig(floor=10.0)
    seen_fast: list[int] = []
    async with RefreshingProvider(mint, config=config) as provider:
        fast = provider.subscribe()
        slow = provider.subscribe()
        await provider.token()

        async def read_fast() -> None:
            async for token in fast:
                seen_fast.append(token.generation)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_fast)
            await anyio.sleep(400.0)  # about five rotations
            newest = provider._state.generation
            assert (await slow.__anext__()).generation == newest  # skipped to the latest
            tg.cancel_scope.cancel()
    assert seen_fast == list(range(1, len(seen_fast) + 1))
    assert len(seen_fast) >= 5


async def test_shutdown_with_a_mint_in_flight_cancels_it_and_rejects_the_waiter() -> None:
    mint = FakeMint()
    mint.outcome = lambda _: HANG
    outcome: list[object] = []

    async def waiter(provider: RefreshingProvider[str]) -> None:
        try:
            await provider.token()
        except CredentialError as error:
            outcome.append(error.kind)

    async with anyio.create_task_group() as outer:
        async with RefreshingProvider(mint, config=RefreshConfig(mint_timeout=1e6)) as provider:
            outer.start_soon(waiter, provider)
            await anyio.sleep(5.0)
            assert mint.in_flight == 1
        # Leaving the block cancelled the mint; the parked caller is told, not left hanging.
        assert mint.in_flight == 0
    assert outcome == [ErrorKind.UNAVAILABLE]
    with pytest.raises(RuntimeError, match="inside 'async with'"):
        await provider.token()
    # The core was told the mint ended: opened again, the provider mints as usual.
    mint.outcome = None
    async with provider:
        assert (await provider.token()).value == "token-2"


async def test_a_mint_that_raises_anything_else_is_a_retryable_unknown_without_its_secrets() -> (
    None
):
    class Leaky:
        def secrets(self) -> list[str]:
            return ["hunter2"]

        async def __call__(self) -> Minted[str]:
            raise RuntimeError("secret=hunter2 in the exception text")

    async with RefreshingProvider(Leaky()) as provider:
        with pytest.raises(CredentialError) as caught:
            await provider.token()
    assert caught.value.kind is ErrorKind.UNKNOWN
    assert caught.value.retryable
    assert caught.value.message == (
        "the mint raised RuntimeError: secret=[redacted] in the exception text"
    )


async def test_a_waiter_cancelled_while_parked_disturbs_neither_the_mint_nor_the_others() -> None:
    mint = FakeMint(latency=5.0)
    served: list[Token[str]] = []
    async with RefreshingProvider(mint) as provider:
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as impatient:
                tg.start_soon(_collect, provider, served)  # parks on the cold mint
                await anyio.sleep(1.0)
                impatient.cancel()
            with anyio.move_on_after(1.0):  # a caller that gives up while parked
                await provider.token()
            tg.start_soon(_collect, provider, served)
        assert mint.calls == 1  # the cancellations started nothing and stopped nothing
        assert [t.generation for t in served] == [1, 1]
        assert provider._state.in_flight is None
        assert (await provider.token()).generation == 1


async def test_an_abandoned_subscription_is_not_kept_alive() -> None:
    mint = FakeMint(lifetime=100.0)
    async with RefreshingProvider(mint, config=RefreshConfig(floor=10.0)) as provider:
        subscription = provider.subscribe()
        ref = weakref.ref(subscription)
        del subscription
        gc.collect()
        assert ref() is None
        await provider.token()
        await anyio.sleep(300.0)  # rotations with nobody listening
        assert len(provider._subscriptions or ()) == 0


async def test_a_failed_refresh_is_not_announced_to_subscribers_as_a_rotation() -> None:
    mint = FakeMint(lifetime=100.0)
    config = RefreshConfig(floor=10.0, breaker_threshold=100)
    received: list[int] = []
    async with RefreshingProvider(mint, config=config) as provider:
        tokens = provider.subscribe()
        await provider.token()
        mint.outcome = unavailable  # every refresh fails while the token is still usable

        async def read() -> None:
            async for token in tokens:
                received.append(token.generation)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await anyio.sleep(95.0)  # refresh point, then retries, all failing
            assert mint.calls > 3
            tg.cancel_scope.cancel()
    assert received == [1]  # the install, once; no failed refresh re-announces it


async def test_a_configuration_error_suspends_and_heals_once_the_issuer_is_fixed() -> None:
    fixed_at: list[float] = []

    def outcome(call: int) -> CredentialError | None:
        if not fixed_at:
            return CredentialError(kind=ErrorKind.CONFIGURATION, message="error 'invalid_scope'")
        return None

    mint = FakeMint(outcome=outcome)
    async with RefreshingProvider(mint) as provider:
        with pytest.raises(CredentialError) as refused:
            await provider.token()
        stats = provider.statistics()
        assert (stats.suspended, stats.dead) == (True, False)
        assert refused.value.retry_after == pytest.approx(300.0, abs=0.1)
        await anyio.sleep(60.0)
        fixed_at.append(anyio.current_time())  # the operator grants the scope
        with pytest.raises(CredentialError):
            await provider.token()  # nothing is tried before the re-check
        assert mint.calls == 1
        await anyio.sleep(240.0)
        token = await provider.token()  # the re-check
    assert token.value == "token-2"
    assert mint.calls == 2


WALL = 1_800_000_000.0  # the virtual wall clock's start: a Unix time in 2027


async def test_a_known_token_is_installed_without_a_mint_and_refreshed_by_the_usual_rules() -> None:
    mint = FakeMint()
    clock = Clock.following_the_loop(WALL)
    notices = RecordingHook()
    known = Minted("persisted", expires_at=WALL + 2600.0, issued_at=WALL - 1000.0)
    async with RefreshingProvider(
        mint, clock=clock, known=known, hooks=[notices], rng=random.Random(4)
    ) as provider:
        token = await provider.token()
        assert token.value == "persisted"
        assert mint.calls == 0  # a restart, or another process's mint, costs no request
        assert token.expires_at == pytest.approx(anyio.current_time() + 2600.0)
        assert token.issued_at == pytest.approx(anyio.current_time() - 1000.0)
        (point,) = [n.when for n in notices.notices(NoticeKind.REFRESH_SCHEDULED)]
        assert point is not None
        # Rule 2 from its real issue time: 70-80% of its hour, 1,520-1,880 s from now.
        assert 1520.0 - 1e-6 <= point - anyio.current_time() <= 1880.0 + 1e-6
        await anyio.sleep(1900.0)
        assert (await provider.token()).value == "token-1"
    assert mint.calls == 1


async def test_a_known_token_no_longer_usable_is_left_out() -> None:
    mint = FakeMint()
    clock = Clock.following_the_loop(WALL)
    stale = Minted("expired", expires_at=WALL - 1.0, issued_at=WALL - 3601.0)
    async with RefreshingProvider(mint, clock=clock, known=stale) as provider:
        assert provider.current() is None
        assert (await provider.token()).value == "token-1"
        assert provider.statistics().mints_failed == 0  # left out, not a failed mint


async def test_the_virtual_wall_clock_moves_with_the_loop() -> None:
    clock = Clock.following_the_loop(WALL)
    assert clock.wall() == WALL
    await anyio.sleep(3600.0)
    assert clock.wall() == pytest.approx(WALL + 3600.0)
    now = clock.now()
    assert clock.to_loop(clock.to_wall(now + 5.0, now=now), now=now) == pytest.approx(now + 5.0)


async def test_statistics_tell_a_health_check_what_is_going_on() -> None:
    clock = Clock.following_the_loop(WALL)
    assert clock.wall() == WALL  # the first reading anchors the virtual wall clock: now
    mint = FakeMint(lifetime=100.0, latency=1.0)
    config = RefreshConfig(stale_grace=30.0, breaker_threshold=100)
    async with RefreshingProvider(mint, config=config, clock=clock, rng=random.Random(2)) as p:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(_collect, p, [])
            await anyio.sleep(0.5)
            waiting = p.statistics()
            assert (waiting.callers_waiting, waiting.attempt_in_flight) == (3, 1)
        stats = p.statistics()
        assert stats.callers_waiting == 0
        assert stats.attempt_in_flight is None
        assert stats.last_success == pytest.approx(WALL + 1.0)
        assert stats.breaker is BreakerState.CLOSED
        assert str(stats.breaker) == "closed"  # a StrEnum: it is its string
        assert stats.next_wake_up is not None
        assert WALL + 70.0 <= stats.next_wake_up <= WALL + 75.0  # the refresh point, wall-clock
        mint.outcome = unavailable  # the endpoint goes down at the refresh
        await anyio.sleep(stats.next_wake_up - clock.wall() + 2.0)
        for _ in range(10):  # served from the cache while the refresh fails
            await p.token()
        await anyio.sleep(100.0 - (clock.wall() - WALL) + 5.0)  # past expiry, in stale grace
        await p.token()
        stats = p.statistics()
    assert stats.served_after_failure == 11
    assert stats.served_past_expiry >= 1
    assert stats.last_error is not None
    assert stats.last_error.kind is ErrorKind.UNAVAILABLE
    assert stats.last_error.message == "token endpoint answered HTTP 503"
    assert WALL + 70.0 <= stats.last_error.at <= clock.wall()
    assert stats.mints_failed >= 1
