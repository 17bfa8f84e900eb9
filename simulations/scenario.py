"""A scripted day in the life of one credential, told step by step by the pure core.

This is the main job until the fleet simulator lands: a fake clock, a fake token endpoint with
an outage, a 401 burst and finally a revoked credential, driven through
:func:`mintgate.policy.step` by :class:`mintgate.policy.testing.Script`. It prints every decision
that did something (quiet hot-path serves are counted, not printed) and ends with the totals,
so a newcomer can read what the policy does without any event loop.

Run it with ``python -m mintgate.simulations.scenario`` (or ``python3 tasks.py demo``).
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from typing import TextIO

import attrs

from mintgate.policy import (
    CredentialError,
    Demand,
    ErrorKind,
    Event,
    Invalidate,
    MintFailed,
    MintSucceeded,
    RefreshConfig,
    Reject,
    Serve,
    Step,
    Tick,
    Wait,
)
from mintgate.policy.testing import Observer, Script

LIFETIME = 3600.0
LATENCY = 0.2
DEMAND_EVERY = 20.0
OUTAGE = (2700.0, 3500.0)  # the token endpoint answers 503 in this window
BURST_AT = 4000.0  # three requests get 401 for the same token
REVOKED_AT = 5500.0  # the refresh token is revoked: invalid_grant from here on
END = 7660.0  # a few refused callers after the dead token expires


@attrs.define
class _Endpoint:
    """The fake token endpoint: a latency, an outage window, a revocation."""

    minted: int = 0

    def answer(self, script: Script[str], attempt: int, draw: float) -> Event[str]:
        now = script.now
        if now >= REVOKED_AT:
            error = (
                ErrorKind.REAUTH_REQUIRED,
                "token endpoint answered HTTP 400 with 'invalid_grant'",
            )
        elif OUTAGE[0] <= now < OUTAGE[1]:
            error = ErrorKind.UNAVAILABLE, "token endpoint answered HTTP 503 with an empty body"
        else:
            self.minted += 1
            started = script.state.in_flight_since
            assert started is not None
            return MintSucceeded(now, attempt, f"token-{self.minted}", started + LIFETIME, draw)
        kind, message = error
        return MintFailed(now, attempt, CredentialError(kind=kind, message=message), draw)


def _clock(seconds: float) -> str:
    whole, millis = int(seconds), int(seconds * 1000) % 1000
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{millis:03d}"


def _describe(event: Event[str], result: Step[str]) -> str:
    parts = []
    if isinstance(event, MintSucceeded):
        parts.append(f"mint #{event.attempt} returned a token")
    elif isinstance(event, MintFailed):
        parts.append(f"mint #{event.attempt} failed: {event.error.kind.value}")
    elif isinstance(event, Invalidate):
        parts.append(f"401 for generation {event.generation}")
    elif isinstance(event, Tick):
        parts.append("wake-up")
    else:
        parts.append("caller")
    reply = result.reply
    if isinstance(reply, Serve):
        parts.append(f"served generation {reply.token.generation}")
    elif isinstance(reply, Wait):
        parts.append("waits")
    elif isinstance(reply, Reject):
        parts.append(f"rejected ({reply.error})")
    if result.start_mint is not None:
        parts.append(f"start mint #{result.start_mint.attempt} ({result.start_mint.reason.value})")
    if isinstance(result.resolve, Serve):
        parts.append(f"parked callers get generation {result.resolve.token.generation}")
    elif isinstance(result.resolve, Reject):
        parts.append(f"parked callers rejected ({result.resolve.error.kind.value})")
    for notice in result.notices:
        text = notice.kind.value
        if notice.when is not None:
            text += f" @ {_clock(notice.when)}"
        if notice.kind.value not in ("mint_started", "mint_failed", "mint_succeeded"):
            parts.append(text)
    return " -> ".join(parts[:1]) + (": " + "; ".join(parts[1:]) if len(parts) > 1 else "")


def run(out: TextIO, *, seed: int = 7, observer: Observer | None = None) -> Counter[str]:
    """Run the scenario, print its decisions to ``out``, and return the totals.

    ``observer`` sees every step (the tests pass the contract's invariant checker).
    """
    draws = random.Random(seed)
    script: Script[str] = Script(RefreshConfig(), start=0.0, observer=observer)
    endpoint = _Endpoint()
    totals: Counter[str] = Counter()
    mint_due: tuple[float, int] | None = None
    next_demand = 0.0
    burst_done = False

    def feed(event: Event[str]) -> None:
        nonlocal mint_due
        result = script.feed(event)
        if result.start_mint is not None:
            totals["mints started"] += 1
            mint_due = (script.now + LATENCY, result.start_mint.attempt)
        reply = result.reply
        if isinstance(reply, Serve):
            totals["callers served"] += 1
            totals["served stale"] += any(n.kind.value == "served_stale" for n in result.notices)
        elif isinstance(reply, Reject):
            totals["callers rejected"] += 1
        elif isinstance(reply, Wait):
            totals["callers parked"] += 1
        quiet = isinstance(reply, Serve) and not result.notices and result.start_mint is None
        if not quiet:
            out.write(f"{_clock(script.now)}  {_describe(event, result)}\n")

    while True:
        wake = script.state.wake_at
        candidates = [next_demand]
        if wake is not None:
            candidates.append(max(wake, script.now))
        if mint_due is not None:
            candidates.append(mint_due[0])
        if not burst_done:
            candidates.append(BURST_AT)
        now = min(candidates)
        if now > END:
            break
        script.now = now
        if mint_due is not None and now == mint_due[0]:
            attempt = mint_due[1]
            mint_due = None
            feed(endpoint.answer(script, attempt, draws.random()))
        elif not burst_done and now == BURST_AT:
            burst_done = True
            for _ in range(3):
                feed(Invalidate(now, script.state.generation))
        elif now == next_demand:
            next_demand += DEMAND_EVERY
            feed(Demand(now))
        else:
            feed(Tick(now))
    return totals


def main() -> int:
    out = sys.stdout
    out.write(
        "One credential, 1-hour tokens, a caller every 20 s, default RefreshConfig.\n"
        f"Token endpoint: 503 from {_clock(OUTAGE[0])} to {_clock(OUTAGE[1])}; three 401s at "
        f"{_clock(BURST_AT)}; refresh token revoked at {_clock(REVOKED_AT)}.\n"
        "Quiet hot-path serves are counted, not printed.\n\n"
    )
    totals = run(out)
    out.write("\nTotals: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
