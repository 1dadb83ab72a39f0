"""Records and the links they contribute to the identity graph.

A :class:`Record` is one row of one source with its raw identifier values. Normalizing it keeps
the valid, unblocked values of linking types, picks the record's *anchor* (its strongest
identifier) and yields one :class:`Link` from the anchor to each other identifier. A star from
the anchor (instead of every pair) keeps links linear in the record size and makes "the record
belongs to its anchor's cluster" well defined when a limit refuses one of its links.

Hot path: plain slotted dataclasses and tuples, no pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass

from identity.rules import Policy
from identity.types import RECORD_TYPE, Identifier, Rejection


@dataclass(frozen=True, slots=True)
class Record:
    """One source row: ``identifiers`` are ``(type, raw value)`` pairs, values may be ``None``."""

    source: str
    record_id: str
    identifiers: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class NormalizedRecord:
    """A record's usable identifiers, strongest first; ``anchor`` is ``identifiers[0]`` or the
    record's own node (see :func:`record_node`) when it has none."""

    source: str
    record_id: str
    identifiers: tuple[Identifier, ...]
    anchor: Identifier


@dataclass(frozen=True, slots=True)
class Link:
    """Evidence that ``a`` and ``b`` are the same customer: record ``record_id`` of ``source``
    holds both. ``a`` is that record's anchor."""

    a: Identifier
    b: Identifier
    source: str
    record_id: str

    @property
    def rule(self) -> str:
        """The rule that made this link: the pair of identifier types, e.g. ``crm_id~email``."""
        return f"{self.a[0]}~{self.b[0]}"


def record_node(source: str, record_id: str) -> Identifier:
    """The node standing for a record without usable identifiers (source names have no ':')."""
    return (RECORD_TYPE, f"{source}:{record_id}")


class UnknownTypeError(KeyError):
    """A record names an identifier type the registry does not know (a configuration error)."""


def normalize_record(record: Record, policy: Policy) -> tuple[NormalizedRecord, list[Rejection]]:
    """Normalize, validate and block-check every identifier value of ``record``.

    Promises: each non-blank raw value is either kept (if its type links) or returned as a
    :class:`Rejection` carrying the record's source and id; identifiers are de-duplicated and
    ordered by ``(priority, type, value)``, so the anchor does not depend on column order.
    Values of known but non-linking types are validated (and may be rejected) but not kept.
    """
    types = policy.types
    kept: set[Identifier] = set()
    rejections: list[Rejection] = []
    for type_name, raw in record.identifiers:
        if raw is None:
            continue
        ctype = types.get(type_name)
        if ctype is None:
            raise UnknownTypeError(f"{record.source}: unknown identifier type {type_name!r}")
        if not isinstance(raw, str):
            raw = str(raw)
        ident, kind, why = ctype.verdict(raw)
        if kind is not None:
            rejections.append(Rejection(type_name, raw, why or kind, kind, record.source, record.record_id))  # type: ignore[arg-type]
        elif ident is not None and ctype.link:
            kept.add(ident)
    if len(kept) > 1:
        ordered = tuple(sorted(kept, key=lambda i: (types[i[0]].priority, i)))
    else:
        ordered = tuple(kept)
    anchor = ordered[0] if ordered else record_node(record.source, record.record_id)
    return NormalizedRecord(record.source, record.record_id, ordered, anchor), rejections


def record_links(record: NormalizedRecord) -> list[Link]:
    """One link from the anchor to each other identifier of the record (none if it has <= 1)."""
    anchor = record.anchor
    return [Link(anchor, other, record.source, record.record_id) for other in record.identifiers[1:]]


def withhold(record: NormalizedRecord, withheld: frozenset[Identifier] | set[Identifier]) -> NormalizedRecord:
    """``record`` without the identifiers it must not link through (the match model found the
    record to be another person than the other holders of a shared e-mail or phone, see
    :func:`identity.match.withheld_identifiers`): its strongest remaining identifier becomes the
    anchor, or its own node when none is left."""
    kept = tuple(i for i in record.identifiers if i not in withheld)
    if len(kept) == len(record.identifiers):
        return record
    anchor = kept[0] if kept else record_node(record.source, record.record_id)
    return NormalizedRecord(record.source, record.record_id, kept, anchor)
