"""How fast is ``await provider.token()`` on a fresh token? And cold start with 10,000 callers?

Figures, each next to baselines measured in the same run on the same event loop:

- ns per ``await provider.token()`` on a fresh token, under trio and under asyncio, beside a
  bare ``await obj.aget()`` (an async method returning an attribute) and a sync attribute read;
  ``provider.current()`` beside the same sync read. Goals: token() <= 300 ns on trio, current()
  <= 150 ns.
- 1,000 and 10,000 concurrent callers at cold start with a 50 ms mint (real time): mints
  (goal 1) and the callers' p50 and p99 wait, against the mint's latency and against a bare
  structure that parks the same callers on one event (the loop's own cost).
- memory per idle provider (tracemalloc, 1,000 providers holding a token).

Run: ``.venv/bin/python benchmarks/token_latency.py``
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import anyio

from mintgate.shell import Minted, RefreshingProvider


class Holder:
    def __init__(self) -> None:
        self.value = "token"

    async def aget(self) -> str:
        return self.value


async def _mint() -> Minted[str]:
    return Minted("token", expires_in=3600.0)


async def _ns_per_await(calls: int, op: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        await op()
    return (time.perf_counter_ns() - started) / calls


def _ns_per_call(calls: int, op: Callable[[], object]) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        op()
    return (time.perf_counter_ns() - started) / calls


async def hot_path(calls: int, repeats: int) -> dict[str, float]:
    """Best-of ns per call: token(), a bare aget(), a sync attribute read, current()."""
    holder = Holder()
    results: dict[str, list[float]] = {"token": [], "aget": [], "attr": [], "current": []}
    async with RefreshingProvider(_mint) as provider:
        await provider.token()

        def attr() -> object:
            return holder.value

        for _ in range(repeats):
            results["aget"].append(await _ns_per_await(calls, holder.aget))
            results["token"].append(await _ns_per_await(calls, provider.token))
            results["attr"].append(_ns_per_call(calls, attr))
            results["current"].append(_ns_per_call(calls, provider.current))
    return {name: min(values) for name, values in results.items()}


def _percentiles(waits: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max of the waits."""
    waits = sorted(waits)
    return waits[len(waits) // 2], waits[max(0, int(len(waits) * 0.99) - 1)], waits[-1]


async def cold_start(callers: int, latency: float) -> tuple[int, tuple[float, float, float]]:
    """Mints, and p50, p99 and max wait (seconds) for ``callers`` concurrent first calls."""
    mints = 0

    async def slow_mint() -> Minted[str]:
        nonlocal mints
        mints += 1
        await anyio.sleep(latency)
        return Minted("token", expires_in=3600.0)

    waits: list[float] = []
    async with RefreshingProvider(slow_mint) as provider:

        async def caller() -> None:
            started = time.perf_counter()  # the caller's wait starts when it asks
            await provider.token()
            waits.append(time.perf_counter() - started)

        async with anyio.create_task_group() as tg:
            for _ in range(callers):
                tg.start_soon(caller)
    return mints, _percentiles(waits)


async def bare_event_wait(callers: int, latency: float) -> tuple[float, float, float]:
    """The loop's own cost, with the provider's structure: the first of ``callers`` tasks
    spawns a task that sets one event after ``latency``; every caller parks on that event."""
    waits: list[float] = []
    ready = anyio.Event()

    async def release() -> None:
        await anyio.sleep(latency)
        ready.set()

    async with anyio.create_task_group() as tg:
        spawned = False

        async def caller() -> None:
            nonlocal spawned
            started = time.perf_counter()
            if not spawned:  # as the provider's first caller starts the mint
                spawned = True
                tg.start_soon(release)
            await ready.wait()
            waits.append(time.perf_counter() - started)

        for _ in range(callers):
            tg.start_soon(caller)
    return _percentiles(waits)


async def idle_memory(count: int) -> float:
    """Bytes per open provider holding a token (its timer task included)."""
    async with AsyncExitStack() as stack:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for _ in range(count):
            provider = await stack.enter_async_context(RefreshingProvider(_mint))
            await provider.token()
        await anyio.sleep(0.01)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--callers", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--providers", type=int, default=1_000)
    args = parser.parse_args(argv)

    print(f"Python {sys.version.split()[0]}, best of {args.repeats} repeats\n")
    print(f"{'fresh token, ns/call':<24}{'token()':>9}{'aget()':>9}{'attr':>7}{'current()':>11}")
    for backend in ("trio", "asyncio"):
        f = anyio.run(hot_path, args.calls, args.repeats, backend=backend)
        print(
            f"  {backend:<22}{f['token']:>9.0f}{f['aget']:>9.0f}{f['attr']:>7.0f}"
            f"{f['current']:>11.0f}   token()/aget() {f['token'] / f['aget']:.2f}"
            f"   current()/attr {f['current'] / f['attr']:.2f}"
        )
    for callers in args.callers:
        print(f"\ncold start: {callers:,} concurrent callers, 50 ms mint, real time, ms")
        for backend in ("trio", "asyncio"):
            mints, (p50, p99, worst) = anyio.run(cold_start, callers, 0.05, backend=backend)
            base = anyio.run(bare_event_wait, callers, 0.05, backend=backend)
            print(
                f"  {backend:<8} mints {mints}   p50 {p50 * 1e3:6.1f}  p99 {p99 * 1e3:6.1f}"
                f"  max {worst * 1e3:6.1f};  bare event: p50 {base[0] * 1e3:6.1f}"
                f"  p99 {base[1] * 1e3:6.1f};  p50 {p50 / base[0]:.2f}x bare,"
                f" {p50 / 0.05:.2f}x the mint"
            )
    per = anyio.run(idle_memory, args.providers, backend="trio")
    print(f"\nmemory per idle provider holding a token: {per / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
