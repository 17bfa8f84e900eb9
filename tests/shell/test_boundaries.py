"""Where the provider meets the application: its block, its loop, its hooks, its mint.

Regression tests for what a real application hit first (issue 10): exceptions wrapped in our
ExceptionGroup, a reopened provider serving a token from a dead loop's clock, a raising hook
breaking the provider, secrets reachable from a mint's traceback, a stray CancelledError, mint
bugs without a trace, no way back from a dead credential, and use from a second event loop.
Each runs on trio (MockClock) and on asyncio (a virtual-time loop) unless it cannot exist there.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
import trio
import trio.testing

from mintgate.policy import (
    CredentialError,
    ErrorKind,
    Notice,
    NoticeKind,
    RefreshConfig,
    Tick,
    Token,
    step,
)
from mintgate.shell import CredentialInfo, Minted, RefreshingProvider
from mintgate.shell.testing import (
    HANG,
    FakeMint,
    RecordingHook,
    VirtualTimeEventLoop,
    unavailable,
)

pytestmark = pytest.mark.anyio

SECRET = "rt-the-refresh-token-that-must-never-leak"


@pytest.fixture
def anyio_backend(virtual_backend: Any) -> Any:
    return virtual_backend  # trio and asyncio, both in virtual time (conftest)


def reauth() -> CredentialError:
    return CredentialError(kind=ErrorKind.REAUTH_REQUIRED, message="invalid_grant")


# -- 1. what leaves the block ----------------------------------------------------------------------


async def test_a_users_exception_leaves_the_block_as_itself() -> None:
    mint = FakeMint(latency=1.0)

    async def body() -> None:
        async with RefreshingProvider(mint) as provider:
            await provider.token()
            await anyio.sleep(0.8 * 3600 - 1.0)  # past the refresh point: a refresh has run
            raise KeyError("the user's own")

    with pytest.raises(KeyError) as caught:
        await body()
    assert type(caught.value) is KeyError
    assert caught.value.args == ("the user's own",)


async def test_a_users_exception_with_a_mint_in_flight_leaves_as_itself() -> None:
    mint = FakeMint(outcome=lambda call: HANG)

    async def body() -> None:
        async with RefreshingProvider(mint) as provider:
            with anyio.move_on_after(1.0):  # a caller that gives up; the mint goes on
                await provider.token()
            assert mint.in_flight == 1
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom") as caught:
        await body()
    assert type(caught.value) is ValueError
    assert mint.in_flight == 0


async def test_a_credential_error_from_token_can_be_caught_around_the_block() -> None:
    mint = FakeMint(outcome=lambda call: reauth())
    caught: list[CredentialError] = []
    try:
        async with RefreshingProvider(mint) as provider:
            await provider.token()
    except CredentialError as error:  # what an application writes around its block
        caught.append(error)
    assert [e.kind for e in caught] == [ErrorKind.REAUTH_REQUIRED]


async def test_if_a_background_task_ever_fails_the_body_still_wins(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def crash() -> None:
        raise RuntimeError("a bug of ours")

    async def crashing_task() -> None:
        crash()

    async def body() -> None:
        async with RefreshingProvider(FakeMint()) as provider:
            assert provider._host._task_group is not None
            provider._host._task_group.start_soon(crashing_task)  # stands in for a bug of ours
            raise KeyError("the user's own")

    with pytest.raises(KeyError) as caught:
        await body()
    assert type(caught.value) is KeyError
    errors = [r for r in caught_records(caplog) if r.levelno == logging.ERROR]
    assert any("a background task failed" in r.getMessage() for r in errors)


def caught_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("mintgate")]


# -- 2. reopening in a new loop --------------------------------------------------------------------


def run_in_a_fresh_loop(backend: str, main: Callable[[], Any], *, start: float) -> Any:
    """``main`` in a loop of its own whose clock reads ``start`` when it begins."""
    if backend == "trio":
        clock = trio.testing.MockClock(autojump_threshold=0)
        clock.jump(start)
        return anyio.run(main, backend="trio", backend_options={"clock": clock})
    return anyio.run(
        main,
        backend="asyncio",
        backend_options={"loop_factory": lambda: VirtualTimeEventLoop(start=start)},
    )


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_reopened_under_a_new_loop_it_never_serves_a_token_from_the_old_clock(backend: str) -> None:
    mint = FakeMint(lifetime=100.0, latency=0.0)
    provider = RefreshingProvider(mint)
    first: list[Token[str]] = []

    async def open_and_use() -> Token[str]:
        async with provider:
            token = await provider.token()
            assert token.expires_at is not None
            assert 0 < token.expires_at - anyio.current_time() <= 100.0
            return token

    first.append(run_in_a_fresh_loop(backend, open_and_use, start=50_000.0))
    # The second loop's clock starts 49,900 s earlier: the old token's expiry would read as
    # fourteen hours away. The provider must mint again.
    second = run_in_a_fresh_loop(backend, open_and_use, start=100.0)
    assert mint.calls == 2
    assert second.value == "token-2"
    assert second.generation == first[0].generation + 1  # generations go on growing

    async def invalidate_the_old_one() -> Token[str] | None:
        async with provider:
            fresh = await provider.token()
            await provider.invalidate(first[0])  # an old generation: ignored
            assert provider.current() is fresh
            return fresh

    assert run_in_a_fresh_loop(backend, invalidate_the_old_one, start=7.0) is not None


# -- 3. a hook that raises -------------------------------------------------------------------------


class Raising:
    def __init__(self, kinds: set[NoticeKind], times: int | None = None) -> None:
        self.kinds, self.times, self.raised = kinds, times, 0

    def notice(self, credential: CredentialInfo, notice: Notice) -> None:
        if notice.kind in self.kinds and (self.times is None or self.raised < self.times):
            self.raised += 1
            raise ZeroDivisionError(f"reporter bug on {notice.kind.value}")


async def test_a_hook_that_raises_once_on_mint_started_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reporter = Raising({NoticeKind.MINT_STARTED}, times=1)
    async with RefreshingProvider(FakeMint(), hooks=[reporter]) as provider:
        token = await provider.token()
        assert token.value == "token-1"
        assert (await provider.token()) is token
    assert reporter.raised == 1
    errors = [r for r in caught_records(caplog) if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "hook Raising raised ZeroDivisionError" in errors[0].getMessage()
    assert "mint_started" in errors[0].getMessage()


async def test_a_hook_that_always_raises_is_logged_once_per_kind_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def a_day(reporter: Any) -> tuple[list[float], list[int]]:
        mint = FakeMint(lifetime=3600.0)
        served = []
        start = anyio.current_time()
        hooks = () if reporter is None else (reporter,)
        async with RefreshingProvider(mint, hooks=hooks, rng=random.Random(3)) as provider:
            while anyio.current_time() - start < 86_400:
                served.append((await provider.token()).generation)
                await anyio.sleep(60.0)
        return [t - start for t in mint.started_at], served

    quiet = await a_day(None)
    loud = await a_day(Raising(set(NoticeKind)))
    # The same mints at the same instants, the same tokens served.
    assert loud[0] == pytest.approx(quiet[0], abs=1e-6)
    assert loud[1] == quiet[1]
    assert len(quiet[0]) >= 24
    errors = [r for r in caught_records(caplog) if r.levelno >= logging.ERROR]
    kinds = [
        next(k for k in NoticeKind if f"on a {k.value} notice" in r.getMessage()) for r in errors
    ]
    assert len(kinds) == len(set(kinds))  # once per notice kind, not once per call
    assert NoticeKind.MINT_SUCCEEDED in kinds


# -- 4. secrets in tracebacks ----------------------------------------------------------------------


def texts_reachable_from(error: BaseException) -> Iterator[str]:
    """Everything a crash reporter could show of an error: its chain and its frames' locals."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield repr(current)
        yield str(current)
        pending += [current.__cause__, current.__context__]
        tb: types.TracebackType | None = current.__traceback__
        while tb is not None:
            for name, value in tb.tb_frame.f_locals.items():
                yield f"{name}={value!r}"
            tb = tb.tb_next


