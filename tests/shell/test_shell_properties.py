"""Random workloads against the real shell in virtual time, checked from outside.

Hypothesis draws a configuration, a fake mint's behaviour per call (latency, lifetime, failure
kind, hang) and a script of callers, pauses and 401s. Everything runs under trio with a
MockClock, so hours pass in milliseconds. The checks use only what a user can see:

- the mint is never entered twice at once (single flight);
- a served token is usable: never at or past ``expires_at - skew`` without stale grace (the
  skew of its own lifetime), never past ``expires_at + stale_grace`` with it;
- no caller gets an error while the newest token it has seen is still fresh and was not
  reported with a 401;
- every parked caller is answered within ``mint_timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import trio
import trio.testing
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mintgate.policy import CredentialError, ErrorKind, RefreshConfig, Token
from mintgate.shell import Minted, RefreshingProvider
from mintgate.shell.strategies import configs

ERRORS = [
    ErrorKind.UNAVAILABLE,
    ErrorKind.TIMEOUT,
    ErrorKind.RATE_LIMITED,
    ErrorKind.UNKNOWN,
    ErrorKind.REAUTH_REQUIRED,
]


@dataclass(frozen=True)
class Behaviour:
    latency: float
    lifetime: float | None
    error: ErrorKind | None
    retry_after: float | None
    hang: bool


behaviours = st.builds(
    Behaviour,
    latency=st.sampled_from([0.0, 0.01, 0.5, 3.0, 20.0]),
    lifetime=st.one_of(st.none(), st.sampled_from([5.0, 40.0, 120.0, 600.0, 3600.0])),
    error=st.one_of(st.none(), st.none(), st.sampled_from(ERRORS)),
    retry_after=st.one_of(st.none(), st.sampled_from([1.0, 30.0])),
    hang=st.sampled_from([False, False, False, True]),
)

actions = st.one_of(
    st.tuples(st.just("callers"), st.integers(min_value=1, max_value=20)),
    st.tuples(st.just("sleep"), st.sampled_from([0.1, 1.0, 10.0, 60.0, 600.0])),
    st.tuples(st.just("invalidate"), st.integers(min_value=1, max_value=5)),
    # Pauses rarely land where the rules change: aim callers at the newest token's end.
    st.tuples(st.just("edge"), st.sampled_from([-0.5, 0.0, 0.5, 5.0])),
)


def skew(config: RefreshConfig, token: Token[str]) -> float:
    """The token's effective skew: the margin shrinks with short lifetimes (0.1 of it at most)."""
    assert token.expires_at is not None
    return min(config.skew, 0.1 * max(token.expires_at - token.issued_at, 0.0))


@dataclass
class Watch:
    config: RefreshConfig
    behaviours: list[Behaviour]
    calls: int = 0
    in_mint: int = 0
    newest: Token[str] | None = None
    invalidated: dict[int, int] = field(default_factory=dict)  # generation -> 401 number
    reports: int = 0  # 401s reported so far
    pending: int = 0
    problems: list[str] = field(default_factory=list)

    async def mint(self) -> Minted[str]:
        behaviour = self.behaviours[self.calls % len(self.behaviours)]
        self.calls += 1
        self.in_mint += 1
        try:
            if self.in_mint > 1:
                self.problems.append(f"{self.in_mint} mints in flight at {anyio.current_time()}")
            if behaviour.hang:
                await anyio.sleep_forever()
            await anyio.sleep(behaviour.latency)
            if behaviour.error is not None:
                raise CredentialError(
                    kind=behaviour.error, message="fake issuer", retry_after=behaviour.retry_after
                )
            return Minted(f"token-{self.calls}", expires_in=behaviour.lifetime)
        finally:
            self.in_mint -= 1

    def served(self, token: Token[str], asked_after: int) -> None:
        """``asked_after``: how many 401s had been reported when the caller asked."""
        now = anyio.current_time()
        if token.expires_at is not None:
            end = token.expires_at - skew(self.config, token)
            if self.config.stale_grace:
                end = token.expires_at + self.config.stale_grace
            if now >= end:
                self.problems.append(f"served generation {token.generation} at {now}, after {end}")
        reported = self.invalidated.get(token.generation)
        if reported is not None and reported <= asked_after:
            self.problems.append(f"served generation {token.generation} after its 401")
        if self.newest is None or token.generation > self.newest.generation:
            self.newest = token

    def refused(self, error: CredentialError, current_generation: int) -> None:
        token, now = self.newest, anyio.current_time()
        if token is None or token.generation in self.invalidated:
            return
        if token.generation != current_generation:
            return  # a newer token we have not seen replaced it; it may be shorter-lived
        fresh = token.expires_at is None or now < token.expires_at - skew(self.config, token)
        if fresh:
            self.problems.append(
                f"error {error} at {now} while generation {token.generation} is fresh"
            )


async def _drive(watch: Watch, script: list[tuple[str, int | float]]) -> None:
    async with RefreshingProvider(watch.mint, config=watch.config) as provider:

        async def caller() -> Token[str] | None:
            watch.pending += 1
            asked_after = watch.reports
            try:
                token = await provider.token()
            except CredentialError as error:
                watch.refused(error, provider.statistics().generation)
                return None
            else:
                watch.served(token, asked_after)
                return token
            finally:
                watch.pending -= 1

        async with anyio.create_task_group() as tg:
            for action, amount in script:
                if action == "callers":
                    for _ in range(int(amount)):
                        tg.start_soon(caller)
                    await anyio.sleep(0)
                elif action == "sleep":
                    await anyio.sleep(float(amount))
                elif action == "edge":
                    token = None  # one more caller, then aim at its token's end
                    with anyio.move_on_after(watch.config.mint_timeout + 1) as bounded:
                        token = await caller()
                    if bounded.cancelled_caught:
                        watch.problems.append("a caller was not answered within mint_timeout")
                        break
                    if token is not None and token.expires_at is not None:
                        edge = token.expires_at - skew(watch.config, token) + float(amount)
                        await anyio.sleep_until(max(edge, anyio.current_time()))
                        for _ in range(3):
                            tg.start_soon(caller)
                        await anyio.sleep(0)
                elif watch.newest is not None:
                    watch.reports += 1
                    watch.invalidated.setdefault(watch.newest.generation, watch.reports)
                    for _ in range(int(amount)):
                        await provider.invalidate(watch.newest)
            await anyio.sleep(watch.config.mint_timeout + 1)
            if watch.pending:  # every parked caller is answered within mint_timeout
                watch.problems.append(f"{watch.pending} callers still parked at the end")
            tg.cancel_scope.cancel()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(  # a dead credential's token, asked for just past expires_at - skew
    config=RefreshConfig(),
    behaviour_list=[
        Behaviour(0.0, 100.0, None, None, hang=False),
        Behaviour(0.0, 100.0, ErrorKind.REAUTH_REQUIRED, None, hang=False),
    ],
    script=[("callers", 1), ("edge", 0.5)],
)
@given(
    config=configs(),
    behaviour_list=st.lists(behaviours, min_size=1, max_size=8),
    script=st.lists(actions, min_size=1, max_size=25),
)
def test_the_shell_keeps_the_contract_under_random_workloads(
    config: RefreshConfig,
    behaviour_list: list[Behaviour],
    script: list[tuple[str, int | float]],
) -> None:
    watch = Watch(config, behaviour_list)
    trio.run(_drive, watch, script, clock=trio.testing.MockClock(autojump_threshold=0))
    assert watch.problems == []
