"""What does a credential cost on a host? Memory per idle credential, and the timer's work.

Figures, each beside a baseline measured in the same run:

- **memory**: 100,000 idle credentials on one ``Host``, each holding a token adopted from a
  known one (tracemalloc, after a collection): bytes per credential, and the same less its
  token (the ``Token`` object, its two floats and its value, measured by building as many
  alone). Goal: <= 2 KiB plus the token. Beside it, 1,000 ``RefreshingProvider``\\ s, each with
  a task group and a timer task of its own (the one-credential host).
- **timer**: 10,000 credentials whose refresh points are spread over the first 48 minutes, run
  for 3 hours of virtual time (trio's ``MockClock``, mints that answer at once): CPU time per
  refresh (one wake-up, one mint task, one install) on one host, against the same credentials as
  10,000 providers (one timer task each), and against the floor: the core's own ``step()``
  calls for a refresh (the ``Tick`` that starts it and the ``MintSucceeded`` that ends it),
  timed alone.

Run: ``.venv/bin/python benchmarks/host_scale.py``
"""

from __future__ import annotations

import argparse
import gc
import heapq
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from contextlib import AsyncExitStack

import trio
import trio.testing

from mintgate.policy import Demand, MintSucceeded, PolicyState, RefreshConfig, Tick, Token, step
from mintgate.shell import Clock, Host, Minted, RefreshingProvider
from mintgate.shell._wakeups import Wakeups

WALL = 1_800_000_000.0
LIFETIME = 3600.0


async def _mint() -> Minted[str]:
    return Minted("minted-token-value-of-forty-characters!!", expires_in=LIFETIME)


def _known(value: str, age: float) -> Minted[str]:
    """A token issued ``age`` seconds before the run starts, living an hour."""
    return Minted(value, expires_at=WALL - age + LIFETIME, issued_at=WALL - age)


def _values(count: int) -> list[str]:
    return [f"eyJ-known-token-{i:08d}-padding-to-40-chars"[:40] for i in range(count)]


def _measure(build: Callable[[], object]) -> float:
    """Bytes still allocated after ``build()`` (what it returns is kept alive)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = build()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    del kept
    return float(sum(stat.size_diff for stat in after.compare_to(before, "filename")))


def token_bytes(count: int) -> float:
    """Bytes per token the core holds: a ``Token`` and its two floats (its value is the mint's
    string, held by reference, and counted apart)."""
    values = _values(count)

    def build() -> object:
        return [
            Token(value, expires_at=WALL + float(i), issued_at=WALL - float(i), generation=1)
            for i, value in enumerate(values)
        ]

    return _measure(build) / count


def _tasks() -> int:
    """Tasks in the run's main nursery (trio's), to see that idle credentials start none."""
    root = trio.lowlevel.current_root_task()
    assert root is not None
    return len(root.child_nurseries[0].child_tasks)


def host_bytes(count: int) -> tuple[float, float]:
    """Bytes per idle credential on one host, its token included, and the CPU seconds the host
    spends over ten idle virtual minutes."""
    per: list[float] = []
    idle: list[float] = []

    async def run() -> None:
        clock = Clock(lambda: WALL)
        async with Host(clock=clock, rng=random.Random(1)) as host:
            values = _values(count)
            knowns = [_known(value, 0.0) for value in values]  # the caller's, not the host's

            def build() -> object:
                for known in knowns:
                    host.add(_mint, known=known)
                return None

            per.append(_measure(build) / count)
            # the Minted objects were the caller's; each driver keeps a reference, not a copy
            assert len(host) == count
            tasks = _tasks()
            started = time.process_time()
            await trio.sleep(600.0)  # ten virtual minutes in which no credential is due
            idle.append(time.process_time() - started)
            assert _tasks() == tasks

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
    return per[0], idle[0]


def provider_bytes(count: int) -> float:
    """Bytes per open RefreshingProvider holding a token (a host of its own each)."""
    per: list[float] = []

    async def run() -> None:
        async with AsyncExitStack() as stack:
            knowns = [_known(value, 0.0) for value in _values(count)]
            clock = Clock(lambda: WALL)

            async def build_async() -> None:
                for known in knowns:
                    provider = RefreshingProvider(_mint, known=known, clock=clock)
                    await stack.enter_async_context(provider)
                await trio.sleep(0.01)  # each timer task parks

            gc.collect()
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            await build_async()
            gc.collect()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            diff = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
            per.append(diff / count)

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
    return per[0]


def _spread(count: int, seed: int) -> list[Minted[str]]:
    """Known tokens whose refresh points fall in the run's first 48 minutes."""
    rng = random.Random(seed)
    return [_known(value, rng.uniform(0.0, 2000.0)) for value in _values(count)]


class CountingMint:
    """A mint that answers at once, noting when (seconds into the measured run) it was called."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.origin = 0.0

    async def __call__(self) -> Minted[str]:
        self.calls.append(trio.current_time() - self.origin)
        return Minted("minted-token-value-of-forty-characters!!", expires_in=LIFETIME)


def timer_run(count: int, hours: float, *, one_host: bool) -> tuple[float, list[float]]:
    """CPU seconds, and the instants of the refreshes, for ``count`` credentials over
    ``hours`` of virtual time."""
    mint = CountingMint()
    result: list[float] = []

    async def run() -> None:
        clock = Clock.following_the_loop(WALL)
        knowns = _spread(count, seed=7)
        async with AsyncExitStack() as stack:
            if one_host:
                host = await stack.enter_async_context(Host(clock=clock, rng=random.Random(1)))
                for known in knowns:
                    host.add(mint, known=known)
            else:
                for known in knowns:
                    provider = RefreshingProvider(mint, known=known, clock=clock)
                    await stack.enter_async_context(provider)
            await trio.sleep(1.0)
            mint.origin = trio.current_time()
            started = time.process_time()
            await trio.sleep(hours * 3600.0)
            result.append(time.process_time() - started)

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
    return result[0], mint.calls


def bare_run(instants: list[float], hours: float) -> float:
    """The loop's own share: one task that sleeps until each of the same instants and spawns a
    task that does nothing, as the host's timer wakes and spawns a mint."""
    result: list[float] = []

    async def nothing() -> None:
        pass

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            origin = trio.current_time()
            started = time.process_time()
            for instant in sorted(instants):
                await trio.sleep_until(origin + instant)
                nursery.start_soon(nothing)
            await trio.sleep_until(origin + hours * 3600.0)
            result.append(time.process_time() - started)

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
    return result[0]


