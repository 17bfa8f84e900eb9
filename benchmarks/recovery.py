"""How fast does a credential recover, and what does an outage cost? The policy's figures.

Each figure runs the real ``RefreshingProvider`` in virtual time (trio's ``MockClock``) against a
``FakeMint``, or the fleet simulator, with the default configuration unless it says otherwise:

- **recovery**: a one-hour token, a caller every second, the endpoint down from the first refresh
  until 100 s before the token expires. Caller errors after the endpoint is back (goal 0), for
  rng seeds 0-9.
- **short tokens**: 3-second tokens, a caller every 100 ms for 60 s: caller errors (goal 0) and
  the spacing of mints (goal 2.1-2.25 s).
- **configuration error**: the issuer answers ``invalid_scope`` for 12 minutes, then grants the
  scope: attempts during the 12 minutes (goal 1 + one re-check per 5 minutes) and when the
  credential serves again (goal <= 5 min after the grant).
- **outage bound**: a 21-minute outage that starts 20 minutes before a one-hour token expires,
  a caller every second: the attempts made beside the contract's bounds.
- **fleet**: the ``fleet-outage`` and ``short-tokens`` presets of ``mintgate simulate``.

It uses only public names, so the same script measures an older checkout (run it with that
checkout's interpreter) for a before/after comparison.

Run: ``.venv/bin/python benchmarks/recovery.py``
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import random
from collections.abc import Callable
from typing import Any

import anyio
import trio.testing

from mintgate.policy import CredentialError, ErrorKind, RefreshConfig
from mintgate.policy.testing import outage_attempt_bound
from mintgate.shell import RefreshingProvider
from mintgate.shell.testing import FakeMint, unavailable


def _run(main: Callable[[], Any]) -> Any:
    clock = trio.testing.MockClock(autojump_threshold=0)
    return anyio.run(main, backend="trio", backend_options={"clock": clock})


def recovery(seed: int) -> tuple[int, int]:
    """(caller errors after the endpoint is back, caller errors in all)."""

    async def main() -> tuple[int, int]:
        start = anyio.current_time()
        back_at = start + 3600.0 - 100.0

        def outcome(call: int) -> CredentialError | None:
            return unavailable() if call > 1 and anyio.current_time() < back_at else None

        mint = FakeMint(lifetime=3600.0, latency=0.05, outcome=outcome)
        after = total = 0
        async with RefreshingProvider(mint, rng=random.Random(seed)) as provider:
            while anyio.current_time() < start + 4000.0:
                try:
                    await provider.token()
                except CredentialError:
                    total += 1
                    after += anyio.current_time() >= back_at
                await anyio.sleep(1.0)
        return after, total

    result: tuple[int, int] = _run(main)
    return result


def short_tokens() -> tuple[int, int, float, float]:
    """(caller errors, mints, shortest and longest gap between mint starts)."""

    async def main() -> tuple[int, int, float, float]:
        start = anyio.current_time()
        mint = FakeMint(lifetime=3.0, latency=0.01)
        errors = 0
        async with RefreshingProvider(mint, rng=random.Random(1)) as provider:
            while anyio.current_time() < start + 60.0:
                try:
                    await provider.token()
                except CredentialError:
                    errors += 1
                await anyio.sleep(0.1)
        gaps = [b - a for a, b in zip(mint.started_at, mint.started_at[1:], strict=False)]
        return errors, mint.calls, min(gaps), max(gaps)

    result: tuple[int, int, float, float] = _run(main)
    return result


def configuration_error() -> tuple[int, float | None]:
    """(attempts while the scope was refused, seconds from the grant until served again)."""

    async def main() -> tuple[int, float | None]:
        start = anyio.current_time()
        granted_at = start + 12 * 60.0

        def outcome(call: int) -> CredentialError | None:
            if anyio.current_time() < granted_at:
                return CredentialError(
                    kind=ErrorKind.CONFIGURATION, message="error 'invalid_scope'"
                )
            return None

        mint = FakeMint(lifetime=3600.0, latency=0.05, outcome=outcome)
        served_at = None
        async with RefreshingProvider(mint) as provider:
            while anyio.current_time() < granted_at + 3600.0 and served_at is None:
                try:
                    await provider.token()
                    served_at = anyio.current_time()
                except CredentialError:
                    pass
                await anyio.sleep(1.0)
        during = sum(1 for t in mint.started_at if t < granted_at)
        return during, None if served_at is None else served_at - granted_at

    result: tuple[int, float | None] = _run(main)
    return result


def outage_bound() -> tuple[int, float, int, int | None]:
    """(attempts in the outage, seconds from the breaker's opening to its end, the bound with a
    token cached, the bound with none; None where this version states no second bound)."""

    async def main() -> tuple[int, float]:
        start = anyio.current_time()
        down, up = start + 3600.0 - 1200.0, start + 3600.0 - 1200.0 + 21 * 60.0

        def outcome(call: int) -> CredentialError | None:
            return unavailable() if down <= anyio.current_time() < up else None

        mint = FakeMint(lifetime=3600.0, latency=0.05, outcome=outcome)
        async with RefreshingProvider(mint, rng=random.Random(2)) as provider:
            while anyio.current_time() < up + 60.0:
                with contextlib.suppress(CredentialError):
                    await provider.token()
                await anyio.sleep(1.0)
        failed = [t for t in mint.started_at if down <= t < up]
        opened = failed[RefreshConfig().breaker_threshold - 1]
        return len(failed), up - opened

    attempts, duration = _run(main)
    config = RefreshConfig()
    if "token_cached" in inspect.signature(outage_attempt_bound).parameters:
        cached = outage_attempt_bound(config, duration, token_cached=True)  # type: ignore[call-arg,unused-ignore]
        cold = outage_attempt_bound(config, duration, token_cached=False)  # type: ignore[call-arg,unused-ignore]
        return attempts, duration, cached, cold
    return attempts, duration, outage_attempt_bound(config, duration), None


def fleet(preset: str) -> dict[str, tuple[int, int]]:
    """policy -> (caller errors, requests) for one preset of the fleet simulator."""
    from mintgate.simulations import PRESETS, simulate  # noqa: PLC0415 - the sim extra

    chosen = PRESETS[preset]
    return {
        policy: (metrics.caller_errors, metrics.requests)
        for policy in chosen.policies
        for metrics in [simulate(chosen.scenario, policy)]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="two seeds, no fleet (for tests)")
    quick = parser.parse_args().quick

    seeds = range(2) if quick else range(10)
    results = [recovery(seed) for seed in seeds]
    print(
        "recovery: one-hour token, endpoint down from the first refresh until 100 s before expiry"
    )
    for seed, (after, total) in zip(seeds, results, strict=True):
        print(
            f"  seed {seed}: caller errors after the endpoint is back {after:4d}  (in all {total})"
        )

    errors, mints, low, high = short_tokens()
    print("short tokens: 3 s tokens, a caller every 100 ms for 60 s")
    print(f"  caller errors {errors}, mints {mints}, gaps between mints {low:.3f}-{high:.3f} s")

    during, served = configuration_error()
    print("configuration error: invalid_scope for 12 min, then the scope is granted")
    shown = "never (within an hour)" if served is None else f"{served:.0f} s after the grant"
    print(f"  attempts during the 12 min {during}; serves again {shown}")

    attempts, duration, cached, cold = outage_bound()
    print("outage bound: 21 min outage from 20 min before a one-hour token expires")
    print(
        f"  attempts {attempts}; breaker open {duration:.0f} s; bound with a token cached "
        f"{cached}" + ("" if cold is None else f", with none {cold}")
    )

    if not quick:
        for preset in ("fleet-outage", "short-tokens"):
            print(f"fleet: preset {preset} (caller errors, requests)")
            for policy, (errs, requests) in fleet(preset).items():
                print(f"  {policy:22s} {errs:8,d} {requests:8,d}")


if __name__ == "__main__":
    main()
