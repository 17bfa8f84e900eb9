"""What one simulated run measured, and the accumulator that measures it.

The definitions, in the words ``docs/simulations.md`` uses:

- *requests*: every request the fleet sent to the token endpoint (failed ones too);
- *peak concurrent*: the most requests in flight at once, fleet-wide;
- *429s caused*: requests the endpoint refused for being over its capacity (429s it answers
  during a scheduled 429 outage are the outage, not the policy);
- *caller errors*: demands refused with an error;
- *expired served*: demands served a token that had already expired on the endpoint's clock
  (the API would answer 401);
- *wait*: from a demand to its answer, served or refused; most are 0;
- *served after failure seconds*: instance-seconds of serving a token after a refresh of it
  failed, from the failure to the last such serve before the next token;
- *recovery*: for each outage, from its end until every instance whose last request had failed
  holds a new token (None: not within the run).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["Metrics", "Recorder", "first_true"]


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
    expired_served: int
    wait_p50: float
    wait_p99: float
    wait_max: float
    served_after_failure_seconds: float
    recovery: tuple[float | None, ...]
    series_requests: tuple[int, ...] = attrs.field(repr=False)
    series_errors: tuple[int, ...] = attrs.field(repr=False)
    series_served_after_failure: tuple[int, ...] = attrs.field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every figure and series."""
        return attrs.asdict(self, recurse=False, value_serializer=_plain)


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

    def finish(self, policy: str, recovery: tuple[float | None, ...]) -> Metrics:
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
