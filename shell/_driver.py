"""One credential's runtime: its state, applying a step, parked callers, subscriptions, stats.

A driver holds everything that belongs to one credential and nothing that belongs to the event
loop: it never owns a task or a timer. Its host (``_host.Host``) owns those for many drivers at
once (one task group, one timer over a heap of wake times, the mint tasks), so a credential
costs a few hundred bytes, not a task and a cancel scope. ``RefreshingProvider`` is a driver
with a host of its own; ``Host.add`` gives the drivers of a host with many.

The core decides, the driver acts. Every event goes through :func:`mintgate.policy.step`, and
the driver does exactly what the decision says: it asks its host to run the mint under
``mint_timeout``; it parks callers on one shared event per attempt and wakes them all with the
resolution; it tells its host its next wake time, which the host's timer turns into a ``Tick``.

The hot path, ``await driver.token()`` on a fresh token, reads the loop's clock, compares it
with the core's ``state.quiet_until`` (kept beside the state, and -inf while the latest attempt
has failed, so that those callers are counted) and returns ``state.serve.token``: no checkpoint,
no lock, no event object built. That is the same decision ``step()`` takes for a ``Demand`` (the
core's tests check the two paths agree); anything else goes through ``step()``.

What the application hands us is fenced off from what we run: a hook that raises is logged and
ignored; a mint's exception is never kept (``_mint_errors``); a mint's result arrives only in
the epoch it was started in (``replace()``, a reopening or a removal starts a new one).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, ClassVar, Generic, Self, TypeVar, final
from weakref import WeakSet

import anyio
import attrs
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
    Token,
    margins,
    step,
)
from mintgate.shell._clock import Clock
from mintgate.shell._committed import CommittedSections
from mintgate.shell._committed import enter as enter_sections
from mintgate.shell._hooks import CredentialInfo, FencedHook, Hook, LoggingHook, MintHook
from mintgate.shell._loop import current_loop
from mintgate.shell._mint_errors import declared_secrets, describe, detached
from mintgate.shell._minted import Minted, MintFunction
from mintgate.shell._telemetry import (
    BreakerState,
    Counters,
    ProviderStatistics,
    log,
    log_traceback,
)

if TYPE_CHECKING:
    from mintgate.shell._host import Host

__all__ = ["BaseDriver", "Driver", "log_internal"]

V = TypeVar("V")

_DEFAULT_CONFIG = RefreshConfig()  # frozen: one object shared by every driver that takes it
_LOGGING = LoggingHook()


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


def _host_not_open() -> float:
    raise RuntimeError("this Driver's Host is not open: use the driver inside 'async with host'")


def _removed() -> float:
    raise RuntimeError("this Driver was removed from its Host")


def _fresh_state(previous: PolicyState[V]) -> PolicyState[V]:
    """``PolicyState.initial()``, but generations go on from the previous state's: a token
    handed out before can then never invalidate one minted after (the core ignores an older
    generation)."""
    return PolicyState(generation=previous.generation)


class BaseDriver(Generic[V]):
    """What :class:`Driver` and ``RefreshingProvider`` share: one credential's runtime, run by a
    host. Not public: use one of the two."""

    __slots__ = (
        "__weakref__",
        "_clock_offset",
        "_counts",
        "_epoch",
        "_flight",
        "_hooks",
        "_host",
        "_known",
        "_mint",
        "_mint_hooks",
        "_quiet_until",
        "_raw_clock",
        "_running",
        "_sections",
        "_state",
        "_subscriptions",
        "_user_hooks",
        "_waiting",
        "_wake_at",
        "_wake_seq",
        "config",
        "info",
        "name",
    )

    _not_running: ClassVar[Callable[[], float]] = staticmethod(_host_not_open)
    _closed_why: ClassVar[str] = "the host closed"

    def __init__(
        self,
        host: Host,
        mint: MintFunction[V],
        *,
        config: RefreshConfig | None,
        name: str,
        hooks: Iterable[Hook | MintHook],
        known: Minted[V] | None,
    ) -> None:
        self._host = host
        self._mint = mint
        self.config = _DEFAULT_CONFIG if config is None else config
        self.name = name
        self.info = CredentialInfo(name)
        fenced = [FencedHook(hook) for hook in hooks]
        self._user_hooks = tuple(hook for hook in fenced if hook.receives_notices)
        self._mint_hooks = tuple(hook for hook in fenced if hook.wraps_mints)
        self._known = known
        self._state: PolicyState[V] = PolicyState.initial()
        self._raw_clock: Callable[[], float] = type(self)._not_running
        self._clock_offset = 0.0
        self._running = False
        self._epoch = 0  # a mint's result is installed only in the epoch it was started in
        self._flight: _Flight[V] | None = None
        self._subscriptions: WeakSet[_Subscription[V]] | None = None  # made on first subscribe
        self._counts = Counters(host.clock.wall)
        self._hooks: tuple[Hook, ...] = (_LOGGING, self._counts, *self._user_hooks)
        self._waiting = 0
        self._sections: CommittedSections | None = None  # one per opening of the host
        # The hot path's bound: the core's quiet_until, except after a failed attempt, when
        # every caller goes through step() so that the cache's absorbed failures are counted.
        self._quiet_until = -math.inf
        self._wake_at: float | None = None  # the host's heap entry for us: its time and seq
        self._wake_seq = 0

    @property
    def clock(self) -> Clock:
        """The host's clock: the wall clock beside the loop's, and the conversions."""
        return self._host.clock

    # -- the public surface ------------------------------------------------------------------

    async def token(self) -> Token[V]:
        """A usable token: at once while one is fresh, else after the mint in flight.

        Raises:
            CredentialError: No usable token and none can be had now (see its ``kind`` and
                ``retry_after``).
            RuntimeError: Not running (the provider or the host is not open).
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

        The iterator ends when the credential stops running. It holds nothing once dropped.
        """
        self._check_loop()
        subscription: _Subscription[V] = _Subscription()
        if self._subscriptions is None:
            self._subscriptions = WeakSet()
        self._subscriptions.add(subscription)
        return subscription

    def statistics(self) -> ProviderStatistics:
        """A frozen snapshot of the credential's state and counters; instants are wall-clock."""
        state = self._state
        now = self._clock() if self._running else None
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

    # -- what the host calls -----------------------------------------------------------------

    def _attach(self) -> None:
        """The host opened: start afresh on its loop's clock, adopting the known token.

        Whatever the state held was written in the clock of a loop that is gone (trio starts
        each run's clock at a random offset): start afresh rather than trust it.
        """
        host = self._host
        assert host._task_group is not None
        self._state = _fresh_state(self._state)
        self._epoch += 1
        self._counts = Counters(host.clock.wall)
        self._hooks = (_LOGGING, self._counts, *self._user_hooks)
        self._quiet_until = -math.inf
        self._wake_at, self._wake_seq = None, 0
        self._raw_clock, self._clock_offset = host._raw_clock, host._clock_offset
        self._sections = CommittedSections(self.name, host._task_group)
        self._running = True
        if self._known is not None:
            self._adopt(self._known)

    def _detach(self, why: str, *, removed: bool = False) -> None:
        """The host closes, or removes us: end the mint in flight and the subscriptions."""
        in_flight = self._state.in_flight
        if in_flight is not None:
            flight = self._flight
            if flight is not None:
                flight.scope.cancel()
            # Tell the core this mint ended: it resolves its waiters (with the token if one is
            # still usable) and no longer counts a mint in flight.
            error = CredentialError(
                kind=ErrorKind.UNAVAILABLE, message=f"the mint was cancelled: {why}"
            )
            try:
                self._apply(
                    MintFailed(self._clock(), in_flight.attempt, error, self._host.rng.random())
                )
            except Exception as bug:  # closing must not replace the body's exception
                log_internal(self.name, "closing", bug)
        self._epoch += 1  # whatever a mint still brings is dropped
        for subscription in list(self._subscriptions or ()):
            subscription.offer(None)
        self._running = False
        self._sections = None
        self._raw_clock = _removed if removed else type(self)._not_running
        self._clock_offset = 0.0

    # -- the driver's work -------------------------------------------------------------------

    def _check_loop(self) -> None:
        """Refuse a call from another event loop than the one that opened the host."""
        loop = self._host._loop
        if loop is not None and current_loop() is not loop:
            raise RuntimeError(
                f"{type(self).__name__} {self.name!r} was opened in another event loop; it is "
                "not thread-safe and serves only the loop that opened it (open one per loop)"
            )

    def _clock(self) -> float:
        """The loop's time, on the clock the core's events and anyio's deadlines use."""
        return self._raw_clock() + self._clock_offset

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
        if wake_at != self._wake_at:
            self._host._schedule(self, wake_at)

    def _resolve(self, resolution: Serve[V] | Reject, *, installed: bool) -> None:
        flight, self._flight = self._flight, None
        if installed and isinstance(resolution, Serve) and self._subscriptions:
            for subscription in list(self._subscriptions):  # a new token, not a stale one served
                subscription.offer(resolution.token)
        if flight is not None:
            flight.result = resolution
            flight.done.set()

    def _start(self, start: MintStart, now: float) -> None:
        group = self._host._task_group
        assert group is not None
        flight: _Flight[V] = _Flight(start.attempt)
        self._flight = flight
        group.start_soon(self._run_mint, flight, now)

    async def _run_mint(self, flight: _Flight[V], started: float) -> None:
        epoch, mint, attempt = self._epoch, self._mint, flight.attempt
        outcome: Minted[V] | CredentialError | None = None
        with flight.scope:  # replace() cancels it; closing cancels the whole task group
            outcome = await self._call_mint(mint, attempt)
        if outcome is None or epoch != self._epoch:
            return  # abandoned: whatever it brought belongs to old credentials or a closed host
        try:
            self._apply(self._mint_event(outcome, attempt, started))
        except Exception as bug:  # never let our own bug tear down the user's block
            log_internal(self.name, "applying a mint's outcome", bug)

    async def _call_mint(self, mint: MintFunction[V], attempt: int) -> Minted[V] | CredentialError:
        """Run the mint under ``mint_timeout``: what it returned, or why it failed."""
        secrets: tuple[str, ...] = ()
        sections = self._sections
        assert sections is not None, "a mint runs only while its host is open"
        try:
            with anyio.move_on_after(self.config.mint_timeout) as limit:
                # The previous attempt's committed section, if still running, persists what
                # this attempt must use (a rotated refresh token): wait for it.
                await sections.settled()
                # committed() finds the sections here; each mint runs in a task of its own, so
                # the setting ends with it.
                enter_sections(sections)
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
                raise  # ours (replace, a removal, closing): the scope that cancelled us absorbs it
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
        draw = self._host.rng.random()
        if isinstance(outcome, CredentialError):
            return MintFailed(now, attempt, outcome, draw)
        expires_at: float | None = None
        clock = self._host.clock
        if outcome.expires_in is not None:
            expires_at = started + outcome.expires_in
        elif outcome.expires_at is not None:
            expires_at = clock.to_loop(outcome.expires_at, now=now)
        issued_at = None
        if outcome.issued_at is not None:
            issued_at = clock.to_loop(outcome.issued_at, now=now)
        return MintSucceeded(now, attempt, outcome.value, expires_at, draw, issued_at)


@final
class Driver(BaseDriver[V]):
    """One credential run by a :class:`~mintgate.shell.Host`, which made it (``host.add``).

    It is a ``TokenSource`` with the provider's surface: ``token()``, ``token_result()``,
    ``current()``, ``invalidate()``, ``replace()``, ``subscribe()``, ``statistics()``. It runs
    while its host is open, and starts afresh each time the host opens again.
    """

    __slots__ = ()


def log_internal(credential: str, doing: str, bug: Exception) -> None:
    """Log a bug of ours at ERROR, with its traceback at DEBUG; the caller goes on."""
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