def step_floor(repeats: int) -> float:
    """CPU seconds for the core's two steps of one refresh: the Tick that starts it, the
    MintSucceeded that installs its token (on a state holding a token at its refresh point)."""
    config = RefreshConfig()
    first = step(config, PolicyState.initial(), Demand(0.0))
    assert first.start_mint is not None
    held = step(
        config,
        first.state,
        MintSucceeded(0.0, first.start_mint.attempt, "token", LIFETIME, 0.5, None),
    ).state
    due = held.wake_at
    assert due is not None
    tick = Tick(due)
    started = step(config, held, tick)
    assert started.start_mint is not None
    done = MintSucceeded(due, started.start_mint.attempt, "token", due + LIFETIME, 0.5, None)
    begin = time.process_time()
    for _ in range(repeats):
        step(config, step(config, held, tick).state, done)
    return (time.process_time() - begin) / repeats


class _Member:
    __slots__ = ("_wake_at", "_wake_seq")

    def __init__(self) -> None:
        self._wake_at: float | None = None
        self._wake_seq = 0


def heap_cost(count: int, ours: bool) -> float:
    """Seconds per wake-up of the heap alone: ``count`` members, each scheduled twice (its wake
    time moves once, as a refresh moves it) and popped once, against a bare heapq."""
    rng = random.Random(3)
    times = [rng.uniform(0.0, 1000.0) for _ in range(count)]
    members = [_Member() for _ in range(count)]
    begin = time.process_time()
    if ours:
        wakeups: Wakeups[_Member] = Wakeups()
        for member, when in zip(members, times, strict=True):
            wakeups.schedule(member, when + 1000.0)
            wakeups.schedule(member, when)
        popped = len(wakeups.pop_due(1000.0))
    else:
        heap: list[tuple[float, int]] = []
        for i, when in enumerate(times):
            heapq.heappush(heap, (when, i))
        popped = 0
        while heap:
            heapq.heappop(heap)
            popped += 1
    assert popped == count
    return (time.process_time() - begin) / count


def _best(repeats: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeats))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", type=int, default=100_000)
    parser.add_argument("--providers", type=int, default=1_000)
    parser.add_argument("--timed", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, best of {args.repeats} repeats\n")

    token = token_bytes(args.credentials)
    on_host, idle = host_bytes(args.credentials)
    provider = provider_bytes(args.providers)
    print(f"memory, idle credentials holding a token ({args.credentials:,} on one host)")
    print(f"  per credential on a host      {on_host:8.0f} B")
    value = sys.getsizeof(_values(1)[0])
    print(f"  its token (Token, two floats)  {token:8.0f} B   (and its value: {value} B here)")
    print(
        f"  per credential less its token {on_host - token:8.0f} B"
        f"   ({(on_host - token) / 1024:.2f} KiB; goal <= 2 KiB)"
    )
    print(f"  CPU over 10 idle virtual minutes {idle * 1e3:6.1f} ms (one sleeping timer task)")
    print(
        f"  per RefreshingProvider        {provider:8.0f} B   ({provider / 1024:.1f} KiB,"
        f" {args.providers:,} open; {provider / on_host:.1f}x a hosted credential)"
    )

    print(
        f"\ntimer: {args.timed:,} credentials, {args.hours:g} h virtual, CPU per refresh"
        " (wake-up, mint task, install)"
    )
    floor = _best(args.repeats, lambda: step_floor(20_000))
    runs: dict[str, tuple[float, list[float]]] = {}
    for label, one_host in (("one host", True), ("a provider each", False)):
        runs[label] = min(
            (timer_run(args.timed, args.hours, one_host=one_host) for _ in range(args.repeats)),
            key=lambda run: run[0],
        )
    instants = runs["one host"][1]
    bare = _best(args.repeats, lambda: bare_run(instants, args.hours)) / len(instants)
    host_per = runs["one host"][0] / len(instants)
    for label, (seconds, refreshes) in runs.items():
        per = seconds / len(refreshes)
        print(
            f"  {label:<16} {len(refreshes):7,} refreshes  {per * 1e6:6.1f} us each"
            f"   {per / host_per:4.2f}x one host   {(per - bare) * 1e6:6.1f} us beyond the loop's"
        )
    print(f"  the loop's share: a bare timer task waking and spawning {bare * 1e6:6.1f} us")
    print(f"  the core's two steps alone                              {floor * 1e6:6.1f} us")
    heap, bare_heap = (
        _best(args.repeats, lambda: heap_cost(args.timed, True)),
        _best(args.repeats, lambda: heap_cost(args.timed, False)),
    )
    print(
        f"  the wake-time heap: schedule + pop per wake-up {heap * 1e9:5.0f} ns,"
        f" a bare heapq push + pop {bare_heap * 1e9:5.0f} ns ({heap / bare_heap:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
