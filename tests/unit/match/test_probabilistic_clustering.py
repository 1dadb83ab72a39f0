"""Probabilistic edges in the core's clustering: after exact edges, under limits, never across a
conflict, and still decomposable by connected component."""

from __future__ import annotations

import logging
import os
import random

from identity.cluster import Edge, build_edges, cluster_edges, connected_components
from identity.match import Level, MatchEvidence
from identity.records import Link
from identity.resolve import resolve
from identity.records import Record
from identity.rules import compile_rules, rules_from_dict

log = logging.getLogger(__name__)

POLICY = compile_rules(rules_from_dict({
    "types": {"crm_id": {"priority": 1, "limit": 1}, "email": {"priority": 2, "limit": 3}, "phone": {"priority": 3}},
    "max_cluster_identifiers": 6,
}))


def model_edge(a: tuple[str, str], b: tuple[str, str], weight: float = 20.0) -> Edge:
    a, b = min(a, b), max(a, b)
    return Edge(a, b, (("s", f"{a[1]}{b[1]}"),), 1,
                match=MatchEvidence("model:person", "v", 0.9999, weight, (Level("first_name", 3, "exact", 7.0),)))


def crm(x: str) -> tuple[str, str]:
    return ("crm_id", x)


def test_model_edges_obey_limits_unless_the_model_restates_them() -> None:
    edge = model_edge(crm("A"), crm("B"))
    refused = cluster_edges([crm("A"), crm("B")], [edge], POLICY)
    assert refused.cluster_of[crm("A")] != refused.cluster_of[crm("B")]
    assert refused.refused[0].reason.startswith("limit crm_id") and refused.refused[0].edge.rule == "model:person"
    allowed = cluster_edges([crm("A"), crm("B")], [edge], POLICY, match_limits={"crm_id": 2})
    assert allowed.cluster_of[crm("A")] == allowed.cluster_of[crm("B")]
    # the model's limit is for its own edges: an exact crm_id~crm_id edge would still be refused
    exact = Edge(crm("A"), crm("B"), (("s", "1"),))
    assert cluster_edges([], [exact], POLICY, match_limits={"crm_id": 2}).refused


def test_exact_edges_go_first_and_strong_model_edges_before_weak() -> None:
    # A~B exact (email), then the model wants C with A (strong) and C with B's other crm (weak)
    e = ("email", "x@y.com")
    exact = Edge(crm("A"), e, (("s", "1"),))
    strong, weak = model_edge(crm("C"), crm("A"), 30.0), model_edge(crm("C"), e, 10.0)
    got = cluster_edges([], [weak, strong, exact], POLICY, match_limits={"crm_id": 2})
    assert [x.rule for x in got.accepted][:2] == ["crm_id~email", "model:person"]
    assert got.accepted[1] is strong


def test_a_conflict_stops_a_chain_through_a_record_that_resembles_both() -> None:
    # a billing row (anchor BILL) resembles the parent (P) and the son (S); P and S conflict
    bill = ("billing_account", "BILL")
    edges = [model_edge(bill, crm("P"), 25.0), model_edge(bill, crm("S"), 24.0)]
    free = cluster_edges([], edges, POLICY, match_limits={"crm_id": 2})
    assert free.cluster_of[crm("P")] == free.cluster_of[crm("S")]
    kept = cluster_edges([], edges, POLICY, match_limits={"crm_id": 2}, conflicts=[(crm("S"), crm("P"))])
    assert kept.cluster_of[crm("P")] == kept.cluster_of[bill] != kept.cluster_of[crm("S")]
    assert [r.reason.split(":")[0] for r in kept.refused] == ["conflict"]


def test_resolve_links_records_without_identifiers_through_model_edges() -> None:
    records = [Record("crm", "1", (("crm_id", "A"),)), Record("store", "9", (("phone", None),))]
    store_node = ("_record", "store:9")
    result = resolve(records, POLICY, match_edges=[model_edge(crm("A"), store_node)])
    assert result.assignment[("crm", "1")] == result.assignment[("store", "9")]
    assert result.stats["edges_model_accepted"] == 1


def test_with_model_edges_and_conflicts_clustering_by_component_equals_the_whole() -> None:
    seed = int(os.environ.get("UCID_TEST_SEED", random.randrange(2**32)))
    log.info("seed %d", seed)
    rng = random.Random(seed)
    for _ in range(30):
        nodes = [crm(str(i)) for i in range(12)] + [("email", f"e{i}") for i in range(8)]
        links = [Link(rng.choice(nodes), rng.choice(nodes), "s", str(k)) for k in range(10)]
        exact = [e for e in build_edges(links) if e.a[0] != "_record"]
        model = [model_edge(a, b, rng.uniform(5, 40)) for a, b in
                 {tuple(sorted((rng.choice(nodes), rng.choice(nodes)))) for _ in range(10)} if a != b]
        model = [m for m in model if (m.a, m.b) not in {(e.a, e.b) for e in exact}]
        conflicts = [tuple(sorted((rng.choice(nodes), rng.choice(nodes)))) for _ in range(4)]
        whole = cluster_edges(nodes, exact + model, POLICY, {"crm_id": 2}, conflicts)
        # components of every edge *and* conflict (a conflict only matters inside one component)
        graph_links = [Link(e.a, e.b, "s", "x") for e in exact + model]
        parts: dict = {}
        for members in connected_components(nodes, graph_links):
            inside = set(members)
            part = cluster_edges(members, [e for e in exact + model if e.a in inside],
                                 POLICY, {"crm_id": 2}, [c for c in conflicts if c[0] in inside and c[1] in inside])
            parts.update(part.cluster_of)
        assert parts == whole.cluster_of, f"seed {seed}"
