"""What one simulated run measured, and the accumulator that measures it.

The definitions, in the words ``docs/simulations.md`` uses:

- *requests*: every request the fleet sent to the token endpoint (failed ones too);
- *peak concurrent*: the most requests in flight at once, fleet-wide;
- *429s caused*: requests the endpoint refused for being over its capacity (429s it answers
  during a scheduled 429 outage are the outage, not the policy);
- *caller errors*: demands refused with an error;
- *caller errors when healthy*: those refused in a second when no scheduled outage was in effect
  and the endpoint refused nothing for being over its capacity: the errors the policy itself
  causes (slow recovery, a refresh too late), not the ones an outage excuses;
- *expired served*: demands served a token that had already expired on the endpoint's clock
  (the API would answer 401);
- *wait*: from a demand to its answer, served or refused; most are 0;
- *served after failure seconds*: instance-seconds of serving a token after a refresh of it
  failed, from the failure to the last such serve before the next token;
- *recovery*: for each outage, over the instances that refused a caller after it ended, the
  time from its end until each refused no more callers, and until each held a token minted
  after it (p50 and max; see :class:`OutageRecovery`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["Metrics", "OutageRecovery", "Recorder", "first_true", "p50_and_max"]


def first_true(lo: int, hi: int, test: Callable[[int], bool]) -> int:
    """The least ``m`` in ``[lo, hi)`` that passes ``test``, or ``hi``; ``test`` must be
    false and then true over the range (a bisection: runs of demands are counted, not walked)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


@attrs.frozen
class OutageRecovery:
    """How the instances an outage left refusing callers came back, counted from its end.

    Attributes:
        outage: The outage, as written (``3h+20m:503``).
        refusing: Instances that refused a caller after the outage ended (within ``window``).
        window: Seconds from the outage's end to the next outage's start or the end of the run;
            the times are measured within it.
        no_refusals_p50, no_refusals_max: Seconds until each of those instances refused no
            more callers (its first serve after its last refusal in the window); None: some
            were still refusing when the window closed (the time is more than ``window``).
        fresh_token_p50, fresh_token_max: Seconds until each of them held a token minted after
            the outage; None: more than ``window``.
    """

    outage: str
    refusing: int
    window: float
    no_refusals_p50: float | None
    no_refusals_max: float | None
    fresh_token_p50: float | None
    fresh_token_max: float | None


def p50_and_max(values: list[float | None]) -> tuple[float | None, float | None]:
    """The median (the lower one of an even count) and the largest; None stands for "not
    reached", larger than any number."""
    if not values:
        return 0.0, 0.0
    ranked = sorted(values, key=lambda v: math.inf if v is None else v)
    return ranked[(len(ranked) - 1) // 2], ranked[-1]


@attrs.frozen
class Metrics:
    """One policy's run of one scenario. Times in seconds; series are per minute of the run:
    requests sent, caller errors plus expired tokens served (each is an error at the API), and
    demands served after a failure (the statistic `served_after_failure`, per minute)."""

    policy: str
    demands: int
    requests: int
    minted: int
    requests_per_minute: float
    peak_requests_per_minute: int
    peak_concurrent: int
    rate_limited: int
    caller_errors: int
    healthy_caller_errors: int
    expired_served: int
    wait_p50: float
    wait_p99: float
    wait_max: float
    served_after_failure_seconds: float
    recovery: tuple[OutageRecovery, ...]
    series_requests: tuple[int, ...] = attrs.field(repr=False)
    series_errors: tuple[int, ...] = attrs.field(repr=False)
    series_served_after_failure: tuple[int, ...] = attrs.field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every figure and series."""
        document = attrs.asdict(self, recurse=False, value_serializer=_plain)
        document["recovery"] = [attrs.asdict(r) for r in self.recovery]
        return document


def _plain(_instance: Any, _field: Any, value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _reaches(at: Callable[[int], float], minute: int) -> Callable[[int], bool]:
    boundary = minute * 60.0
    return lambda k: at(k) >= boundary


@attrs.define
class Recorder:
    """Accumulates one run's figures as the simulator goes; :meth:`finish` freezes them."""

    minutes: int
    demands: int = 0
    requests: int = 0
    minted: int = 0
    in_flight: int = 0
    peak_concurrent: int = 0
    rate_limited: int = 0
    caller_errors: int = 0
    expired_served: int = 0
    immediate: int = 0
    waits: list[float] = attrs.Factory(list)
    served_after_failure_seconds: float = 0.0
    series_requests: list[int] = attrs.field(init=False)
    series_errors: list[int] = attrs.field(init=False)
    series_served_after_failure: list[int] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.series_requests = [0] * self.minutes
        self.series_errors = [0] * self.minutes
        self.series_served_after_failure = [0] * self.minutes

    def request_sent(self, now: float) -> None:
        self.requests += 1
        self.series_requests[self._minute(now)] += 1
        self.in_flight += 1
        self.peak_concurrent = max(self.peak_concurrent, self.in_flight)

    def _minute(self, now: float) -> int:
        return min(int(now // 60.0), self.minutes - 1)

    def answered(self, count: int, wait: float) -> None:
        """``count`` demands got their answer after ``wait`` seconds."""
        self.demands += count
        if wait > 0:
            self.waits.extend([wait] * count)
        else:
            self.immediate += count

    def refused(self, now: float, wait: float) -> None:
        self.answered(1, wait)
        self.caller_errors += 1
        self.series_errors[self._minute(now)] += 1

    def spread(self, series: list[int], at: Callable[[int], float], lo: int, hi: int) -> None:
        """Add the demands ``lo <= m < hi``, the m-th at ``at(m)`` (rising), to a series."""
        m, last = lo, self.minutes - 1
        while m < hi:
            minute = self._minute(at(m))
            after = hi if minute == last else first_true(m + 1, hi, _reaches(at, minute + 1))
            series[minute] += after - m
            m = after

    def finish(
        self, policy: str, recovery: tuple[OutageRecovery, ...], healthy_caller_errors: int
    ) -> Metrics:
        waits = sorted(self.waits)
        total = self.immediate + len(waits)

        def quantile(q: float) -> float:
            if total == 0:
                return 0.0
            rank = max(1, math.ceil(q * total)) - 1
            return 0.0 if rank < self.immediate else waits[rank - self.immediate]

        per_minute = self.series_requests
        return Metrics(
            policy=policy,
            demands=self.demands,
            requests=self.requests,
            minted=self.minted,
            requests_per_minute=self.requests / max(1, self.minutes),
            peak_requests_per_minute=max(per_minute, default=0),
            peak_concurrent=self.peak_concurrent,
            rate_limited=self.rate_limited,
            caller_errors=self.caller_errors,
            healthy_caller_errors=healthy_caller_errors,
            expired_served=self.expired_served,
            wait_p50=quantile(0.5),
            wait_p99=quantile(0.99),
            wait_max=waits[-1] if waits else 0.0,
            served_after_failure_seconds=self.served_after_failure_seconds,
            recovery=recovery,
            series_requests=tuple(per_minute),
            series_errors=tuple(self.series_errors),
            series_served_after_failure=tuple(self.series_served_after_failure),
        )
