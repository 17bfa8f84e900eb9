"""What a simulated fleet looks like: instances, demand, token endpoint, outages, and presets.

A :class:`Scenario` is plain validated data; the same scenario and seed always give the same
run. Durations on the command line are written like ``90s``, ``20m``, ``3h`` or ``1h30m``, and an
outage like ``3h+20m:503`` (starts 3 h in, lasts 20 min, the endpoint answers 503).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable
from typing import Any

import attrs

from mintgate.simulations._policies import POLICY_NAMES

__all__ = [
    "MAX_DURATION",
    "MAX_INSTANCES",
    "PRESETS",
    "Outage",
    "OutageKind",
    "Preset",
    "Scenario",
    "format_duration",
    "parse_duration",
    "parse_outage",
]

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``"90"``, ``"90s"``, ``"20m"``, ``"3h"``, ``"1h30m"``, ``"250ms"``.

    Raises:
        ValueError: naming the text when it is not a duration.
    """
    stripped = text.strip()
    if stripped.startswith("-"):
        raise ValueError(f"{text!r} is negative: a duration is 0 or more")
    try:
        return _non_negative(float(stripped), text)
    except ValueError:
        pass
    parts = _DURATION.findall(stripped)
    if not parts or "".join(n + u for n, u in parts) != stripped:
        raise ValueError(f"{text!r} is not a duration (write it like 90s, 20m, 3h or 1h30m)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _non_negative(value: float, text: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a duration (it must be a finite number >= 0)")
    return value


def format_duration(seconds: float) -> str:
    """``3h20m``, ``45s``, ``1.5s``: the short form :func:`parse_duration` reads back."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    hours, minutes, secs = whole // 3600, whole % 3600 // 60, whole % 60
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


class OutageKind(enum.Enum):
    """How the token endpoint misbehaves during an outage."""

    UNAVAILABLE = "503"
    """It answers HTTP 503 after its usual latency."""
    RATE_LIMITED = "429"
    """It answers HTTP 429 with ``Retry-After: 60``."""
    HANG = "hang"
    """It never answers; the caller's request timeout cuts the request."""
    INVALID_GRANT = "invalid_grant"
    """The credential is revoked: HTTP 400 ``invalid_grant``; re-provisioned when it ends."""


@attrs.frozen
class Outage:
    """A window of the run during which the token endpoint misbehaves.

    Args:
        start: Seconds into the run.
        duration: How long it lasts, in seconds (> 0).
        kind: How it misbehaves.
    """

    start: float
    duration: float
    kind: OutageKind = OutageKind.UNAVAILABLE

    def __attrs_post_init__(self) -> None:
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ValueError(f"an outage must start at a time >= 0, not {self.start!r}")
        if not (math.isfinite(self.duration) and self.duration > 0):
            raise ValueError(f"an outage must last more than 0 s, not {self.duration!r}")

    @property
    def end(self) -> float:
        return self.start + self.duration

    def __str__(self) -> str:
        return f"{format_duration(self.start)}+{format_duration(self.duration)}:{self.kind.value}"


def parse_outage(text: str) -> Outage:
    """``"3h+20m:503"`` -> an :class:`Outage`; the kind defaults to 503.

    Raises:
        ValueError: naming what is wrong with ``text``.
    """
    window, _, kind_text = text.partition(":")
    start, plus, duration = window.partition("+")
    if not plus:
        raise ValueError(f"outage {text!r} must look like START+DURATION[:KIND], e.g. 3h+20m:503")
    kinds = {k.value: k for k in OutageKind}
    kind = kinds.get(kind_text or "503")
    if kind is None:
        raise ValueError(
            f"outage {text!r} has an unknown kind {kind_text!r}; known: {', '.join(kinds)}"
        )
    return Outage(parse_duration(start), parse_duration(duration), kind)


def _outages(value: Iterable[Outage]) -> tuple[Outage, ...]:
    return tuple(value)


MAX_INSTANCES = 100_000
"""The largest fleet a scenario may hold: every instance's state is kept in memory."""

MAX_DURATION = 7 * 86400.0
"""The longest run a scenario may last (a week): its per-minute series are kept in memory."""


