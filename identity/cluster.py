"""Limit-aware clustering of identifiers: deterministic, order independent, decomposable.

Nodes are identifiers. Links (one per record and identifier pair) are first collapsed into
:class:`Edge` s -- one per identifier pair, carrying every record that evidences it -- and then
applied in one *total order* that does not depend on input order:

    (weaker endpoint priority, stronger endpoint priority, -support, a, b)

so links between strong identifiers go first, and among equals the pair seen in more source
rows wins. Probabilistic edges (``edge.match`` set, see :mod:`identity.match`) come after every
exact one, strongest match weight first: an exact shared identifier outranks any resemblance. An edge unites two clusters only if the result respects every per-type limit and the
max-cluster-size guard; otherwise it is refused, with its reason, and kept as evidence.

Decomposability (what the Spark batch layer relies on): an edge's decision depends only on the
clusters of its own endpoints, which are built only from earlier edges of the same connected
component. Clustering all links therefore equals clustering each connected component of the
link graph separately (:func:`cluster_component`) and taking the union; the total order
restricted to a component is the component's own order. ``tests/unit/identity`` checks it.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from identity.records import Link
from identity.rules import Policy
from identity.types import Identifier

if TYPE_CHECKING:
    from identity.match import MatchEvidence

EVIDENCE_SAMPLE = 8
"""Records kept as evidence per edge: the smallest ``(source, record_id)`` ones, so the sample is
order independent. ``support`` still counts them all. A login cookie can be seen in thousands of
events; keeping every one would cost memory and explain nothing more."""


@dataclass(frozen=True, slots=True)
class Edge:
    """All evidence for one identifier pair; ``a < b``. ``support`` is the number of links (source
    rows) seen for the pair; ``evidence`` the sorted first :data:`EVIDENCE_SAMPLE` records.
    ``match`` is set on a probabilistic edge: the model's evidence for its best record pair."""

    a: Identifier
    b: Identifier
    evidence: tuple[tuple[str, str], ...]
    support: int = 1
    match: MatchEvidence | None = None

    @property
    def rule(self) -> str:
        """``crm_id~email`` for an exact edge, the model's rule (``model:person``) otherwise."""
        if self.match is not None:
            return self.match.rule
        return f"{self.a[0]}~{self.b[0]}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An edge that was not applied because it would have broken ``reason`` (a limit, the size
    guard). Kept as evidence: the two identifiers co-occur, but are not merged."""

    edge: Edge
    reason: str


@dataclass(slots=True)
class Clustering:
    """Result of clustering: every node's cluster key (its cluster's smallest identifier)."""

    cluster_of: dict[Identifier, Identifier]
    accepted: list[Edge] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def members(self) -> dict[Identifier, list[Identifier]]:
        """Cluster key -> sorted member identifiers."""
        out: dict[Identifier, list[Identifier]] = {}
        for node, key in self.cluster_of.items():
            out.setdefault(key, []).append(node)
        for nodes in out.values():
            nodes.sort()
        return out


class LimitedUnionFind:
    """Union-find (path halving, union by size) that refuses unions breaking per-type limits.

    Per-type counts are materialized only for roots of merged clusters, so a million singleton
    nodes cost an int each, not a list each. Shared by batch clustering and speed-layer stitching
    so both apply exactly the same limit arithmetic.
    """

    __slots__ = ("parent", "size", "kind", "counts", "limit_names", "limit_values", "max_size", "_kind_of",
                 "held_over")

    def __init__(self, limits: Mapping[str, int], max_size: int | None = None, held_over: bool = False) -> None:
        """``held_over``: a group (:meth:`add_group`) may already hold more of a type than its
        limit -- a current UCID joined by the match model under its own limits (``crm_id: 2``) --
        and a union adding no identifier of that type does not break it. The batch applies every
        exact edge before the model's, so an exact edge there never meets such a cluster; the
        speed layer stitches exact links to clusters the model already joined, and with this
        gives them the batch's answer (an e-mail still attaches to a customer with two CRM ids)."""
        self.limit_names = sorted(limits)  # sorted: the first broken limit named is deterministic
        self.limit_values = [limits[n] for n in self.limit_names]
        self._kind_of = {n: i for i, n in enumerate(self.limit_names)}
        self.max_size = max_size
        self.held_over = held_over
        self.parent: list[int] = []
        self.size: list[int] = []  # identifiers in the cluster (valid at roots)
        self.kind: list[int] = []  # limited-type index of a singleton node, -1 if unlimited
        self.counts: dict[int, list[int]] = {}  # root -> per limited type counts, merged roots only

    def add(self, type_name: str) -> int:
        """Add a single identifier of ``type_name``; return its node index."""
        i = len(self.parent)
        self.parent.append(i)
        self.size.append(1)
        self.kind.append(self._kind_of.get(type_name, -1))
        return i

    def add_group(self, type_counts: Mapping[str, int]) -> int:
        """Add an existing cluster (speed layer: a current UCID) with these per-type counts."""
        i = len(self.parent)
        self.parent.append(i)
        self.size.append(max(1, sum(type_counts.values())))
        self.kind.append(-1)
        self.counts[i] = [type_counts.get(n, 0) for n in self.limit_names]
        return i

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def _counts(self, root: int) -> list[int]:
        got = self.counts.get(root)
        if got is not None:
            return got
        vec = [0] * len(self.limit_names)
        if self.kind[root] >= 0:
            vec[self.kind[root]] = 1
        return vec

    def check(self, ra: int, rb: int) -> str | None:
        """Why roots ``ra`` and ``rb`` may not merge, or ``None`` if they may."""
        if self.max_size is not None and self.size[ra] + self.size[rb] > self.max_size:
            return f"max_cluster_identifiers: {self.size[ra] + self.size[rb]} > {self.max_size}"
        ka, kb = self.kind[ra], self.kind[rb]
        if ra not in self.counts and rb not in self.counts:
            # fast path: two singletons break a limit only if both are of one limited type
            if ka >= 0 and ka == kb and self.limit_values[ka] < 2:
                return f"limit {self.limit_names[ka]}: 2 > {self.limit_values[ka]}"
            return None
        ca, cb = self._counts(ra), self._counts(rb)
        for k, limit in enumerate(self.limit_values):
            if ca[k] + cb[k] > limit and not (self.held_over and (ca[k] == 0 or cb[k] == 0)):
                return f"limit {self.limit_names[k]}: {ca[k] + cb[k]} > {limit}"
        return None

    def union(self, x: int, y: int, limit_values: list[int] | None = None) -> str | None:
        """Merge the clusters of ``x`` and ``y`` unless that breaks a limit; return the reason
        for refusing, or ``None`` (merged, or already one cluster). ``limit_values`` replaces
        the limits for this one union (same order as ``limit_names``)."""
        ra, rb = self.find(x), self.find(y)
        if ra == rb:
            return None
        if limit_values is None:
            reason = self.check(ra, rb)
        else:
            saved, self.limit_values = self.limit_values, limit_values
            try:
                reason = self.check(ra, rb)
            finally:
                self.limit_values = saved
        if reason is not None:
            return reason
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        if self.limit_names:
            ca, cb = self._counts(ra), self._counts(rb)
            self.counts[ra] = [p + q for p, q in zip(ca, cb, strict=True)]
            self.counts.pop(rb, None)
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return None


