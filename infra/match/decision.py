"""Scored pairs -> the model's word on a data set: edges, pairs for review, conflicts.

Where Splink's rows (:class:`~infra.match.predict.Scored`, from DuckDB or Spark) meet the pure
decision of :mod:`identity.match` (:func:`~identity.match.decide_pairs`,
:func:`~identity.match.match_edges`, :func:`~identity.match.conflict_pairs`). The local command
and the Spark batch both call :func:`decide_scored`, so a pair is decided the same way whichever
backend scored it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from identity.cluster import Edge
from identity.match import (
    MatchEvidence,
    MatchSpec,
    ScoredPair,
    anchor_without,
    conflict_pairs,
    decide_pairs,
    match_edges,
    vetoed,
    withheld_identifiers,
)
from identity.types import Identifier
from infra.match.model import TrainedModel
from infra.match.predict import Scored

Keys = Mapping[int, tuple[str, str]] | Sequence[tuple[str, str]]
Anchors = Mapping[int, Identifier] | Sequence[Identifier]
Identifiers = Mapping[int, Sequence[Identifier]] | Sequence[Sequence[Identifier]]


@dataclass(slots=True)
class Scoring:
    """What the model made of a data set: the edges it links, the pairs it leaves for review."""

    edges: list[Edge]
    linked: list[ScoredPair]
    review: list[tuple[ScoredPair, Scored]]
    stats: dict[str, int]
    limits: dict[str, int] = field(default_factory=dict)  # the model's limits for its edges
    conflicts: list[tuple[Identifier, Identifier]] = field(default_factory=list)
    # record -> identifiers of a shared type it does not link through (identity.match.withheld_identifiers)
    withheld: dict[tuple[str, str], frozenset[Identifier]] = field(default_factory=dict)


def kept(scored: Scored, spec: MatchSpec) -> bool:
    """Whether a scored pair can matter: at or above the review floor (a link or a review), or
    vetoed whatever its probability (a conflict: two members of one household score low and are
    exactly the evidence that keeps their clusters apart), or holding one value of a shared
    identifier column (e-mail, phone: whether its records corroborate each other decides who
    links through it, :func:`identity.match.withheld_identifiers`). The others are dropped unread."""
    if scored.probability >= spec.review_threshold or vetoed(scored.levels, spec) is not None:
        return True
    shared = spec.shared
    return bool(shared) and any(c in shared and lv is not None and lv == rv for c, lv, rv in scored.values)


def decide_scored(scored: Iterable[Scored], keys: Keys, anchors: Anchors, model: TrainedModel,
                  rows: int, blocked: int, identifiers: Identifiers | None = None,
                  trust: Mapping[str, int] | None = None) -> Scoring:
    """Decide every kept pair (:func:`kept`; ``scored`` may hold only those) with the pure core.

    ``keys[i]`` / ``anchors[i]`` are the record (source, record id) and record anchor of person
    row ``i``; ``rows`` and ``blocked`` (person rows, blocked pairs scored) only go into the
    stats. The limits are the spec's; the caller narrows them to the types the rules limit.

    ``identifiers[i]`` (person row ``i``'s valid, unblocked identifiers, strongest first) and
    ``trust`` (source -> priority) decide which records withhold a shared e-mail or phone from
    exact linking (:func:`identity.match.withheld_identifiers`, returned as ``withheld``); those
    records are re-anchored on their other identifiers before their pairs become edges,
    conflicts and review rows. Without ``identifiers`` nothing is withheld.
    """
    spec = model.spec
    version = model.version  # a hash of the whole model, term frequencies included: once, not per pair
    kept_rows: list[Scored] = []
    every: list[ScoredPair] = []
    for s in scored:
        if not kept(s, spec):
            continue
        kept_rows.append(s)
        every.append(ScoredPair(
            keys[s.left], keys[s.right], anchors[s.left], anchors[s.right],
            MatchEvidence(spec.rule, version, s.probability, round(s.weight, 4), s.levels),
        ))
    withheld: dict[tuple[str, str], frozenset[Identifier]] = {}
    if identifiers is not None and spec.shared:
        held = {}
        for s in kept_rows:
            for i in (s.left, s.right):
                held.setdefault(keys[i], identifiers[i])
        withheld = withheld_identifiers(every, held, spec, trust)
        if withheld:
            moved = {key: anchor_without(key, held[key], drop) for key, drop in withheld.items()}
            every = [
                ScoredPair(p.left, p.right, moved.get(p.left, p.left_anchor), moved.get(p.right, p.right_anchor),
                           p.evidence) if p.left in moved or p.right in moved else p
                for p in every
            ]
    decisions = decide_pairs(every, spec)
    linked = [p for p, d in zip(every, decisions, strict=True) if d == "link"]
    review = [(p, s) for p, s, d in zip(every, kept_rows, decisions, strict=True) if d == "review"]
    edges = match_edges(linked, spec)
    conflicts = conflict_pairs(every, spec)
    stats = {"person_rows": rows, "pairs_blocked": blocked,
             "pairs_scored_above_review": sum(1 for s in kept_rows if s.probability >= spec.review_threshold),
             "pairs_linked": len(linked),
             "pairs_review": len(review), "model_edges": len(edges), "model_conflicts": len(conflicts),
             "records_withholding": len(withheld)}
    return Scoring(edges, linked, review, stats, dict(spec.limits), conflicts, withheld)
