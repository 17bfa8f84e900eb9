"""Which policies a comparison runs: mintgate (with any configuration) and the baselines.

``--policies mintgate,mintgate:breaker_rejecting_cap=30s,refresh_at=0.5,go-oauth2`` names three
runs: mintgate with its defaults, mintgate with two settings changed, and the go-oauth2 model.
A setting is a :class:`~mintgate.policy.RefreshConfig` field, ``key=value``; a bare
``key=value`` after a ``mintgate:`` item belongs to it. Durations read like the command line's
(``30s``, ``5m``); fractions and counts are plain numbers. The whole item is the run's name in
the table, the JSON and the plot.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from mintgate.policy import RefreshConfig
from mintgate.simulations._policies import POLICY_NAMES
from mintgate.simulations._scenario import Preset, parse_duration

__all__ = ["PolicyVariant", "parse_policies", "preset_runs", "variants"]

SETTINGS: tuple[str, ...] = tuple(field.name for field in attrs.fields(RefreshConfig))
_FRACTIONS = frozenset({"refresh_at", "jitter"})
_COUNTS = frozenset({"breaker_threshold"})


@attrs.frozen
class PolicyVariant:
    """One run of a comparison.

    Attributes:
        name: Its name in the table, the JSON and the plot.
        policy: ``"mintgate"`` or a baseline's name.
        config: mintgate's configuration (the defaults for a baseline, which ignores it).
    """

    name: str
    policy: str
    config: RefreshConfig = attrs.field(factory=RefreshConfig)


def _value(key: str, text: str, item: str) -> float | int:
    try:
        if key in _COUNTS:
            return int(text)
        if key in _FRACTIONS:
            return float(text)
        return parse_duration(text)
    except ValueError:
        kind = (
            "a whole number"
            if key in _COUNTS
            else "a number"
            if key in _FRACTIONS
            else "a duration like 30s or 5m"
        )
        raise ValueError(f"policy {item!r}: {key} must be {kind}, got {text!r}") from None


def _variant(item: str, settings: list[str]) -> PolicyVariant:
    name = item if not settings else f"{item},{','.join(settings)}"
    base, _, first = item.partition(":")
    if base not in POLICY_NAMES:
        known = ", ".join(POLICY_NAMES)
        raise ValueError(f"unknown policy {base!r}; known: {known} (or all)")
    pairs = ([first] if first else []) + settings
    if pairs and base != "mintgate":
        raise ValueError(f"policy {name!r}: only mintgate takes settings; {base} is a model")
    if item.endswith(":") and not settings:
        raise ValueError(f"policy {name!r}: a setting is key=value after the colon")
    changes: dict[str, float | int] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        key = key.strip()
        if not equals or not key or not text.strip():
            raise ValueError(f"policy {name!r}: {pair!r} is not key=value")
        if key not in SETTINGS:
            raise ValueError(
                f"policy {name!r}: unknown mintgate setting {key!r}; known: {', '.join(SETTINGS)}"
            )
        if key in changes:
            raise ValueError(f"policy {name!r}: {key} is set twice")
        changes[key] = _value(key, text.strip(), name)
    try:
        config = RefreshConfig(**changes)  # type: ignore[arg-type]
    except ValueError as error:
        raise ValueError(f"policy {name!r}: {str(error).replace('RefreshConfig.', '')}") from None
    return PolicyVariant(name, base, config)


def parse_policies(text: str) -> tuple[PolicyVariant, ...]:
    """The runs ``text`` names (``all``: mintgate and every baseline).

    Raises:
        ValueError: naming the item and what is wrong with it.
    """
    if text.strip() == "all":
        return variants(POLICY_NAMES)
    groups: list[tuple[str, list[str]]] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if "=" in item and ":" not in item:  # key=value: continues the item before it
            if not groups or not groups[-1][0].startswith("mintgate:"):
                raise ValueError(
                    f"setting {item!r} must follow a mintgate:key=value item "
                    "(e.g. mintgate:refresh_at=0.5,jitter=0.2)"
                )
            groups[-1][1].append(item)
        else:
            groups.append((item, []))
    if not groups:
        raise ValueError(f"no policy in {text!r}; known: {', '.join(POLICY_NAMES)} (or all)")
    found = tuple(_variant(item, settings) for item, settings in groups)
    names = [variant.name for variant in found]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"policy {twice[0]!r} is named twice")
    return found


def variants(names: Iterable[str]) -> tuple[PolicyVariant, ...]:
    """Runs of the named policies, each with mintgate's default configuration."""
    return tuple(PolicyVariant(name, name) for name in names)


def preset_runs(preset: Preset) -> tuple[PolicyVariant, ...]:
    """What a preset compares: mintgate, its configuration variants, then the baselines."""
    first, *rest = variants(preset.policies)
    extra = parse_policies(",".join(preset.variants)) if preset.variants else ()
    return (first, *extra, *rest)