def build_edges(links: Iterable[Link]) -> list[Edge]:
    """Collapse links into one :class:`Edge` per unordered identifier pair (self-links dropped)."""
    support: dict[tuple[Identifier, Identifier], int] = {}
    sample: dict[tuple[Identifier, Identifier], list[tuple[str, str]]] = {}
    for link in links:
        a, b = link.a, link.b
        if a == b:
            continue
        key = (a, b) if a < b else (b, a)
        ev = (link.source, link.record_id)
        got = sample.get(key)
        if got is None:
            sample[key] = [ev]
            support[key] = 1
            continue
        support[key] += 1
        if ev in got:
            continue
        if len(got) < EVIDENCE_SAMPLE:
            insort(got, ev)
        elif ev < got[-1]:
            got.pop()
            insort(got, ev)
    return [Edge(a, b, tuple(ev), support[(a, b)]) for (a, b), ev in sample.items()]


def edge_order(edges: Iterable[Edge], policy: Policy) -> list[Edge]:
    """The total order in which edges are applied (see the module docstring)."""
    types = policy.types

    def key(e: Edge) -> tuple:
        if e.match is not None:
            return (1, 0, 0, -e.match.weight, -e.support, e.a, e.b)
        pa, pb = types[e.a[0]].priority, types[e.b[0]].priority
        return (0, max(pa, pb), min(pa, pb), -e.support, 0, e.a, e.b)

    return sorted(edges, key=key)


def cluster_component(nodes: Iterable[Identifier], links: Iterable[Link], policy: Policy) -> Clustering:
    """Cluster identifiers under the policy's limits. Pure, deterministic, order independent.

    ``nodes`` must include every record anchor (isolated ones too); link endpoints are added
    automatically. Call it on the whole graph or on any union of its connected components: the
    result for a component never depends on the other components (module docstring). This is
    the function the Spark batch layer runs per raw connected component.
    """
    return cluster_edges(nodes, build_edges(links), policy)


