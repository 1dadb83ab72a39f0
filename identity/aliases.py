"""Following a UCID to the live UCID it stands for: the one semantics every layer uses.

A UCID is ``live``, ``merged`` into another UCID, or ``retired``; a merged UCID points at its
survivor, which may itself have been merged since. :func:`follow_steps` walks that chain without
doing any I/O: it yields each UCID it needs and is sent back what the store knows of it (a
:class:`UcidRecord`, or ``None`` for no row). :func:`follow` drives it with a plain lookup
function; the async serving store drives the same generator with awaited reads. So the hop
limit, the refusal of cycles and the answer for a missing row are decided here, once:

* ``live``: the live UCID, with the chain of merged UCIDs walked to reach it;
* ``retired``: no live UCID (the customer's identifiers are gone);
* ``missing``: the UCID asked for was never issued (no row);
* ``broken``: a merged UCID without a survivor, or a survivor without a row (a writer broke the
  contract: the ``ucids`` row is written before anything points at it);
* ``cycle``: the chain comes back to a UCID already walked (refused, never looped);
* ``too_long``: more than ``max_hops`` merges (merges collapse chains, so this is a fault too).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Literal

MAX_ALIAS_HOPS = 8

Outcome = Literal["live", "retired", "missing", "broken", "cycle", "too_long"]


@dataclass(frozen=True, slots=True)
class UcidRecord:
    """What a store holds of one UCID: its status and, when merged, the UCID it went into."""

    status: str | None
    merged_into: str | None = None
    minted_at: int | None = None  # epoch milliseconds, when known


@dataclass(frozen=True, slots=True)
class Followed:
    """Where a UCID leads: the live ``ucid`` (``None`` unless ``outcome`` is ``live``), the
    merged UCIDs walked to reach it (first = the one asked for) and the live UCID's record."""

    ucid: str | None
    chain: tuple[str, ...]
    outcome: Outcome
    record: UcidRecord | None = None

    @property
    def found(self) -> bool:
        return self.outcome == "live"


def follow_steps(start: str, max_hops: int = MAX_ALIAS_HOPS) -> Generator[str, UcidRecord | None, Followed]:
    """The walk from ``start``, as a generator: yields a UCID to look up, is sent its record,
    returns the :class:`Followed` answer. At most ``max_hops + 1`` lookups."""
    chain: list[str] = []
    current = start
    for _ in range(max_hops + 1):
        record = yield current
        if record is None:
            return Followed(None, tuple(chain), "broken" if chain else "missing")
        if record.status == "live":
            return Followed(current, tuple(chain), "live", record)
        if record.status == "retired":
            return Followed(None, tuple(chain), "retired")
        if record.status != "merged" or not record.merged_into:
            return Followed(None, tuple(chain), "broken")
        chain.append(current)
        if record.merged_into in chain:
            return Followed(None, tuple(chain), "cycle")
        current = record.merged_into
    return Followed(None, tuple(chain), "too_long")


def follow(start: str, lookup: Callable[[str], UcidRecord | None], max_hops: int = MAX_ALIAS_HOPS) -> Followed:
    """Follow ``start`` to its live UCID, reading records with ``lookup`` (see module doc)."""
    steps = follow_steps(start, max_hops)
    wanted = next(steps)
    while True:
        try:
            wanted = steps.send(lookup(wanted))
        except StopIteration as done:
            return done.value
