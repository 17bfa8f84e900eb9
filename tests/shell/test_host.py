"""Host: many credentials' drivers in one task group, with one timer task between them.

On trio and asyncio, both in virtual time. A driver has the provider's surface, tested at length
in test_provider.py and test_boundaries.py (a provider is a driver with a host of its own); here
is what is the host's own: sharing, adding and removing, reopening, isolation between drivers.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from mintgate.policy import CredentialError, ErrorKind, RefreshConfig, Tick, step
from mintgate.shell import Clock, Driver, Host, Minted, TokenSource
from mintgate.shell.testing import HANG, FakeMint

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend(virtual_backend: Any) -> Any:
    return virtual_backend  # trio and asyncio, both in virtual time (conftest)


def lifetime(i: int) -> float:
    return 100.0 + 10.0 * i


async def test_many_credentials_share_one_timer_task_and_keep_their_own_schedules() -> None:
    mints = [FakeMint(lifetime=lifetime(i), latency=0.5) for i in range(20)]
    before = len(anyio.get_running_tasks())
    async with Host() as host:
        drivers = [host.add(mint, name=f"api-{i}") for i, mint in enumerate(mints)]
        assert len(host) == 20
        for driver in drivers:
            await driver.token()
        assert len(anyio.get_running_tasks()) == before + 1  # the timer; nothing per credential
        for _ in range(400):  # 2,000 s, sampled every 5 s
            await anyio.sleep(5.0)
            assert all(driver.current() is not None for driver in drivers)
        assert len(anyio.get_running_tasks()) <= before + 1 + 20  # at most one mint each
    for i, mint in enumerate(mints):
        assert mint.max_in_flight == 1
        gaps = [b - a for a, b in zip(mint.started_at, mint.started_at[1:], strict=False)]
        assert len(gaps) >= 2000.0 / lifetime(i) - 1
        # each refresh started inside its own token's refresh window, not on another's clock
        assert all(0.5 * lifetime(i) <= gap <= 0.8 * lifetime(i) + 0.5 for gap in gaps), gaps


async def test_a_driver_is_a_token_source_with_its_own_statistics() -> None:
    async with Host() as host:
        billing = host.add(FakeMint(), name="billing")
        search = host.add(FakeMint(), name="search")
        assert isinstance(billing, TokenSource)
        token = await billing.token()
        await billing.invalidate(token)
        assert (await billing.token()).generation == 2
        assert (await search.token()).generation == 1
        assert billing.statistics().mints_succeeded == 2
        assert search.statistics().mints_succeeded == 1
        assert search.statistics().name == "search"


async def test_a_credential_added_before_the_host_opens_runs_when_it_does() -> None:
    host = Host()
    mint = FakeMint()
    driver = host.add(mint, name="early")
    with pytest.raises(RuntimeError, match="Host is not open"):
        await driver.token()
    async with host:
        assert (await driver.token()).value == "token-1"
        late = host.add(FakeMint(), name="late")  # added while open: runs at once
        assert (await late.token()).value == "token-1"
    with pytest.raises(RuntimeError, match="Host is not open"):
        driver.current()


async def test_a_known_token_is_adopted_when_the_credential_is_added() -> None:
    clock = Clock.following_the_loop(1_700_000_000.0)
    mint = FakeMint()
    async with Host(clock=clock) as host:
        known = Minted("persisted", expires_at=clock.wall() + 3600.0, issued_at=clock.wall())
        driver = host.add(mint, name="restored", known=known)
        assert (await driver.token()).value == "persisted"
        assert mint.calls == 0
        await anyio.sleep(3000.0)  # refreshed by the usual rules
        assert mint.calls == 1


async def test_reopening_the_host_starts_every_credential_afresh() -> None:
    host = Host()
    mints = [FakeMint(), FakeMint()]
    drivers = [host.add(mint) for mint in mints]
    async with host:
        first = [await driver.token() for driver in drivers]
    async with host:
        again = [await driver.token() for driver in drivers]
    assert [mint.calls for mint in mints] == [2, 2]
    assert all(b.generation > a.generation for a, b in zip(first, again, strict=True))


async def test_removing_a_credential_ends_it_and_leaves_the_others_running() -> None:
    hanging = FakeMint(outcome=lambda call: HANG)
    other = FakeMint(lifetime=100.0)
    async with Host() as host:
        gone = host.add(hanging, name="gone")
        kept = host.add(other, name="kept")
        await kept.token()
        subscription = gone.subscribe()
        errors: list[CredentialError] = []

        async def parked() -> None:
            try:
                await gone.token()
            except CredentialError as error:
                errors.append(error)

        async with anyio.create_task_group() as group:
            group.start_soon(parked)
            await anyio.sleep(1.0)
            assert gone.statistics().callers_waiting == 1
            host.remove(gone)
        assert [error.kind for error in errors] == [ErrorKind.UNAVAILABLE]
        assert "removed from its host" in errors[0].message
        assert [token async for token in subscription] == []  # it ended
        with pytest.raises(RuntimeError, match="removed from its Host"):
            await gone.token()
        with pytest.raises(ValueError, match="'gone' is not hosted here"):
            host.remove(gone)
        assert len(host) == 1
        await anyio.sleep(500.0)
        assert kept.current() is not None
        assert other.calls >= 5
    assert hanging.in_flight == 0  # its mint was cancelled


async def test_a_bug_in_one_credentials_wake_up_delays_only_that_credential(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken: set[str] = {"token-1"}

    def flaky_step(config: RefreshConfig, state: Any, event: Any) -> Any:
        token = state.token
        if isinstance(event, Tick) and token is not None and token.value in broken:
            broken.discard(token.value)  # only the first of its wake-ups fails
            raise AssertionError("a bug of ours in the core")
        return step(config, state, event)

    monkeypatch.setattr("mintgate.shell._driver.step", flaky_step)
    unlucky = FakeMint(lifetime=100.0, latency=0.0)
    lucky = FakeMint(lifetime=100.0, latency=0.0)
    async with Host() as host:
        first = host.add(unlucky, name="unlucky")
        await first.token()
        broken.clear()
        broken.add("token-1")
        second = host.add(lucky, name="lucky")
        await second.token()
        await anyio.sleep(300.0)
        assert first.current() is not None
        assert second.current() is not None
    assert unlucky.calls >= 3
    assert lucky.calls >= 3
    gaps = [b - a for a, b in zip(unlucky.started_at, unlucky.started_at[1:], strict=False)]
    assert max(gaps) <= 80.0 + 1.0  # the failed wake-up was retried a second later
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sum("internal error in a wake-up (AssertionError)" in m for m in errors) == 1


async def test_an_exception_from_the_body_leaves_the_host_as_itself() -> None:
    async def body() -> None:
        async with Host() as host:
            drivers = [host.add(FakeMint(latency=5.0)) for _ in range(3)]
            with anyio.move_on_after(1.0):
                await drivers[0].token()  # gives up, leaving a mint in flight
            assert drivers[0].statistics().attempt_in_flight == 1
            raise KeyError("the application's")

    with pytest.raises(KeyError) as caught:
        await body()
    assert type(caught.value) is KeyError


async def test_a_host_opened_twice_is_refused() -> None:
    async with Host() as host:
        with pytest.raises(RuntimeError, match="this Host is already open"):
            await host.__aenter__()


def test_a_driver_belongs_to_the_host_that_made_it() -> None:
    host = Host()
    driver = host.add(FakeMint(), name="x")
    assert type(driver) is Driver
    assert repr(host) == "<Host closed, 1 credentials>"