def _instances(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Scenario.{attribute.name} must be an integer >= 1, got {value!r}")
    if value > MAX_INSTANCES:
        raise ValueError(
            f"Scenario.{attribute.name} must be at most {MAX_INSTANCES:,} (the simulator keeps "
            f"every instance in memory), got {value:,}"
        )


def _run_length(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _seconds(0, strict=True)(instance, attribute, value)
    if value > MAX_DURATION:
        raise ValueError(
            f"Scenario.{attribute.name} must be at most {format_duration(MAX_DURATION)} "
            f"(a week), got {format_duration(value)}"
        )


def _seconds(minimum: float, *, strict: bool = False) -> Any:
    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (value > minimum if strict else value >= minimum)
        if not ok:
            relation = ">" if strict else ">="
            raise ValueError(
                f"Scenario.{attribute.name} must be a number {relation} {minimum:g}, got {value!r}"
            )

    return check


@attrs.frozen
class Scenario:
    """A fleet, its demand, its token endpoint and its outages. Durations are in seconds.

    Args:
        instances: How many processes hold the credential, each with its own policy state
            (at most :data:`MAX_INSTANCES`).
        duration: How long the run lasts (at most :data:`MAX_DURATION`).
        lifetime: How long each token lives.
        demand_every: Each instance wants a token this often (one caller at a time).
        start_spread: Instances start at uniform random times in ``[0, start_spread)``; 0
            starts them all together.
        max_skew: Each instance's clock is off by a uniform amount in ``[-max_skew, max_skew]``.
            The endpoint states expiry as an absolute time (like AWS ``Expiration`` or a JWT's
            ``exp``), so a clock that runs behind believes its token lives longer.
        latency: The endpoint's median latency; latencies are log-normal with sigma 0.5.
        capacity: Requests per second the endpoint accepts; beyond that it answers 429 with
            ``Retry-After: 1`` (None: no limit).
        request_timeout: Every policy's request is cut after this long (mintgate's
            ``mint_timeout`` default).
        outages: When the endpoint misbehaves, and how.
        seed: The seed of every random stream: the same seed gives the same run.
    """

    instances: int = attrs.field(default=500, validator=_instances)
    duration: float = attrs.field(default=8 * 3600.0, validator=_run_length)
    lifetime: float = attrs.field(default=3600.0, validator=_seconds(0, strict=True))
    demand_every: float = attrs.field(default=10.0, validator=_seconds(0, strict=True))
    start_spread: float = attrs.field(default=3600.0, validator=_seconds(0))
    max_skew: float = attrs.field(default=2.0, validator=_seconds(0))
    latency: float = attrs.field(default=0.1, validator=_seconds(0, strict=True))
    capacity: float | None = attrs.field(default=None)
    request_timeout: float = attrs.field(default=10.0, validator=_seconds(0, strict=True))
    outages: tuple[Outage, ...] = attrs.field(default=(), converter=_outages)
    seed: int = 1

    @capacity.validator
    def _check_capacity(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            _seconds(0, strict=True)(self, attribute, value)

    def __attrs_post_init__(self) -> None:
        for outage in self.outages:
            if not isinstance(outage, Outage):
                raise ValueError(f"Scenario.outages must hold Outage values, got {outage!r}")
            if outage.start >= self.duration:
                raise ValueError(
                    f"outage {outage} starts after the run ends "
                    f"({format_duration(self.duration)}): move it or lengthen the run"
                )

    def describe(self) -> str:
        """One line a reader can reproduce the run from."""
        outages = ", ".join(str(o) for o in self.outages) or "none"
        capacity = "unlimited" if self.capacity is None else f"{self.capacity:g} req/s"
        return (
            f"{self.instances} instances x {format_duration(self.duration)}, "
            f"{format_duration(self.lifetime)} tokens, a demand every "
            f"{format_duration(self.demand_every)} per instance, starts spread over "
            f"{format_duration(self.start_spread)}, clock skew up to "
            f"{format_duration(self.max_skew)}, latency {format_duration(self.latency)}, "
            f"capacity {capacity}, outages {outages}, seed {self.seed}"
        )


@attrs.frozen
class Preset:
    """A named scenario, the policies worth comparing on it, and why it exists.

    Attributes:
        variants: mintgate configurations compared beside its defaults, written as
            ``--policies`` takes them (``mintgate:breaker_rejecting_cap=30s``).
    """

    scenario: Scenario
    policies: tuple[str, ...]
    about: str
    variants: tuple[str, ...] = ()


_SHORT_CAP = ("mintgate:breaker_rejecting_cap=30s",)
"""The configuration each preset shows beside the defaults: a breaker that probes every 30 s at
most (not 60 s) while it refuses callers: faster recovery, for more probes."""

PRESETS: dict[str, Preset] = {
    "fleet-outage": Preset(
        Scenario(outages=(Outage(3 * 3600.0, 20 * 60.0),)),
        POLICY_NAMES,
        "500 instances, 8 h of 1-hour tokens, a 20-minute 503 outage of the token endpoint "
        "3 h in: who fails callers, who hammers the endpoint, who recovers when",
        _SHORT_CAP,
    ),
    "short-tokens": Preset(
        Scenario(
            instances=200,
            duration=4 * 3600.0,
            lifetime=300.0,
            outages=(Outage(2 * 3600.0, 180.0),),
        ),
        ("mintgate", "go-oauth2", "authlib", "google-auth", "azure-identity"),
        "200 instances, 4 h of 5-minute tokens, a 3-minute outage: refresh windows sized for "
        "hour-long tokens meet short ones (botocore and the AWS model are left out: their "
        "10-minute and 5-minute windows exceed the token's life, so every token is refused or "
        "refreshed on arrival)",
        _SHORT_CAP,
    ),
    "thundering-herd": Preset(
        Scenario(
            instances=1000,
            duration=4 * 3600.0,
            start_spread=0.0,
            capacity=100.0,
            outages=(Outage(6600.0, 1800.0),),
        ),
        POLICY_NAMES,
        "1,000 instances started in the same second against an endpoint that takes 100 req/s, "
        "and a 30-minute outage 1h50m in, over the refresh points of every policy: "
        "synchronized fleets, and what an outage costs them",
        _SHORT_CAP,
    ),
}
