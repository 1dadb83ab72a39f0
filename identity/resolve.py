"""Batch resolution: records + policy + previous state -> UCID per record, new state, change log.

This is the whole pipeline in one pure function for a single process (the local command, tests,
small deployments). The Spark batch layer runs the same steps distributed: normalize records
(:func:`~identity.records.normalize_record`), compute raw connected components of the links,
run :func:`~identity.cluster.cluster_component` per component, then
:func:`~identity.ucids.assign_ucids`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from identity.cluster import Clustering, Edge, Refusal, build_edges, cluster_edges
from identity.records import Link, Record, normalize_record, record_links, withhold
from identity.rules import Policy
from identity.types import RECORD_TYPE, Identifier, Rejection
from identity.ucids import ChangeEvent, State, assign_ucids

Progress = Callable[[str, int], None]
"""``progress(stage, n)``: ``n`` more units of ``stage`` done (stages: normalize, cluster, assign)."""

_TICK = 5000


@dataclass(slots=True)
class Resolution:
    """Everything one resolution run produced."""

    assignment: dict[tuple[str, str], str]  # (source, record_id) -> UCID
    state: State
    events: list[ChangeEvent]
    clustering: Clustering
    rejections: list[Rejection]
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def refused(self) -> list[Refusal]:
        return self.clustering.refused


def resolve(
    records: Iterable[Record],
    policy: Policy,
    previous: State | None = None,
    now: int = 0,
    progress: Progress | None = None,
    match_edges: Iterable[Edge] = (),
    match_limits: Mapping[str, int] | None = None,
    conflicts: Iterable[tuple[Identifier, Identifier]] = (),
    withheld: Mapping[tuple[str, str], frozenset[Identifier]] | None = None,
) -> Resolution:
    """Resolve ``records`` against ``previous`` at logical time ``now``.

    Promises: the result does not depend on record order; resolving the same records again with
    the returned state as ``previous`` changes nothing; records with new, unrelated identifiers
    leave every existing UCID alone; every cluster respects the policy's limits; every alias
    resolves to a live UCID. Each record is assigned its anchor's cluster; a record with no
    usable identifier is a cluster of its own. Rows repeating a ``(source, record_id)`` each
    contribute their own links, and the record takes the strongest of their anchors (counted
    in ``stats['duplicate_rows']``).

    ``match_edges`` are the match model's edges between record anchors
    (:func:`identity.match.match_edges`); they are clustered with the exact ones, after them,
    under the same limits (``match_limits`` may re-state some for them) and size guard, and
    never across ``conflicts`` (:func:`identity.match.conflict_pairs`). ``withheld``: record ->
    identifiers of a shared type it does not link through (:func:`identity.match.withheld_identifiers`:
    the model found it to be another person than the identifier's other holders); the record is
    anchored on its other identifiers (:func:`identity.records.withhold`).
    """
    tick = progress or (lambda stage, n: None)
    anchors: dict[tuple[str, str], Identifier] = {}
    rejections: list[Rejection] = []
    types = policy.types
    counter = Counter()

    def links() -> Iterator[Link]:
        done = 0
        for record in records:
            norm, rejected = normalize_record(record, policy)
            if rejected:
                rejections.extend(rejected)
            key = (record.source, record.record_id)
            if withheld:
                drop = withheld.get(key)
                if drop:
                    norm = withhold(norm, drop)
                    counter["records_withholding"] += 1
            prev = anchors.get(key)
            if prev is None:
                anchors[key] = norm.anchor
            else:
                counter["duplicate_rows"] += 1
                anchors[key] = min(prev, norm.anchor, key=lambda i: _anchor_key(types, i))
            yield from record_links(norm)
            done += 1
            if done % _TICK == 0:
                tick("normalize", _TICK)
        tick("normalize", done % _TICK)

    edges = build_edges(links())
    model_edges = list(match_edges)
    edges.extend(model_edges)
    nodes = set(anchors.values())
    tick("cluster", 0)
    clustering = cluster_edges(nodes, edges, policy, match_limits, conflicts)
    tick("cluster", 1)
    state, ucid_for, events = assign_ucids(clustering, previous or State(), now)
    tick("assign", 1)
    cluster_of = clustering.cluster_of
    # reuse the anchors dict for the assignment: one entry per record is the bulk of the memory
    assignment: dict[tuple[str, str], str] = anchors  # type: ignore[assignment]
    without_identifiers = 0
    for key, anchor in anchors.items():
        if anchor[0] == RECORD_TYPE:
            without_identifiers += 1
        assignment[key] = ucid_for[cluster_of[anchor]]

    sizes = Counter(cluster_of.values())
    record_sizes = Counter(assignment.values())
    counter.update(
        records=len(assignment),
        records_without_identifiers=without_identifiers,
        identifiers=sum(1 for n in cluster_of if n[0] != RECORD_TYPE),
        edges=len(clustering.accepted) + len(clustering.refused),
        edges_accepted=len(clustering.accepted),
        edges_refused=len(clustering.refused),
        edges_model=len(model_edges),
        edges_model_accepted=sum(1 for e in clustering.accepted if e.match is not None),
        clusters=len(sizes),
        largest_cluster_identifiers=max(sizes.values(), default=0),
        largest_cluster_records=max(record_sizes.values(), default=0),
        rejected_invalid=sum(1 for r in rejections if r.kind == "invalid"),
        rejected_blocked=sum(1 for r in rejections if r.kind == "blocked"),
    )
    counter.update(f"events_{e.kind}" for e in events)
    return Resolution(assignment, state, events, clustering, rejections, dict(counter))


def _anchor_key(types: dict, node: Identifier) -> tuple:
    if node[0] == RECORD_TYPE:
        return (1, 0, node)  # a real identifier always beats the record's own node
    return (0, types[node[0]].priority, node)
