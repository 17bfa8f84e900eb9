"""RefreshingProvider: the shell that runs the pure core for one credential on anyio.

The core decides, the shell acts. Every event goes through :func:`mintgate.policy.step`, and
the shell does exactly what the decision says: it starts the mint in the task group it owns,
under ``mint_timeout``; it parks callers on one shared event per attempt and wakes them all with
the resolution; and it sleeps in one timer task whose cancel-scope deadline is always the
core's ``wake_at`` (moved whenever a step changes it), so it never polls.

The hot path, ``await provider.token()`` on a fresh token, reads the loop's clock, compares it
with the core's ``state.quiet_until`` (kept beside the state, and -inf while the latest attempt
has failed, so that those callers are counted) and returns ``state.serve.token``: no checkpoint,
no lock, no event object built. That is the same decision ``step()`` takes for a ``Demand`` (the
core's tests check the two paths agree); anything else goes through ``step()``.

What the application hands us is fenced off from what we run: an exception from the body of
``async with`` leaves it as itself (never in our task group's ``ExceptionGroup``); the background
tasks catch and log their own failures, so they cannot cancel the body; a hook that raises is
logged and ignored; a mint's exception is never kept (``_mint_errors``). The provider belongs to
the event loop that opened it, and opening it again (in any loop) starts afresh, because the
loop clock its state was written in is gone.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, final
from weakref import WeakSet

import anyio
import attrs
import sniffio
from returns.result import Failure, Result, Success

from mintgate.policy import (
    CredentialError,
    Demand,
    ErrorKind,
    Event,
    Invalidate,
    MintFailed,
    MintStart,
    MintSucceeded,
    NoticeKind,
    PolicyState,
    RefreshConfig,
    Reject,
    Serve,
    Step,
    Tick,
    Token,
    margins,
    step,
)
from mintgate.shell._clock import Clock, unix_time
from mintgate.shell._committed import CommittedSections
from mintgate.shell._committed import enter as enter_sections
from mintgate.shell._hooks import CredentialInfo, FencedHook, Hook, LoggingHook, MintHook
from mintgate.shell._mint_errors import declared_secrets, describe, detached
from mintgate.shell._telemetry import (
    BreakerState,
    Counters,
    ProviderStatistics,
    log,
    log_traceback,
)

__all__ = ["MintFunction", "Minted", "RefreshingProvider"]

V = TypeVar("V")


def _expiry(value: float | datetime | None) -> float | None:
    return None if value is None else unix_time("Minted.expires_at", value)


def _issue(value: float | datetime | None) -> float | None:
    return None if value is None else unix_time("Minted.issued_at", value)


@final
@attrs.frozen
class Minted(Generic[V]):
    """What a mint function returns, and a known token a provider is opened with.

    Args:
        value: The credential (hidden from ``repr``).
        expires_in: Lifetime in seconds, counted from when the mint started.
        expires_at: Absolute expiry, wall-clock: a Unix time or a timezone-aware ``datetime``
            (for example AWS's ``Expiration``). Give at most one of the two; neither means it
            never expires.
        issued_at: When the token was issued, wall-clock, if the mint knows it was earlier than
            this attempt (a token from a shared cache, a JWT's ``iat``); it sets the lifetime
            the refresh point is drawn from.
    """

    value: V = attrs.field(repr=False)
    expires_in: float | None = None
    expires_at: float | None = attrs.field(default=None, converter=_expiry)
    issued_at: float | None = attrs.field(default=None, converter=_issue)

    def __attrs_post_init__(self) -> None:
        if self.expires_in is not None and self.expires_at is not None:
            raise ValueError("Minted takes expires_in or expires_at, not both")
        value = self.expires_in
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (number and math.isfinite(value)):
            raise ValueError(f"Minted.expires_in must be a finite number of seconds, got {value!r}")


MintFunction = Callable[[], Awaitable[Minted[V]]]
"""``async def mint() -> Minted``. It may also offer ``secrets() -> Iterable[str]`` (a method, or
an attribute of the function): those strings are scrubbed from every message built from what it
raises."""


class _Flight(Generic[V]):
    """One mint in flight: the callers parked on it, what they get when it ends (None: the
    credential was replaced, ask again), and the scope that abandons it."""

    __slots__ = ("attempt", "done", "result", "scope")

    def __init__(self, attempt: int) -> None:
        self.attempt = attempt
        self.done = anyio.Event()
        self.result: Serve[V] | Reject | None = None
        self.scope = anyio.CancelScope()


class _Subscription(Generic[V]):
    """Latest-value delivery of installed tokens: a slow reader skips to the newest."""

    def __init__(self) -> None:
        self._latest: Token[V] | None = None
        self._ready = anyio.Event()
        self._closed = False

    def offer(self, token: Token[V] | None) -> None:
        if token is None:
            self._closed = True
        else:
            self._latest = token
        self._ready.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Token[V]:
        while self._latest is None:
            if self._closed:
                raise StopAsyncIteration
            await self._ready.wait()
            self._ready = anyio.Event()
        token, self._latest = self._latest, None
        return token


_LOGGING = LoggingHook()


def _not_open() -> float:
    raise RuntimeError("use RefreshingProvider inside 'async with' (it owns background work)")


def _current_loop() -> object | None:
    """What identifies the running event loop (trio's run token, the asyncio loop), or None."""
    try:
        library = sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
    if library == "trio":
        token: object = _trio().lowlevel.current_trio_token()
        return token
    if library == "asyncio":
        return asyncio.get_running_loop()
    return library


def _trio() -> Any:
    """trio, which a trio program has imported already: the shell never imports it itself, so
    an asyncio program does not load it."""
    return sys.modules["trio"]


def _fresh_state(previous: PolicyState[V]) -> PolicyState[V]:
    """``PolicyState.initial()``, but generations go on from the previous state's: a token
    handed out before can then never invalidate one minted after (the core ignores an older
    generation)."""
    return PolicyState(generation=previous.generation)


def _loop_clock() -> tuple[Callable[[], float], float]:
    """The running loop's clock, the one anyio's deadlines use, as ``raw() + offset``.

    ``anyio.current_time()`` looks the backend up on every call, and even the loops' own
    functions wrap a C clock in Python calls; the hot path cannot afford either. When the loop
    runs on its standard clock (trio's ``SystemClock``: ``offset + perf_counter()``; asyncio's
    ``BaseEventLoop.time``: ``monotonic()``), the C function is used directly with the same
    offset, so the reading is identical. Any other clock (trio's ``MockClock``, uvloop) is
    called as the loop defines it.
    """
    library = sniffio.current_async_library()
    if library == "trio":
        trio = _trio()
        clock = trio.lowlevel.current_clock()
        if type(clock).__name__ == "SystemClock" and type(clock).__module__.startswith("trio"):
            return time.perf_counter, float(clock.offset)
        return trio.current_time, 0.0
    if library == "asyncio":
        loop = asyncio.get_running_loop()
        if type(loop).time is asyncio.BaseEventLoop.time:
            return time.monotonic, 0.0
        return loop.time, 0.0
    return anyio.current_time, 0.0


@final
class RefreshingProvider(Generic[V]):
    """Keeps one credential fresh in the background and hands it out fast.

    Use it as an async context manager; it owns its background work, and leaving the block
    cancels the timer and any mint in flight::

        async with RefreshingProvider(mint, name="billing-api") as provider:
            token = await provider.token()

    A provider belongs to the event loop that opened it: using it from another loop (another
    thread) raises ``RuntimeError``. Closed, it can be opened again, in the same loop or a new
    one; it then starts afresh (no token, breaker closed, counters at zero).

    Args:
        mint: ``async def mint() -> Minted``. It may raise ``CredentialError``; anything else it
            raises is a retryable ``UNKNOWN`` error (``TIMEOUT`` for a ``TimeoutError``) whose
            message names the exception's type and its message, cut to 200 characters and
            scrubbed of the secrets the mint declares (an optional ``secrets()``).
        config: The refresh policy.
        name: The credential's name in notices, logs and statistics.
        hooks: Receive every notice of the core (``notice(credential, notice)``) and may wrap
            each mint call (``mint(credential, attempt)``, an async context manager). Whatever a
            hook raises is logged once per hook and kind of call, and ignored.
        rng: Where jitter draws come from (inject a seeded ``random.Random`` in tests).
        clock: The wall clock beside the loop's, and the one place that converts between them
            (an absolute ``Minted.expires_at`` or ``issued_at``, a known token).
        known: A token persisted or shared (another process minted it), installed through the
            core when the provider opens, without calling the mint, if it is still usable; it
            is then refreshed by the usual rules. Its ``expires_at`` and ``issued_at`` are
            wall-clock.
    """

    def __init__(
        self,
        mint: MintFunction[V],
        *,
        config: RefreshConfig | None = None,
        name: str = "credential",
        hooks: Iterable[Hook | MintHook] = (),
        rng: random.Random | None = None,
        clock: Clock | None = None,
        known: Minted[V] | None = None,
    ) -> None:
        self._mint = mint
        self.config = RefreshConfig() if config is None else config
        self.name = name
        self.info = CredentialInfo(name)
        fenced = [FencedHook(hook) for hook in hooks]
        self._user_hooks = tuple(hook for hook in fenced if hook.receives_notices)
        self._mint_hooks = tuple(hook for hook in fenced if hook.wraps_mints)
        self._rng = random.Random() if rng is None else rng
        self.clock = Clock() if clock is None else clock
        self._known = known
        self._state: PolicyState[V] = PolicyState.initial()
        self._raw_clock: Callable[[], float] = _not_open
        self._clock_offset = 0.0
        self._task_group: anyio.abc.TaskGroup | None = None
        self._loop: object | None = None
        self._epoch = 0  # a mint's result is installed only in the epoch it was started in
        self._timer: anyio.CancelScope | None = None
        self._flight: _Flight[V] | None = None
        self._subscriptions: WeakSet[_Subscription[V]] = WeakSet()
        self._counts = Counters(self.clock.wall)
        self._hooks: tuple[Hook, ...] = (_LOGGING, self._counts, *self._user_hooks)
        self._waiting = 0
        self._sections: CommittedSections  # one per opening, in the task group it opens
        # The hot path's bound: the core's quiet_until, except after a failed attempt, when
        # every caller goes through step() so that the cache's absorbed failures are counted.
        self._quiet_until = -math.inf

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        loop = _current_loop()
        if self._task_group is not None:
            if loop is not self._loop:
                raise RuntimeError(
                    f"RefreshingProvider {self.name!r} is open in another event loop; "
                    "a provider serves only the loop that opened it (open one per loop)"
                )
            raise RuntimeError("this RefreshingProvider is already open")
        # Whatever the state held was written in the clock of a loop that is gone (trio starts
        # each run's clock at a random offset): start afresh rather than trust it.
        self._state = _fresh_state(self._state)
        self._epoch += 1
        self._counts = Counters(self.clock.wall)
        self._hooks = (_LOGGING, self._counts, *self._user_hooks)
        self._quiet_until = -math.inf
        self._raw_clock, self._clock_offset = _loop_clock()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group, self._loop = task_group, loop
        self._sections = CommittedSections(self.name, task_group)
        task_group.start_soon(self._run_timer)
        if self._known is not None:
            self._adopt(self._known)
        return self

    def _adopt(self, known: Minted[V]) -> None:
        """Install a known token through the core (``Demand``, ``start_mint``, then
        ``MintSucceeded`` with its ``issued_at``) without calling the mint; a token no longer
        usable (by the margins of its own lifetime) is left out, and the first caller mints."""
        now = self._clock()
        event = self._mint_event(known, 0, now)
        assert isinstance(event, MintSucceeded)
        if event.expires_at is not None:
            issued = now if event.issued_at is None else min(event.issued_at, now)
            skew = margins(self.config, event.expires_at - issued)[0]
            if now >= event.expires_at - skew:
                log.info(
                    "%s: the known token is no longer usable; the first caller mints", self.name
                )
                return
        first = step(self.config, self._state, Demand(now))
        assert first.start_mint is not None, "a fresh state starts a mint on the first Demand"
        self._state = first.state  # the attempt the known token answers; no mint is called
        self._quiet_until = -math.inf
        self._apply(attrs.evolve(event, attempt=first.start_mint.attempt))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task_group = self._task_group
        assert task_group is not None
        # Our tasks never fail (each catches and logs its own errors), so nothing but this
        # exit cancels our scope, and the body's exception is never ours. The task group is
        # left as if the body had ended well, so it cannot wrap the body's exception in an
        # ExceptionGroup; the body's exception then leaves the block as itself.
        ours = task_group.cancel_scope.cancel_called
        task_group.cancel_scope.cancel()
        try:
            if exc is None or ours:  # nothing to protect, or a cancellation of our own making
                return await task_group.__aexit__(exc_type, exc, tb)
            try:
                await task_group.__aexit__(None, None, None)
            except BaseException as background:  # the body's exception wins
                if not isinstance(background, anyio.get_cancelled_exc_class()):
                    log.error(
                        "%s: a background task failed (%s) while the body raised %s; the "
                        "body's exception is raised",
                        self.name,
                        type(background).__name__,
                        type(exc).__name__,
                    )
                    log_traceback(self.name, "the background task's failure", background)
            return False
        finally:
            self._close()

    def _close(self) -> None:
        self._timer = None
        in_flight = self._state.in_flight
        if in_flight is not None:
            # The shutdown cancelled this mint: tell the core, which resolves its waiters (with
            # the token if one is still usable) and no longer counts a mint in flight.
            error = CredentialError(
                kind=ErrorKind.UNAVAILABLE, message="the mint was cancelled: the provider closed"
            )
            try:
                self._apply(MintFailed(self._clock(), in_flight.attempt, error, self._rng.random()))
            except Exception as bug:  # closing must not replace the body's exception
                _log_internal(self.name, "closing", bug)
        for subscription in list(self._subscriptions):
            subscription.offer(None)
        self._raw_clock, self._clock_offset = _not_open, 0.0
        self._task_group, self._loop = None, None

    def _check_loop(self) -> None:
        """Refuse a call from another event loop than the one that opened the provider."""
        if self._loop is not None and _current_loop() is not self._loop:
            raise RuntimeError(
                f"RefreshingProvider {self.name!r} was opened in another event loop; a provider "
                "is not thread-safe and serves only the loop that opened it (open one per loop)"
            )

    # -- the public surface ------------------------------------------------------------------

    async def token(self) -> Token[V]:
        """A usable token: at once while one is fresh, else after the mint in flight.

        Raises:
            CredentialError: No usable token and none can be had now (see its ``kind`` and
                ``retry_after``).
            RuntimeError: The provider is not open.
        """
        state = self._state
        if self._raw_clock() + self._clock_offset < self._quiet_until:
            return state.serve.token  # type: ignore[union-attr]  # quiet_until > -inf: serve is set
        return await self._token_slow()

    async def token_result(self) -> Result[Token[V], CredentialError]:
        """Like :meth:`token`, with the error as a ``Failure`` instead of an exception."""
        try:
            return Success(await self.token())
        except CredentialError as error:
            return Failure(error.with_traceback(None))

    @property
    def forced_min_interval(self) -> float:
        """``config.forced_min_interval``: invalidations within it force no second mint."""
        return self.config.forced_min_interval

    def current(self) -> Token[V] | None:
        """The usable token now, or None; never waits and never starts a mint."""
        state = self._state  # usable_until is -inf without a usable token
        return state.token if self._raw_clock() + self._clock_offset < state.usable_until else None

    async def invalidate(self, token: Token[V]) -> None:
        """Report that downstream rejected ``token`` (a 401): its generation is never served
        again and one forced mint replaces it, however many callers report it."""
        self._check_loop()
        self._apply(Invalidate(self._clock(), token.generation))

    def replace(self, mint: MintFunction[V] | None = None) -> None:
        """Start afresh with new credentials: the way back from a dead credential.

        The state goes back to ``PolicyState.initial()`` (generations go on growing): no token,
        breaker closed, no backoff. A mint in flight is cancelled and whatever it still returns
        is dropped; callers parked on it wait for the new credential's first mint instead.

        Args:
            mint: The new mint; None keeps the current one (whose credentials were fixed in
                place, for instance a secret rotated in the store it reads).
        """
        self._check_loop()
        if mint is not None:
            self._mint = mint
        self._epoch += 1
        self._state, self._quiet_until = _fresh_state(self._state), -math.inf
        flight, self._flight = self._flight, None
        log.info("%s: replaced; starting afresh", self.name)
        self._set_timer(self._state.wake_at)
        if flight is not None:
            flight.scope.cancel()
            flight.result = None  # its waiters ask the new credential
            flight.done.set()

    def subscribe(self) -> AsyncIterator[Token[V]]:
        """Newly installed tokens, newest first-come: a slow reader skips to the latest one.

        The iterator ends when the provider closes. It holds nothing once dropped.
        """
        self._check_loop()
        subscription: _Subscription[V] = _Subscription()
        self._subscriptions.add(subscription)
        return subscription

    def statistics(self) -> ProviderStatistics:
        """A frozen snapshot of the provider's state and counters; instants are wall-clock."""
        state = self._state
        now = self._clock() if self._task_group is not None else None
        token = state.token
        expiry = wake = None
        if token is not None and token.expires_at is not None and now is not None:
            expiry = token.expires_at - now
        if state.wake_at is not None and now is not None:
            wake = self.clock.to_wall(max(state.wake_at, now), now=now)
        breaker = BreakerState.CLOSED
        if state.breaker_open_until is not None:
            half_open = now is not None and now >= state.breaker_open_until
            breaker = BreakerState.HALF_OPEN if half_open else BreakerState.OPEN
        return ProviderStatistics(
            name=self.name,
            generation=state.generation,
            seconds_to_expiry=expiry,
            breaker=breaker,
            consecutive_failures=state.failures,
            dead=state.dead is not None,
            suspended=state.suspended is not None,
            callers_waiting=self._waiting,
            attempt_in_flight=None if state.in_flight is None else state.in_flight.attempt,
            next_wake_up=wake,
            last_error=self._counts.last_error,
            last_success=self._counts.last_success,
            mints_started=self._counts.started,
            mints_succeeded=self._counts.succeeded,
            mints_failed=self._counts.failed,
            served_after_failure=self._counts.served_after_failure,
            served_past_expiry=self._counts.served_past_expiry,
        )

    # -- the shell's work --------------------------------------------------------------------

    def _clock(self) -> float:
        """The loop's time, on the clock the core's events and anyio's deadlines use."""
        return self._raw_clock() + self._clock_offset

    async def _token_slow(self) -> Token[V]:
        self._check_loop()
        while True:
            result = self._apply(Demand(self._clock()))
            reply = result.reply
            if isinstance(reply, Serve):
                if result.state.last_error is not None:
                    self._counts.served_after_failure += 1
                return reply.token
            if isinstance(reply, Reject):
                raise _fresh_copy(reply.error)
            flight = self._flight
            assert flight is not None, "the core said wait, so a mint is in flight"
            self._waiting += 1
            try:
                await flight.done.wait()
            finally:
                self._waiting -= 1
            resolved = flight.result
            if isinstance(resolved, Serve):
                if self._state.last_error is not None and self._state.token is resolved.token:
                    self._counts.served_after_failure += 1  # the cached token, after the failure
                return resolved.token
            if resolved is not None:
                raise _fresh_copy(resolved.error)
            # None: the credential was replaced while we waited; ask the new one.

    def _apply(self, event: Event[V]) -> Step[V]:
        """Feed one event to the core and carry out the decision."""
        result = step(self.config, self._state, event)
        state = self._state = result.state
        self._quiet_until = state.quiet_until if state.last_error is None else -math.inf
        installed = False
        info = self.info
        for notice in result.notices:
            if notice.kind is NoticeKind.MINT_SUCCEEDED:
                installed = True
            for hook in self._hooks:
                hook.notice(info, notice)
        if result.resolve is not None:
            self._resolve(result.resolve, installed=installed)
        if result.start_mint is not None:
            self._start(result.start_mint, event.now)
        self._set_timer(result.wake_at)
        return result

    def _set_timer(self, wake_at: float | None) -> None:
        timer = self._timer
        if timer is not None:
            deadline = math.inf if wake_at is None else wake_at
            if timer.deadline != deadline:  # setting it re-registers the deadline with the loop
                timer.deadline = deadline

    def _resolve(self, resolution: Serve[V] | Reject, *, installed: bool) -> None:
        flight, self._flight = self._flight, None
        if installed and isinstance(resolution, Serve):  # a new token, not a stale one served
            for subscription in list(self._subscriptions):
                subscription.offer(resolution.token)
        if flight is not None:
            flight.result = resolution
            flight.done.set()

    def _start(self, start: MintStart, now: float) -> None:
        assert self._task_group is not None
        flight: _Flight[V] = _Flight(start.attempt)
        self._flight = flight
        self._task_group.start_soon(self._run_mint, flight, now)

    async def _run_mint(self, flight: _Flight[V], started: float) -> None:
        epoch, mint, attempt = self._epoch, self._mint, flight.attempt
        outcome: Minted[V] | CredentialError | None = None
        with flight.scope:  # replace() cancels it; closing cancels the whole task group
            outcome = await self._call_mint(mint, attempt)
        if outcome is None or epoch != self._epoch:
            return  # abandoned by replace(): whatever it brought belongs to old credentials
        try:
            self._apply(self._mint_event(outcome, attempt, started))
        except Exception as bug:  # never let our own bug tear down the user's block
            _log_internal(self.name, "applying a mint's outcome", bug)

    async def _call_mint(self, mint: MintFunction[V], attempt: int) -> Minted[V] | CredentialError:
        """Run the mint under ``mint_timeout``: what it returned, or why it failed."""
        secrets: tuple[str, ...] = ()
        try:
            with anyio.move_on_after(self.config.mint_timeout) as limit:
                # The previous attempt's committed section, if still running, persists what
                # this attempt must use (a rotated refresh token): wait for it.
                await self._sections.settled()
                # committed() finds the sections here; each mint runs in a task of its own, so
                # the setting ends with it.
                enter_sections(self._sections)
                pending = mint()
                if not inspect.isawaitable(pending):
                    return CredentialError(
                        kind=ErrorKind.UNKNOWN,
                        message=(
                            f"the mint is not async: calling it returned "
                            f"{type(pending).__name__}, not an awaitable (define it with "
                            "'async def')"
                        ),
                    )
                async with AsyncExitStack() as wrapped:  # the mint hooks (spans) around it
                    for hook in self._mint_hooks:
                        await wrapped.enter_async_context(hook.mint(self.info, attempt))
                    minted = await pending
            if limit.cancelled_caught:
                return CredentialError(
                    kind=ErrorKind.TIMEOUT,
                    message=(
                        f"the provider cut the mint off at mint_timeout="
                        f"{self.config.mint_timeout:g} s"
                    ),
                )
        except CredentialError as raised:
            secrets = self._secrets(mint)
            log_traceback(self.name, f"attempt {attempt}: the mint raised", raised, secrets)
            return detached(raised)  # the original's traceback holds the mint's locals
        except anyio.get_cancelled_exc_class() as raised:
            if anyio.current_effective_deadline() == -math.inf:
                raise  # ours: replace() or closing; the scope that cancelled us absorbs it
            # A cancellation no scope of ours asked for (asyncio code can raise one at will):
            # a failed mint, not a reason to cancel the user's block.
            secrets = self._secrets(mint)
            log_traceback(self.name, f"attempt {attempt}: the mint raised", raised, secrets)
            return describe(raised, secrets)
        except Exception as raised:
            secrets = self._secrets(mint)
            log_traceback(self.name, f"attempt {attempt}: the mint raised", raised, secrets)
            return describe(raised, secrets)
        if not isinstance(minted, Minted):
            return CredentialError(
                kind=ErrorKind.UNKNOWN,
                message=f"the mint returned {type(minted).__name__}, not Minted",
            )
        return minted

    def _secrets(self, mint: object) -> tuple[str, ...]:
        token = self._state.token
        return declared_secrets(mint, () if token is None else (token.value,))

    def _mint_event(
        self, outcome: Minted[V] | CredentialError, attempt: int, started: float
    ) -> MintFailed | MintSucceeded[V]:
        now = self._clock()
        if isinstance(outcome, CredentialError):
            return MintFailed(now, attempt, outcome, self._rng.random())
        expires_at: float | None = None
        if outcome.expires_in is not None:
            expires_at = started + outcome.expires_in
        elif outcome.expires_at is not None:
            expires_at = self.clock.to_loop(outcome.expires_at, now=now)
        issued_at = None
        if outcome.issued_at is not None:
            issued_at = self.clock.to_loop(outcome.issued_at, now=now)
        draw = self._rng.random()
        return MintSucceeded(now, attempt, outcome.value, expires_at, draw, issued_at)

    async def _run_timer(self) -> None:
        while True:
            wake = self._state.wake_at
            with anyio.CancelScope(deadline=math.inf if wake is None else wake) as scope:
                self._timer = scope
                await anyio.sleep_forever()
            self._timer = None
            if self._clock() >= scope.deadline:
                try:
                    self._apply(Tick(self._clock()))
                except Exception as bug:  # the timer must outlive our own bug...
                    _log_internal(self.name, "a wake-up", bug)
                    await anyio.sleep(1.0)  # ...without spinning on a wake-up that keeps failing


def _log_internal(credential: str, doing: str, bug: Exception) -> None:
    log.error(
        "%s: internal error in %s (%s); the provider goes on. Please report this bug.",
        credential,
        doing,
        type(bug).__name__,
    )
    log_traceback(credential, f"the traceback of the internal error in {doing}", bug)


def _fresh_copy(error: CredentialError) -> CredentialError:
    """Each caller raises its own instance: one shared exception would collect every caller's
    traceback."""
    return error.with_retry_after(error.retry_after)
