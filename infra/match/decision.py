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
    conflict_pairs,
    decide_pairs,
    match_edges,
    vetoed,
)
from identity.types import Identifier
from infra.match.model import TrainedModel
from infra.match.predict import Scored

Keys = Mapping[int, tuple[str, str]] | Sequence[tuple[str, str]]
Anchors = Mapping[int, Identifier] | Sequence[Identifier]


@dataclass(slots=True)
class Scoring:
    """What the model made of a data set: the edges it links, the pairs it leaves for review."""

    edges: list[Edge]
    linked: list[ScoredPair]
    review: list[tuple[ScoredPair, Scored]]
    stats: dict[str, int]
    limits: dict[str, int] = field(default_factory=dict)  # the model's limits for its edges
    conflicts: list[tuple[Identifier, Identifier]] = field(default_factory=list)


def kept(scored: Scored, spec: MatchSpec) -> bool:
    """Whether a scored pair can matter: at or above the review floor (a link or a review), or
    vetoed whatever its probability (a conflict: two members of one household score low and are
    exactly the evidence that keeps their clusters apart). The others are dropped unread."""
    return scored.probability >= spec.review_threshold or vetoed(scored.levels, spec) is not None


def decide_scored(scored: Iterable[Scored], keys: Keys, anchors: Anchors, model: TrainedModel,
                  rows: int, blocked: int) -> Scoring:
    """Decide every kept pair (:func:`kept`; ``scored`` may hold only those) with the pure core.

    ``keys[i]`` / ``anchors[i]`` are the record (source, record id) and record anchor of person
    row ``i``; ``rows`` and ``blocked`` (person rows, blocked pairs scored) only go into the
    stats. The limits are the spec's; the caller narrows them to the types the rules limit.
    """
    spec = model.spec
    kept_rows: list[Scored] = []
    every: list[ScoredPair] = []
    for s in scored:
        if not kept(s, spec):
            continue
        kept_rows.append(s)
        every.append(ScoredPair(
            keys[s.left], keys[s.right], anchors[s.left], anchors[s.right],
            MatchEvidence(spec.rule, model.version, s.probability, round(s.weight, 4), s.levels),
        ))
    decisions = decide_pairs(every, spec)
    linked = [p for p, d in zip(every, decisions, strict=True) if d == "link"]
    review = [(p, s) for p, s, d in zip(every, kept_rows, decisions, strict=True) if d == "review"]
    edges = match_edges(linked, spec)
    conflicts = conflict_pairs(every, spec)
    stats = {"person_rows": rows, "pairs_blocked": blocked,
             "pairs_scored_above_review": sum(1 for s in kept_rows if s.probability >= spec.review_threshold),
             "pairs_linked": len(linked),
             "pairs_review": len(review), "model_edges": len(edges), "model_conflicts": len(conflicts)}
    return Scoring(edges, linked, review, stats, dict(spec.limits), conflicts)
