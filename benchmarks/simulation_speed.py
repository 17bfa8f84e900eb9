"""How fast is the fleet simulator? The goal: 1,000 instances x 24 h of 1-hour tokens, a demand
every 10 s per instance (8.6 million demands), in at most 30 s on the project's machine.

Figures, each the best of a few repeats and set beside baselines measured in the same run:

- the goal's run, for mintgate and for every baseline policy, in seconds;
- a bare Python loop over the same number of demands doing nothing but a heap push and pop
  per demand (what the least event-driven simulator would pay), as a ratio;
- the same run with ``batch=False`` (each demand through the policy one by one), measured on a
  slice of the fleet and scaled, as a ratio: what serving quiet runs at once buys.

Run:

    .venv/bin/python benchmarks/simulation_speed.py
"""

from __future__ import annotations

import argparse
import heapq
import sys
import time
from collections.abc import Callable

import attrs

from mintgate.simulations import POLICY_NAMES, Scenario, simulate


def _best(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _bare_loop(demands: int, instances: int, every: float) -> None:
    """One heap push and pop per demand, over the same instances and interval."""
    heap = [(i * every / instances, i) for i in range(instances)]
    heapq.heapify(heap)
    for _ in range(demands):
        now, who = heapq.heappop(heap)
        heapq.heappush(heap, (now + every, who))


def _runner(scenario: Scenario, policy: str) -> Callable[[], object]:
    return lambda: simulate(scenario, policy)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--slice", type=int, default=50, help="instances run with batch=False")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    scenario = Scenario(instances=args.instances, duration=args.hours * 3600.0)
    print(f"Python {sys.version.split()[0]}, best of {args.repeats} repeats")
    print(scenario.describe() + "\n")

    seconds = {p: _best(_runner(scenario, p), args.repeats) for p in POLICY_NAMES}
    demands = simulate(scenario, "mintgate").demands
    bare = _best(lambda: _bare_loop(demands, scenario.instances, scenario.demand_every), 1)
    part = attrs.evolve(scenario, instances=min(args.slice, scenario.instances))
    scale = scenario.instances / part.instances
    one_by_one = _best(lambda: simulate(part, "mintgate", batch=False), 1) * scale
    batched_part = _best(lambda: simulate(part, "mintgate"), args.repeats) * scale

    print(f"{'policy':<22}{'seconds':>9}{'x bare loop':>13}")
    for policy, spent in seconds.items():
        print(f"  {policy:<20}{spent:>9.2f}{spent / bare:>13.2f}")
    print(f"\nbare loop, {demands:,} demands (heap push + pop each): {bare:.2f} s")
    print(
        f"mintgate one by one (batch=False), {part.instances} instances scaled x{scale:g}: "
        f"{one_by_one:.1f} s, {one_by_one / batched_part:.0f}x the batched run of the same slice"
    )
    goal = seconds["mintgate"]
    print(
        f"\ngoal: the mintgate run in <= 30 s: {'met' if goal <= 30 else 'NOT met'} ({goal:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
