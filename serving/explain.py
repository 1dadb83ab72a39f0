"""Why two identifiers are one customer: the chain of accepted links between them.

Links come from ``links_by_ucid`` of the customer and of the UCIDs merged into it; the path is
found by the identity core's own :func:`identity.explain.explain` (shortest chain,
deterministic), so the API explains with the same semantics the resolvers use.
"""

from __future__ import annotations

import asyncio
import json

from identity.cluster import Edge
from identity.explain import describe_match, match_evidence
from identity.explain import explain as core_explain
from identity.match import MatchEvidence
from identity.types import Identifier
from infra.store.aio import ApiReads, Row
from serving.profile import members
from serving.resolver import Resolved


def edges_from_links(rows: list[Row]) -> list[Edge]:
    """One :class:`Edge` per identifier pair, with every record that evidences it. A pair the
    match model linked (``match``: its evidence as JSON) keeps that evidence, unless an exact
    link joins the same pair: then the exact rule explains it."""
    evidence: dict[tuple[Identifier, Identifier], set[tuple[str, str]]] = {}
    exact: set[tuple[Identifier, Identifier]] = set()
    model: dict[tuple[Identifier, Identifier], MatchEvidence] = {}
    for row in rows:
        a = (row["from_type"], row["from_value"])
        b = (row["to_type"], row["to_value"])
        if a == b:
            continue
        pair = (a, b) if a < b else (b, a)
        records = evidence.setdefault(pair, set())
        if row.get("source") or row.get("record_id"):
            records.add((row.get("source") or "", row.get("record_id") or ""))
        raw = row.get("match")
        if raw:
            found = match_evidence(row.get("rule") or "model", json.loads(raw))
            if pair not in model or (-found.weight, found.model) < (-model[pair].weight, model[pair].model):
                model[pair] = found
        else:
            exact.add(pair)
    return [Edge(a, b, tuple(sorted(recs)), max(1, len(recs)), None if (a, b) in exact else model.get((a, b)))
            for (a, b), recs in sorted(evidence.items())]


def _step(frm: Identifier, edge: Edge) -> dict:
    to = edge.b if frm == edge.a else edge.a
    step = {
        "from_type": frm[0],
        "from_value": frm[1],
        "to_type": to[0],
        "to_value": to[1],
        "rule": edge.rule,
        "records": [{"source": s, "record_id": r} for s, r in edge.evidence],
    }
    if edge.match is not None:
        m = edge.match
        step["match"] = {
            "model": m.model, "probability": m.probability, "weight": m.weight,
            "comparisons": [{"comparison": lv.comparison, "level": lv.level, "label": lv.label, "weight": lv.weight}
                            for lv in m.levels],
            "summary": describe_match(m),
        }
    return step


async def chain(store: ApiReads, a: Resolved, b: Resolved) -> tuple[list[dict] | None, str]:
    """The walk from ``a`` to ``b`` as steps, and a sentence saying what it shows.

    ``[]`` when they are one identifier; ``None`` when they are different customers, or when the
    links that joined them are not (yet) published for the customer.
    """
    if a.followed.ucid != b.followed.ucid:
        return None, f"different customers: {a.followed.ucid} and {b.followed.ucid}"
    ident_a, ident_b = (a.id_type, a.value), (b.id_type, b.value)
    if ident_a == ident_b:
        return [], "the same identifier"
    survivor = a.followed.ucid
    ucids = await members(store, survivor, tuple(dict.fromkeys(a.followed.merged_from + b.followed.merged_from)))
    parts = await asyncio.gather(*(store.links(u) for u in ucids))
    edges = edges_from_links([row for part in parts for row in part])
    path = core_explain(ident_a, ident_b, edges)
    if path is None:
        return None, f"both resolve to {survivor}, but no chain of published links joins them"
    steps, node = [], ident_a
    for edge in path:
        step = _step(node, edge)
        steps.append(step)
        node = (step["to_type"], step["to_value"])
    return steps, f"{len(steps)} link(s) join them in customer {survivor}"