class LeakyMint:
    """A mint whose frames hold the secret and whose error carries a chain, as httpx's would."""

    def __init__(self) -> None:
        self.calls = 0

    def secrets(self) -> list[str]:
        return [SECRET]

    async def __call__(self) -> Minted[str]:
        self.calls += 1
        form = {"grant_type": "refresh_token", "refresh_token": SECRET}
        body = f'{{"error": "temporarily_unavailable", "echo": "{SECRET}"}}'
        try:
            raise ValueError(f"parsing {body} for {form}")
        except ValueError:
            # No "from None": the context chain holds the body, as a careless mint's would.
            raise CredentialError(  # noqa: B904
                kind=ErrorKind.UNAVAILABLE, message="token endpoint answered HTTP 503"
            )


async def test_nothing_that_leaves_the_provider_reaches_the_mints_frames(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mintgate")
    notices = RecordingHook()
    async with RefreshingProvider(LeakyMint(), hooks=[notices]) as provider:
        with pytest.raises(CredentialError) as caught:
            await provider.token()
        result = await provider.token_result()
        kept = provider._state.last_error
    failure = result.failure()
    errors: list[BaseException] = [caught.value, failure]
    errors += [n.error for n in notices.notices() if n.error is not None]
    assert kept is not None
    errors.append(kept)
    assert len(errors) >= 4
    for error in errors:
        assert error.__cause__ is None
        assert error.__context__ is None
        for text in texts_reachable_from(error):
            assert SECRET not in text
    for error in [n.error for n in notices.notices() if n.error is not None] + [kept]:
        assert error.__traceback__ is None
    records = caught_records(caplog)
    assert all(r.exc_info is None for r in records)
    assert all(SECRET not in r.getMessage() for r in records)
    # At DEBUG the original traceback is there, as text, with the declared secret redacted.
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    assert any("Traceback" in m and "LeakyMint" not in m and "__call__" in m for m in debug)
    assert any("[redacted]" in m for m in debug)


# -- 5. a stray CancelledError (asyncio only: user code cannot build trio's Cancelled) -----------


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_mint_raising_cancelled_error_is_a_failed_mint_not_a_cancelled_block() -> None:
    calls = 0

    async def mint() -> Minted[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncio.CancelledError("a library's bug")
        return Minted("token", expires_in=3600)

    reached_the_end = False
    async with RefreshingProvider(mint) as provider:
        with pytest.raises(CredentialError) as caught:
            await provider.token()
        assert caught.value.kind is ErrorKind.UNKNOWN
        assert "CancelledError" in caught.value.message
        assert provider._state.in_flight is None  # the core knows the mint ended
        assert (await provider.token()).value == "token"
        await asyncio.sleep(0.01)  # a checkpoint: the block is not being cancelled
        reached_the_end = True
    assert reached_the_end
    assert calls == 2


# -- 6. mint bugs that say what they are -----------------------------------------------------------


async def test_a_mint_returning_a_dict_says_so() -> None:
    async def wrong() -> Minted[str]:
        return {"access_token": "x"}  # type: ignore[return-value]

    async with RefreshingProvider(wrong) as provider:
        with pytest.raises(CredentialError, match=r"the mint returned dict, not Minted"):
            await provider.token()


async def test_a_mint_that_is_not_async_says_so() -> None:
    def forgot_async() -> Minted[str]:
        return Minted("x", expires_in=60)

    provider: RefreshingProvider[str] = RefreshingProvider(forgot_async)  # type: ignore[arg-type]
    async with provider:
        with pytest.raises(CredentialError) as caught:
            await provider.token()
    assert caught.value.message == (
        "the mint is not async: calling it returned Minted, not an awaitable "
        "(define it with 'async def')"
    )


async def test_a_mints_exception_keeps_its_type_and_its_message_cut_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mintgate")

    async def parses_badly() -> Minted[str]:
        payload: dict[str, int] = {}
        return Minted("x", expires_in=payload["expires_in"])

    async def rambles() -> Minted[str]:
        raise ValueError("x" * 500 + "\n\x1b[31m")

    async with RefreshingProvider(parses_badly) as provider:
        with pytest.raises(CredentialError) as caught:
            await provider.token()
    assert caught.value.kind is ErrorKind.UNKNOWN
    assert caught.value.message == "the mint raised KeyError: 'expires_in'"
    debug = [r.getMessage() for r in caught_records(caplog) if r.levelno == logging.DEBUG]
    assert any("Traceback" in m and "parses_badly" in m for m in debug)

    async with RefreshingProvider(rambles) as provider:
        with pytest.raises(CredentialError) as caught:
            await provider.token()
    message = caught.value.message
    assert message.startswith("the mint raised ValueError: xxx")
    assert message.endswith("...")
    assert len(message) == len("the mint raised ValueError: ") + 200
    assert "\x1b" not in message


async def test_our_mint_timeout_reads_differently_from_the_mints_own_timeout() -> None:
    config = RefreshConfig(mint_timeout=2.0)

    async def times_out_itself() -> Minted[str]:
        raise TimeoutError("read timed out after 0.5 s")

    async with RefreshingProvider(FakeMint(outcome=lambda c: HANG), config=config) as provider:
        with pytest.raises(CredentialError) as ours:
            await provider.token()
    async with RefreshingProvider(times_out_itself, config=config) as provider:
        with pytest.raises(CredentialError) as theirs:
            await provider.token()
    assert ours.value.kind is theirs.value.kind is ErrorKind.TIMEOUT
    assert ours.value.message == "the provider cut the mint off at mint_timeout=2 s"
    assert theirs.value.message == "the mint raised TimeoutError: read timed out after 0.5 s"


async def test_a_broken_secrets_declaration_does_not_hide_the_failure() -> None:
    class Broken:
        def secrets(self) -> list[str]:
            raise RuntimeError("oops")

        async def __call__(self) -> Minted[str]:
            raise OSError("connection reset")

    async with RefreshingProvider(Broken()) as provider:
        with pytest.raises(CredentialError, match="the mint raised OSError: connection reset"):
            await provider.token()


# -- 7. replace ------------------------------------------------------------------------------------


async def test_a_dead_credential_comes_back_through_replace() -> None:
    async def refused() -> Minted[str]:
        raise reauth()

    fixed = FakeMint()
    async with RefreshingProvider(refused) as provider:
        with pytest.raises(CredentialError):
            await provider.token()
        assert provider.statistics().dead
        with pytest.raises(CredentialError, match="invalid_grant"):
            await provider.token()  # dead: no attempt, the same error
        provider.replace(fixed)
        assert not provider.statistics().dead
        token = await provider.token()
    assert token.value == "token-1"
    assert token.generation == 1  # the dead credential never installed one
    assert fixed.calls == 1


async def test_replace_without_a_mint_keeps_the_mint_and_starts_afresh() -> None:
    mint = FakeMint(outcome=lambda call: reauth() if call == 1 else None)
    async with RefreshingProvider(mint) as provider:
        with pytest.raises(CredentialError):
            await provider.token()
        provider.replace()  # e.g. the secret the mint reads was rotated in place
        assert (await provider.token()).value == "token-2"


async def test_replace_cancels_the_mint_in_flight_and_parked_callers_get_the_new_credential() -> (
    None
):
    old = FakeMint(outcome=lambda call: HANG)
    new = FakeMint(latency=2.0)
    served: list[Token[str]] = []
    config = RefreshConfig(mint_timeout=1e6)
    async with RefreshingProvider(old, config=config) as provider:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(_collect, provider, served)
            await anyio.sleep(5.0)
            assert old.in_flight == 1
            provider.replace(new)
            await anyio.sleep(0)  # let the cancellation land
        assert old.in_flight == 0
    assert [t.value for t in served] == ["token-1"] * 3
    assert new.calls == 1  # one mint for every parked caller


async def _collect(provider: RefreshingProvider[str], into: list[Token[str]]) -> None:
    into.append(await provider.token())


async def test_a_late_result_from_before_replace_is_never_installed() -> None:
    """Attempt ids restart at 1 after replace: the old attempt 1 must not pass for the new."""

    async def stubborn() -> Minted[str]:
        with anyio.CancelScope(shield=True):  # ignores the cancellation, answers late
            await anyio.sleep(5.0)
        return Minted("old-credentials-token", expires_in=3600)

    new = FakeMint(latency=8.0)  # still in flight, as attempt 1, when the old one answers
    async with RefreshingProvider(stubborn) as provider, anyio.create_task_group() as tg:
        with anyio.move_on_after(1.0):
            await provider.token()
        provider.replace(new)
        caller: list[Token[str]] = []
        tg.start_soon(_collect, provider, caller)
        await anyio.sleep(6.0)  # the old mint has answered by now
        assert provider.current() is None
        assert provider.statistics().generation == 0
        await anyio.sleep(6.0)
        assert [t.value for t in caller] == ["token-1"]
        assert provider.current() is caller[0]


# -- 9. loop affinity ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_a_provider_used_from_a_second_loop_is_a_clear_error(backend: str) -> None:
    errors: list[BaseException] = []

    async def from_another_loop(provider: RefreshingProvider[str]) -> None:
        for attempt in (provider.token, provider.__aenter__):
            try:
                await attempt()
            except RuntimeError as error:
                errors.append(error)

    async def main() -> None:
        async with RefreshingProvider(FakeMint(latency=0.0), name="billing") as provider:

            def other_thread() -> None:
                anyio.run(from_another_loop, provider, backend=backend)

            thread = threading.Thread(target=other_thread)
            thread.start()
            await anyio.to_thread.run_sync(thread.join)
            assert (await provider.token()).value == "token-1"  # its own loop is unaffected

    anyio.run(main, backend=backend)
    assert len(errors) == 2
    assert all("another event loop" in str(e) for e in errors)
    assert all("'billing'" in str(e) for e in errors)


async def test_an_internal_error_on_a_wake_up_is_logged_and_the_timer_goes_on(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = 0

    def flaky_step(config: RefreshConfig, state: Any, event: Any) -> Any:
        nonlocal failures
        if isinstance(event, Tick) and failures == 0:
            failures += 1
            raise AssertionError("a bug of ours in the core")
        return step(config, state, event)

    monkeypatch.setattr("mintgate.shell._driver.step", flaky_step)
    mint = FakeMint(lifetime=100.0)
    async with RefreshingProvider(mint) as provider:
        first = await provider.token()
        await anyio.sleep(150.0)  # the refresh's wake-up fails once, then is retried
        assert provider.current() is not None
        assert provider.current() is not first
    assert failures == 1
    assert mint.calls >= 2
    errors = [r.getMessage() for r in caught_records(caplog) if r.levelno == logging.ERROR]
    assert any("internal error in a wake-up (AssertionError)" in m for m in errors)


class Span:
    """A mint hook shaped like an OpenTelemetry span: it encloses each mint call."""

    def __init__(self, *, swallow: bool = False, broken: bool = False) -> None:
        self.swallow, self.broken = swallow, broken
        self.spans: list[tuple[str, int, float, float, str | None]] = []

    def mint(self, credential: CredentialInfo, attempt: int) -> Any:
        span = self

        class Context:
            async def __aenter__(self) -> None:
                self.started = anyio.current_time()
                if span.broken:
                    raise RuntimeError("the exporter is down")

            async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
                name = None if exc_type is None else exc_type.__name__
                span.spans.append(
                    (credential.name, attempt, self.started, anyio.current_time(), name)
                )
                return span.swallow  # a hook that tries to swallow the failure

        return Context()


async def test_a_mint_hook_encloses_each_mint_and_cannot_swallow_its_failure() -> None:
    span = Span(swallow=True)
    mint = FakeMint(latency=2.0, outcome=lambda call: unavailable() if call == 1 else None)
    async with RefreshingProvider(mint, name="billing", hooks=[span]) as provider:
        with pytest.raises(CredentialError):
            await provider.token()  # the failure stands, whatever __aexit__ returned
        assert (await provider.token()).value == "token-2"
    assert [(s[0], s[1], s[4]) for s in span.spans] == [
        ("billing", 1, "CredentialError"),
        ("billing", 2, None),
    ]
    assert all(end - start == pytest.approx(2.0) for _, _, start, end, _ in span.spans)


async def test_a_broken_mint_hook_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    mint = FakeMint()
    async with RefreshingProvider(mint, hooks=[Span(broken=True)]) as provider:
        assert (await provider.token()).value == "token-1"
        provider.replace()
        assert (await provider.token()).value == "token-2"
    errors = [r.getMessage() for r in caught_records(caplog) if r.levelno >= logging.ERROR]
    assert len(errors) == 1  # once per hook and kind of call
    assert "hook Span raised RuntimeError (the exporter is down) on a mint" in errors[0]
