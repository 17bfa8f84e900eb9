"""How fast is ``step()``? Figures as ratios against baselines measured in the same run.

- the hot decision: a ``Demand`` while the token is fresh, against a trivial three-argument
  function call (the goal: no more than ~10 of them);
- a mixed workload: a recorded trace of random events (demands, wake-ups, mint successes and
  failures, outages, 401s, late results), replayed through ``step()``; the goal is at least
  500,000 events per second on the project's machine (2 cores).

Machines are noisy, so each figure is the best of several repeats, and the hot-path figure is
reported as a ratio to the baseline measured right beside it. Run:

    .venv/bin/python benchmarks/step_throughput.py
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable

from mintgate.policy import (
    CredentialError,
    Demand,
    ErrorKind,
    Event,
    Invalidate,
    MintFailed,
    MintSucceeded,
    PolicyState,
    RefreshConfig,
    step,
)
from mintgate.policy.testing import Script

CONFIG = RefreshConfig()


def _best_ns_per_call(loop: Callable[[int], None], calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter_ns()
        loop(calls)
        best = min(best, (time.perf_counter_ns() - started) / calls)
    return best


def _trivial(config: object, state: object, event: object) -> object:
    return event


def hot_path(calls: int, repeats: int) -> dict[str, float]:
    """ns per call: a trivial call, the hot step, and the hot step with its Demand built."""
    script: Script[str] = Script(CONFIG, start=1000.0)
    script.demand()
    script.mint_ok("token", expires_in=3600.0)
    state = script.state
    event = Demand(1001.0)
    assert step(CONFIG, state, event).state is state  # really the hot decision

    def trivial(n: int) -> None:
        f, c, s, e = _trivial, CONFIG, state, event
        for _ in range(n):
            f(c, s, e)

    def hot(n: int) -> None:
        f, c, s, e = step, CONFIG, state, event
        for _ in range(n):
            f(c, s, e)

    def hot_with_event(n: int) -> None:
        f, c, s, d = step, CONFIG, state, Demand
        for _ in range(n):
            f(c, s, d(1001.0))

    def empty(n: int) -> None:
        for _ in range(n):
            pass

    loop = _best_ns_per_call(empty, calls, repeats)
    return {
        "trivial call": _best_ns_per_call(trivial, calls, repeats) - loop,
        "hot step": _best_ns_per_call(hot, calls, repeats) - loop,
        "hot step + Demand()": _best_ns_per_call(hot_with_event, calls, repeats) - loop,
    }


def record_trace(events: int, seed: int) -> tuple[list[Event[str]], Counter[str]]:
    """A random but valid history: the world answers the core's decisions."""
    rng = random.Random(seed)
    script: Script[str] = Script(CONFIG, start=5000.0)
    error = CredentialError(kind=ErrorKind.UNAVAILABLE, message="token endpoint answered HTTP 503")
    outage_until = -1.0
    mix: Counter[str] = Counter()
    while len(script.history) < events:
        roll = rng.random()
        state = script.state
        if state.in_flight is not None and roll < 0.05:
            script.advance(rng.uniform(0.01, 0.5))
            if script.now < outage_until:
                script.feed(MintFailed(script.now, state.in_flight.attempt, error, rng.random()))
                mix["mint failed"] += 1
            else:
                lifetime = rng.choice([60.0, 300.0, 3600.0])
                started = state.in_flight_since
                assert started is not None
                event = MintSucceeded(
                    script.now, state.in_flight.attempt, "token", started + lifetime, rng.random()
                )
                script.feed(event)
                mix["mint succeeded"] += 1
        elif roll < 0.06 and state.wake_at is not None:
            script.now = max(script.now, state.wake_at)
            script.tick()
            mix["tick"] += 1
        elif roll < 0.062 and state.generation:
            script.feed(Invalidate(script.now, rng.randint(1, state.generation)))
            mix["invalidate"] += 1
        elif roll < 0.063:
            outage_until = script.now + rng.uniform(0, 900)
        elif roll < 0.064 and state.next_attempt > 2:
            script.feed(MintFailed(script.now, state.next_attempt - 2, error, rng.random()))
            mix["late result"] += 1
        else:
            script.advance(rng.expovariate(10.0))
            script.demand()
            mix["demand"] += 1
    return [event for event, _ in script.history], mix


def mixed(trace: list[Event[str]], repeats: int) -> float:
    """Events per second, replaying ``trace`` through step()."""
    best = float("inf")
    for _ in range(repeats):
        state: PolicyState[str] = PolicyState.initial()
        started = time.perf_counter_ns()
        for event in trace:
            state = step(CONFIG, state, event).state
        best = min(best, time.perf_counter_ns() - started)
    return len(trace) / (best / 1e9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    print(f"Python {sys.version.split()[0]}, best of {args.repeats} repeats\n")
    figures = hot_path(args.calls, args.repeats)
    baseline = figures["trivial call"]
    print(f"{'hot decision (Demand, fresh token)':<38}{'ns/call':>10}{'x trivial call':>16}")
    for name, ns in figures.items():
        print(f"  {name:<36}{ns:>10.1f}{ns / baseline:>16.1f}")

    trace, mix = record_trace(args.events, args.seed)
    rate = mixed(trace, args.repeats)
    print(f"\nmixed workload: {len(trace):,} events replayed")
    print("  mix: " + ", ".join(f"{k} {v / len(trace):.1%}" for k, v in mix.most_common()))
    per_event = 1e9 / rate
    ratio = per_event / baseline
    print(f"  {rate:,.0f} events/s ({per_event:.0f} ns/event, {ratio:.1f}x trivial call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
