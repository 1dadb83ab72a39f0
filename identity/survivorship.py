"""Survivorship: which value of a profile attribute wins when sources disagree.

One rule per attribute (``rules.yaml`` ``survivorship:``, with a default):

* ``source_priority`` -- the most trusted source (lowest priority number) wins;
* ``most_recent``     -- the latest ``event_time`` wins;
* ``most_frequent``   -- the value seen most often wins.

Ties always fall through to the other criteria and finally to the value itself, so the result
never depends on the order of the candidates. Blank values (``None``, ``""``) never win.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from identity.rules import SurvivorshipConfig, SurvivorshipRule


@dataclass(frozen=True, slots=True)
class Candidate:
    """One observed value: ``source_priority`` 1 is the most trusted; ``event_time`` is any
    comparable (epoch number or ISO-8601 string, not mixed); ``None`` counts as the oldest."""

    value: Any
    source_priority: int
    event_time: Any = None


def _time_key(t: Any) -> tuple[int, Any]:
    return (0, 0) if t is None else (1, t)


def _value_key(v: Any) -> tuple[str, str]:
    # the final tie-break must be total even across types (e.g. 3 vs "3")
    return (type(v).__name__, repr(v))


def survive(candidates: Iterable[Candidate], rule: SurvivorshipRule) -> Any:
    """The surviving value under ``rule``, or ``None`` if no candidate has a value."""
    present = [c for c in candidates if c.value is not None and c.value != ""]
    if not present:
        return None
    if rule == "source_priority":
        # best priority, then newest, then smallest value
        best = max(present, key=lambda c: (-c.source_priority, _time_key(c.event_time), _neg(c.value)))
        return best.value
    if rule == "most_recent":
        best = max(present, key=lambda c: (_time_key(c.event_time), -c.source_priority, _neg(c.value)))
        return best.value
    if rule == "most_frequent":
        stats: dict[tuple[str, str], list[Any]] = {}
        for c in present:
            key = _value_key(c.value)
            s = stats.get(key)
            if s is None:
                stats[key] = [1, _time_key(c.event_time), -c.source_priority, c.value]
            else:
                s[0] += 1
                s[1] = max(s[1], _time_key(c.event_time))
                s[2] = max(s[2], -c.source_priority)
        # most often, then most recently seen, then best source, then smallest value
        winner = max(stats.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[1][2], _neg(kv[1][3])))
        return winner[1][3]
    raise ValueError(f"unknown survivorship rule {rule!r}")


class _neg:
    """Reverses the value order inside ``max`` so that the *smallest* value wins a tie."""

    __slots__ = ("key",)

    def __init__(self, value: Any) -> None:
        self.key = _value_key(value)

    __hash__ = None  # type: ignore[assignment]

    def __lt__(self, other: _neg) -> bool:
        return self.key > other.key

    def __gt__(self, other: _neg) -> bool:
        return self.key < other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _neg) and self.key == other.key


def survive_profile(
    attributes: Mapping[str, Iterable[Candidate]], config: SurvivorshipConfig
) -> dict[str, Any]:
    """Apply each attribute's rule; attributes whose candidates are all blank are left out."""
    out = {}
    for name in sorted(attributes):
        value = survive(attributes[name], config.rule_for(name))
        if value is not None:
            out[name] = value
    return out
