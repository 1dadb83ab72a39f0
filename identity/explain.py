"""Why are two identifiers the same customer? The chain of accepted links between them."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from identity.cluster import Edge
from identity.match import Level, MatchEvidence
from identity.types import Identifier


def explain(a: Identifier, b: Identifier, edges: Iterable[Edge]) -> list[Edge] | None:
    """The shortest chain of accepted edges from ``a`` to ``b``, in walking order.

    Each edge names its rule (the identifier-type pair) and the source records that evidence it.
    Returns ``[]`` when ``a == b`` and ``None`` when they are not connected. Deterministic: among
    shortest chains, neighbours are explored in identifier order.
    """
    if a == b:
        return []
    neighbours: dict[Identifier, list[tuple[Identifier, Edge]]] = {}
    for edge in edges:
        neighbours.setdefault(edge.a, []).append((edge.b, edge))
        neighbours.setdefault(edge.b, []).append((edge.a, edge))
    if a not in neighbours or b not in neighbours:
        return None
    for adjacent in neighbours.values():
        adjacent.sort(key=lambda pair: pair[0])
    came_from: dict[Identifier, tuple[Identifier, Edge] | None] = {a: None}
    queue = deque([a])
    while queue:
        node = queue.popleft()
        if node == b:
            break
        for nxt, edge in neighbours[node]:
            if nxt not in came_from:
                came_from[nxt] = (node, edge)
                queue.append(nxt)
    if b not in came_from:
        return None
    chain: list[Edge] = []
    node = b
    while (step := came_from[node]) is not None:
        node, edge = step
        chain.append(edge)
    chain.reverse()
    return chain


def match_evidence(rule: str, raw: Mapping[str, Any]) -> MatchEvidence:
    """A model link's evidence from its stored form (the gold ``match`` struct, or its JSON in
    ``links_by_ucid.match``: model, probability, weight, levels of comparison, level, label, weight)."""
    levels = tuple(
        Level(str(lv["comparison"]), int(lv["level"]), str(lv.get("label") or ""), float(lv["weight"]))
        for lv in raw.get("levels") or ()
    )
    return MatchEvidence(rule, str(raw["model"]), float(raw["probability"]), float(raw["weight"]), levels)


def describe_match(evidence: MatchEvidence) -> str:
    """A probabilistic link in words a data steward reads: how sure the model is, then what
    spoke for and against the two records being one person, strongest first. Each comparison's
    weight is in bits (log2 of how much likelier its outcome is for one person than for two):
    +6 means 64 times likelier if they are one person."""
    def part(level: Level) -> str:
        label = level.label or f"level {level.level}"
        return f"{level.comparison.replace('_', ' ')}: {label.lower()} ({level.weight:+.1f})"

    ranked = sorted(evidence.levels, key=lambda lv: (-abs(lv.weight), lv.comparison))
    pro = [part(lv) for lv in ranked if lv.weight > 0]
    con = [part(lv) for lv in ranked if lv.weight < 0]
    neutral = [lv.comparison.replace("_", " ") for lv in ranked if lv.weight == 0]
    words = [f"the match model ({evidence.model}) puts the probability that these records are one person at "
             f"{evidence.probability:.4f} (match weight {evidence.weight:+.1f})"]
    if pro:
        words.append("for: " + "; ".join(pro))
    if con:
        words.append("against: " + "; ".join(con))
    if neutral:
        words.append("no evidence either way: " + ", ".join(neutral))
    return ". ".join(words)
