"""The fleet simulator: a discrete-event run of many instances over one token endpoint.

Each instance has its own policy state, clock offset and random stream; the endpoint has a
latency distribution, a capacity and an outage schedule. Events wait in one heap ordered by
time (and by insertion on ties, so a run is a pure function of the scenario and seed):

- a *demand*: instance ``i`` wants a token (the n-th demand is at ``start_i + n * every``);
- a *tick*: a wake-up the policy asked for has come;
- a *done*: an instance's request to the endpoint answered (or was cut by the timeout);
- an *outage end*: recovery is measured from here, and a revoked credential is re-provisioned.

Recovery is measured per outage over its *window*, from its end to the next outage's start (or
the end of the run): for each instance that refuses a caller in the window, when it stops
refusing (its first serve after its last refusal) and when it first holds a token minted after
the outage. A refusal is *healthy-time* when its second overlaps no outage and no request over
the endpoint's capacity was being refused in it (from the request to its 429).

Policies see their own clock (true time plus the instance's skew) and get the core's events.
While a policy is quiet (see :mod:`mintgate.simulations._policies`), the demands up to the next
thing that can change it are served in one go; ``batch=False`` serves them one by one instead,
and a test checks that both give the same metrics.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import Counter
from collections.abc import Callable

import attrs

from mintgate.policy import (
    CredentialError,
    Demand,
    ErrorKind,
    MintFailed,
    MintSucceeded,
    RefreshConfig,
    Reject,
    Serve,
    Step,
    Tick,
    Wait,
    classify_http,
)
from mintgate.simulations._metrics import (
    Metrics,
    OutageRecovery,
    Recorder,
    first_true,
    p50_and_max,
)
from mintgate.simulations._policies import Decision, SimPolicy, make_policy
from mintgate.simulations._scenario import OutageKind, Scenario

__all__ = ["simulate"]

INF = math.inf
_DEMAND, _TICK, _DONE, _OUTAGE_END = 0, 1, 2, 3
_TOKEN = "simulated-token"


@attrs.define
class _Endpoint:
    """The token endpoint model: latency, capacity, outage schedule."""

    scenario: Scenario
    rng: random.Random
    second: int = -1
    in_second: int = 0
    over_capacity: set[int] = attrs.Factory(set)  # seconds it spent refusing for capacity
    _errors: dict[OutageKind, CredentialError] = attrs.field(init=False)
    _over_capacity: CredentialError = attrs.field(init=False)
    _timeout: CredentialError = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        json = {"Content-Type": "application/json"}
        self._errors = {
            OutageKind.UNAVAILABLE: classify_http(503, {}, b"", now=0.0),
            OutageKind.RATE_LIMITED: classify_http(429, {"Retry-After": "60"}, b"", now=0.0),
            OutageKind.INVALID_GRANT: classify_http(
                400, json, b'{"error": "invalid_grant"}', now=0.0
            ),
        }
        self._over_capacity = classify_http(429, {"Retry-After": "1"}, b"", now=0.0)
        timeout = self.scenario.request_timeout
        self._timeout = CredentialError(
            kind=ErrorKind.TIMEOUT, message=f"token endpoint did not answer within {timeout:g} s"
        )

    def request(self, now: float, recorder: Recorder) -> tuple[float, CredentialError | None]:
        """When the request sent at ``now`` ends, and its error (None: a token)."""
        scenario = self.scenario
        latency = scenario.latency * math.exp(0.5 * self.rng.gauss(0.0, 1.0))
        for outage in scenario.outages:
            if outage.start <= now < outage.end:
                if outage.kind is OutageKind.HANG:
                    return now + scenario.request_timeout, self._timeout
                return now + min(latency, scenario.request_timeout), self._errors[outage.kind]
        if scenario.capacity is not None:
            second = int(now)
            if second != self.second:
                self.second, self.in_second = second, 0
            self.in_second += 1
            if self.in_second > scenario.capacity:
                recorder.rate_limited += 1
                answered = now + min(latency, scenario.request_timeout)
                # Over capacity from the request to its 429: the caller refused for it then
                # was refused while the endpoint was not healthy.
                self.over_capacity.update(range(second, int(answered) + 1))
                return answered, self._over_capacity
        if latency >= scenario.request_timeout:
            return now + scenario.request_timeout, self._timeout
        return now + latency, None


class _Run:
    """One policy over one scenario; :meth:`run` returns its :class:`Metrics`."""

    def __init__(
        self, scenario: Scenario, policy: str, config: RefreshConfig, *, batch: bool, name: str
    ) -> None:
        self.scenario, self.name, self.batch = scenario, name, batch
        n = scenario.instances
        self.rngs = [random.Random(f"mintgate-sim:{scenario.seed}:{i}") for i in range(n)]
        self.starts = [r.random() * scenario.start_spread for r in self.rngs]
        # The first demand is the start; the next comes at the instance's own phase.
        every = scenario.demand_every
        self.phases = [s + r.random() * every for s, r in zip(self.starts, self.rngs, strict=True)]
        self.skews = [(2 * r.random() - 1) * scenario.max_skew for r in self.rngs]
        self.policies: list[SimPolicy] = [make_policy(policy, config) for _ in range(n)]
        self.endpoint = _Endpoint(scenario, random.Random(f"mintgate-sim:{scenario.seed}:api"))
        self.recorder = Recorder(minutes=max(1, math.ceil(scenario.duration / 60.0)))
        self.tick_at = [INF] * n
        self.tick_local = [INF] * n
        self.done_at = [INF] * n
        self.waiting: list[list[float]] = [[] for _ in range(n)]
        self.failing_since: list[float | None] = [None] * n
        self.after_failure_from: list[float | None] = [None] * n
        self.after_failure_last: list[float | None] = [None] * n
        self.sent_at = [0.0] * n
        outages, horizon = scenario.outages, scenario.duration
        # Each outage's window: from its end to the next outage's start, or the end of the run.
        self.windows = [
            (o.end, min([p.start for p in outages if p.start >= o.end] + [horizon]))
            for o in outages
        ]
        self.last_refusal: list[dict[int, float]] = [{} for _ in outages]
        self.back_at: list[dict[int, float]] = [{} for _ in outages]  # first serve after it
        self.fresh_at: list[dict[int, float]] = [{} for _ in outages]  # first token after it
        self.refusing: dict[int, int] = {}  # instance -> window of its unanswered refusal
        self.errors_per_second: Counter[int] = Counter()
        # When every credential is re-provisioned (the end of a revoking outage): a run of
        # quiet demands cannot reach past one, since the policy starts afresh there.
        self.replacements = sorted(
            o.end for o in scenario.outages if o.kind is OutageKind.INVALID_GRANT
        )
        self.heap: list[tuple[float, int, int, int, int, CredentialError | None]] = []
        self.seq = 0

    def push(
        self, time: float, kind: int, who: int, n: int = 0, error: CredentialError | None = None
    ) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (time, self.seq, kind, who, n, error))

    def run(self, progress: Callable[[float], None] | None) -> Metrics:
        scenario, horizon = self.scenario, self.scenario.duration
        for i, start in enumerate(self.starts):
            self.push(start, _DEMAND, i)
        for index, outage in enumerate(scenario.outages):
            if outage.end < horizon:
                self.push(outage.end, _OUTAGE_END, -1, index)
        step_mark, mark = horizon / 100, 0.0
        heap = self.heap
        while heap:
            now, _, kind, who, n, error = heapq.heappop(heap)
            if now >= horizon:
                break
            if progress is not None and now >= mark:
                progress(now / horizon)
                mark = now + step_mark
            if kind == _DEMAND:
                self.demand(now, who, n)
            elif kind == _TICK:
                if now == self.tick_at[who]:
                    self.tick_at[who] = INF
                    # The wake-up the policy asked for, on its clock: now + skew can round
                    # to just before it, and the policy would ask again for the same instant.
                    local = max(now + self.skews[who], self.tick_local[who])
                    self.apply(now, who, self.policies[who].handle(Tick(local)))
            elif kind == _DONE:
                self.done(now, who, n, error)
            else:
                self.outage_end(n)
        for i in range(scenario.instances):
            self.end_after_failure(i)
        if progress is not None:
            progress(1.0)
        return self.recorder.finish(self.name, self.recoveries(), self.healthy_errors())

    def window(self, time: float) -> int | None:
        """The outage whose window holds ``time``, if any."""
        for index, (start, limit) in enumerate(self.windows):
            if start <= time < limit:
                return index
        return None

    def refused(self, now: float, i: int, wait: float) -> None:
        self.recorder.refused(now, wait)
        self.errors_per_second[int(now)] += 1
        index = self.window(now)
        if index is not None:
            self.last_refusal[index][i] = now
            self.back_at[index].pop(i, None)
            self.refusing[i] = index

    def recoveries(self) -> tuple[OutageRecovery, ...]:
        found = []
        for index, outage in enumerate(self.scenario.outages):
            start, limit = self.windows[index]
            refusers = self.last_refusal[index]
            back = [self.back_at[index].get(i) for i in refusers]
            fresh = [self.fresh_at[index].get(i) for i in refusers]
            no_refusals = p50_and_max([None if t is None else t - start for t in back])
            fresh_token = p50_and_max([None if t is None else t - start for t in fresh])
            found.append(
                OutageRecovery(
                    str(outage), len(refusers), limit - start, *no_refusals, *fresh_token
                )
            )
        return tuple(found)

    def healthy_errors(self) -> int:
        """Refusals in seconds that overlap no outage and saw no capacity 429."""
        outages, over = self.scenario.outages, self.endpoint.over_capacity

        def healthy(second: int) -> bool:
            if second in over:
                return False
            return not any(o.start < second + 1 and second < o.end for o in outages)

        return sum(count for second, count in self.errors_per_second.items() if healthy(second))

    def demand(self, now: float, i: int, n: int) -> None:
        policy, skew = self.policies[i], self.skews[i]
        at = self.demand_time(i)

        quiet = policy.quiet_until
        serving = policy.serving
        if self.batch and now + skew < quiet and serving is not None:
            count = self.quiet_run(i, n, quiet)
            self.served(i, at, n, n + count, serving, 0.0)
        else:
            decision = policy.handle(Demand(now + skew))
            reply = decision.reply
            if isinstance(reply, Serve):
                self.served(i, at, n, n + 1, reply, 0.0)
            elif isinstance(reply, Wait):
                self.waiting[i].append(now)
            elif isinstance(reply, Reject):
                self.refused(now, i, 0.0)
            count = 1
            self.apply(now, i, decision)
        following = at(n + count)
        if following < self.scenario.duration:
            self.push(following, _DEMAND, i, n + count)

    def demand_time(self, i: int) -> Callable[[int], float]:
        """When instance i's m-th demand comes: at its start, then at its phase plus whole
        intervals (always computed this one way, so batched and single runs agree exactly)."""
        start, phase, every = self.starts[i], self.phases[i], self.scenario.demand_every

        def at(m: int) -> float:
            return start if m == 0 else phase + (m - 1) * every

        return at

    def quiet_run(self, i: int, n: int, quiet: float) -> int:
        """How many demands from the n-th on are served before anything can change instance i."""
        at, skew = self.demand_time(i), self.skews[i]
        until = min(self.tick_at[i], self.done_at[i], self.scenario.duration)
        replacement = bisect.bisect_right(self.replacements, at(n))
        if replacement < len(self.replacements):
            until = min(until, self.replacements[replacement])

        def changes(m: int) -> bool:
            time = at(m)
            return not (time < until and time + skew < quiet)

        beyond = n + 3 + int((until - at(n)) / self.scenario.demand_every)
        return first_true(n + 1, beyond, changes) - n

    def served(
        self, i: int, at: Callable[[int], float], lo: int, hi: int, serve: Serve[str], wait: float
    ) -> None:
        """The demands ``lo <= m < hi``, the m-th at ``at(m)``, are served ``serve``."""
        recorder = self.recorder
        recorder.answered(hi - lo, wait)
        expires_at = serve.token.expires_at
        if expires_at is not None and at(hi - 1) >= expires_at:
            expired = first_true(lo, hi, lambda m: at(m) >= expires_at)
            recorder.expired_served += hi - expired
            recorder.spread(recorder.series_errors, at, expired, hi)
        if self.after_failure_from[i] is not None:
            self.after_failure_last[i] = at(hi - 1)
            recorder.spread(recorder.series_served_after_failure, at, lo, hi)
        refused_in = self.refusing.pop(i, None)
        if refused_in is not None and self.window(at(lo)) == refused_in:
            self.back_at[refused_in][i] = at(lo)  # it serves again: until its next refusal

    def apply(self, now: float, i: int, decision: Decision | Step[str]) -> None:
        """Carry out a policy's decision: send a request, answer the parked, set the wake-up."""
        start = decision.start_mint
        if start is not None:
            self.recorder.request_sent(now)
            ends, error = self.endpoint.request(now, self.recorder)
            self.done_at[i] = ends
            self.sent_at[i] = now
            self.push(ends, _DONE, i, start.attempt, error)
        resolve = decision.resolve
        if resolve is not None and self.waiting[i]:
            parked, self.waiting[i] = self.waiting[i], []
            for asked in parked:
                if isinstance(resolve, Serve):
                    self.served(i, lambda _: now, 0, 1, resolve, now - asked)
                else:
                    self.refused(now, i, now - asked)
        wake = decision.wake_at
        at = INF if wake is None else max(now, wake - self.skews[i])
        self.tick_local[i] = INF if wake is None else wake
        if at != self.tick_at[i]:
            self.tick_at[i] = at
            if at < INF:
                self.push(at, _TICK, i)

    def done(self, now: float, i: int, attempt: int, error: CredentialError | None) -> None:
        self.recorder.in_flight -= 1
        self.done_at[i] = INF
        policy, local = self.policies[i], now + self.skews[i]
        draw = self.rngs[i].random()
        before = policy.serving
        if error is None:
            expires_at = self.sent_at[i] + self.scenario.lifetime
            self.recorder.minted += 1
            decision = policy.handle(MintSucceeded(local, attempt, _TOKEN, expires_at, draw))
        else:
            decision = policy.handle(MintFailed(local, attempt, error, draw))
        after = policy.serving
        if after is not None and (before is None or after.token is not before.token):
            self.installed(now, i)
        elif error is not None and self.failing_since[i] is None:
            self.failing_since[i] = now
            if before is not None:
                self.after_failure_from[i] = now
        self.apply(now, i, decision)

    def installed(self, now: float, i: int) -> None:
        self.failing_since[i] = None
        self.end_after_failure(i)
        index = self.window(now)
        if index is not None:
            self.fresh_at[index].setdefault(i, now)

    def end_after_failure(self, i: int) -> None:
        began, last = self.after_failure_from[i], self.after_failure_last[i]
        if began is not None and last is not None and last > began:
            self.recorder.served_after_failure_seconds += last - began
        self.after_failure_from[i] = self.after_failure_last[i] = None

    def outage_end(self, index: int) -> None:
        if self.scenario.outages[index].kind is OutageKind.INVALID_GRANT:
            for policy in self.policies:
                policy.credential_replaced()


def simulate(
    scenario: Scenario,
    policy: str,
    *,
    config: RefreshConfig | None = None,
    batch: bool = True,
    progress: Callable[[float], None] | None = None,
    name: str | None = None,
) -> Metrics:
    """Run ``policy`` (``"mintgate"`` or a baseline's name) over ``scenario``.

    Args:
        scenario: The fleet, its demand, its endpoint and outages; its seed fixes the run.
        policy: Which policy every instance runs.
        config: mintgate's configuration (ignored by baselines); the defaults if None.
        batch: Serve runs of quiet demands at once (the default); False serves each demand
            through the policy, which gives the same metrics, slower.
        progress: Called with the fraction of simulated time done, about every 1%.
        name: The run's name in its metrics (a configuration variant's); ``policy`` if None.

    Raises:
        ValueError: for an unknown policy name.
    """
    config = RefreshConfig() if config is None else config
    run = _Run(scenario, policy, config, batch=batch, name=policy if name is None else name)
    return run.run(progress)