def cluster_edges(
    nodes: Iterable[Identifier],
    edges: Iterable[Edge],
    policy: Policy,
    match_limits: Mapping[str, int] | None = None,
    conflicts: Iterable[tuple[Identifier, Identifier]] = (),
) -> Clustering:
    """:func:`cluster_component` on already collapsed edges (one per identifier pair).

    ``match_limits`` (the match model's ``limits``) replace the rules' limits of those types for
    probabilistic edges only: ``crm_id`` limit 1 keeps households sharing a landline apart, while
    two CRM registrations with one name, birth date and address may be one person. The size
    guard and every other limit stay as the rules say.

    ``conflicts`` are anchor pairs the match model found to be different people (a veto column
    disagrees: twins, a parent and a child of one name). A probabilistic edge never joins two
    clusters holding the two ends of a conflict, so a record that resembles both cannot chain
    them together (a billing row without a birth date, "John Smith" at the parent's and the
    son's address). Exact edges are not affected. The check depends only on the clusters of the
    edge's endpoints, so decomposability holds.
    """
    uf = LimitedUnionFind(policy.limits(), policy.max_cluster_identifiers)
    model_values = None
    if match_limits:
        unknown = sorted(set(match_limits) - set(uf.limit_names))
        if unknown:
            raise ValueError(f"match limits for type(s) without a limit in the rules: {', '.join(unknown)}")
        model_values = [match_limits.get(n, v) for n, v in zip(uf.limit_names, uf.limit_values, strict=True)]
    index: dict[Identifier, int] = {}
    for node in nodes:
        if node not in index:
            index[node] = uf.add(node[0])
    accepted: list[Edge] = []
    refused: list[Refusal] = []
    apart: dict[Identifier, set[Identifier]] = {}
    for x, y in conflicts:
        if x != y:
            apart.setdefault(x, set()).add(y)
            apart.setdefault(y, set()).add(x)
    apart_of: dict[int, set[Identifier]] = {}  # root -> conflict partners of its members
    for node, partners in apart.items():
        if node not in index:
            index[node] = uf.add(node[0])
        apart_of[index[node]] = set(partners)
    for edge in edge_order(edges, policy):
        for node in (edge.a, edge.b):
            if node not in index:
                index[node] = uf.add(node[0])
        ra, rb = uf.find(index[edge.a]), uf.find(index[edge.b])
        if edge.match is not None and ra != rb and apart_of:
            a_apart, b_apart = apart_of.get(ra, ()), apart_of.get(rb, ())
            if any(n in index and uf.find(index[n]) == rb for n in a_apart) or any(
                n in index and uf.find(index[n]) == ra for n in b_apart
            ):
                refused.append(Refusal(edge, "conflict: the model found records of the two clusters to be different people"))
                continue
        reason = uf.union(index[edge.a], index[edge.b], model_values if edge.match is not None else None)
        if reason is None and ra != rb and (ra in apart_of or rb in apart_of):
            root = uf.find(ra)
            merged = apart_of.pop(ra, set()) | apart_of.pop(rb, set())
            apart_of[root] = merged
        if reason is None:
            accepted.append(edge)
        else:
            refused.append(Refusal(edge, reason))
    # the cluster key is the smallest member, so it does not depend on which node became root
    smallest: dict[int, Identifier] = {}
    roots: dict[Identifier, int] = {}
    for node, i in index.items():
        root = uf.find(i)
        roots[node] = root
        cur = smallest.get(root)
        if cur is None or node < cur:
            smallest[root] = node
    return Clustering({node: smallest[root] for node, root in roots.items()}, accepted, refused)


cluster = cluster_component
"""Clustering the whole graph is the same function: see the decomposability promise."""


def connected_components(nodes: Iterable[Identifier], links: Iterable[Link]) -> list[list[Identifier]]:
    """Raw connected components (no limits) as sorted member lists, sorted by first member.

    This is what the batch layer computes at scale before calling :func:`cluster_component`.
    """
    uf = LimitedUnionFind({})
    index: dict[Identifier, int] = {}
    for node in nodes:
        if node not in index:
            index[node] = uf.add(node[0])
    for link in links:
        for node in (link.a, link.b):
            if node not in index:
                index[node] = uf.add(node[0])
        uf.union(index[link.a], index[link.b])
    groups: dict[int, list[Identifier]] = {}
    for node, i in index.items():
        groups.setdefault(uf.find(i), []).append(node)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def cluster_by_component(nodes: Iterable[Identifier], links: Iterable[Link], policy: Policy) -> Clustering:
    """Reference for the batch layer's plan: raw components first, then
    :func:`cluster_component` on each, results concatenated. Equal to :func:`cluster`."""
    nodes = list(nodes)
    links = list(links)
    components = connected_components(nodes, links)
    component_of = {node: n for n, members in enumerate(components) for node in members}
    links_of: list[list[Link]] = [[] for _ in components]
    for link in links:
        links_of[component_of[link.a]].append(link)
    result = Clustering({})
    for members, component_links in zip(components, links_of, strict=True):
        part = cluster_component(members, component_links, policy)
        result.cluster_of.update(part.cluster_of)
        result.accepted.extend(part.accepted)
        result.refused.extend(part.refused)
    return result
