"""Incremental stitching for the speed layer: one record at a time, same rules as the batch.

:func:`stitch` takes one normalized record plus a small :class:`StitchView` of the current state
for *its* identifiers (their UCIDs, and for those UCIDs the per-type identifier counts and
``minted_at``), and returns a :class:`StitchDecision`. It applies the record's links with the
same :class:`~identity.cluster.LimitedUnionFind`, the same edge order, limits, blocked values
(already removed by :func:`~identity.records.normalize_record`) and priorities as the batch
layer; each current UCID enters as one group carrying its counts.

Contract with the batch layer:

* **No conflict, same clusters.** If clustering all records in batch refuses no link, feeding
  the same records one at a time through :func:`stitch` (in any order) yields the same
  partition of identifiers and records: each stitched cluster is a subset of a batch cluster,
  so it cannot break a limit the batch cluster respects. UCID *values* may differ -- stitch
  mints from the smallest identifier known when a customer first appears, batch from the
  smallest of the whole cluster -- which is why the batch run reuses the speed layer's state.
* **Under conflicts, arrival order matters.** Batch applies all links of a component in one
  global priority order; stitch can only order the links of the current record. If a weak link
  (say cookie~email) arrives first and fills a limit, a later strong link (crm_id~email) is the
  one refused in real time, while batch would refuse the weak one. Stitch also never splits:
  a merge made in real time is undone only by the next batch run, which re-clusters
  everything and issues split events.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Literal

from identity.cluster import LimitedUnionFind, Refusal, build_edges, edge_order
from identity.records import Link, NormalizedRecord, record_links
from identity.rules import Policy
from identity.types import Identifier
from identity.ucids import State, mint_unique


@dataclass(frozen=True, slots=True)
class UcidView:
    """What stitching needs to know about one current UCID: when it was minted and how many
    identifiers of each type (all types, for the size guard) it holds."""

    minted_at: int
    type_counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class StitchView:
    """Current state restricted to one record: ``ucid_of`` for those of its identifiers that are
    known, ``ucids`` for every UCID appearing there, ``issued`` to mint without reuse (the
    speed layer backs it with its store and confirms a mint with a conditional write)."""

    ucid_of: Mapping[Identifier, str]
    ucids: Mapping[str, UcidView]
    issued: Container[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StitchDecision:
    """What to write. ``kind`` describes the record's own cluster: ``new`` (minted),
    ``attach`` (new identifiers joined one UCID), ``merge`` (several UCIDs became one, see
    ``aliases``: loser -> survivor), ``unchanged``. ``assign`` are the identifier -> UCID writes,
    ``minted`` every UCID minted (identifiers refused by a limit may get their own)."""

    kind: Literal["new", "attach", "merge", "unchanged"]
    ucid: str
    assign: tuple[tuple[Identifier, str], ...]
    aliases: tuple[tuple[str, str], ...]
    minted: tuple[str, ...]
    refused: tuple[Refusal, ...]
    evidence: tuple[Link, ...]


def stitch(record: NormalizedRecord, view: StitchView, policy: Policy) -> StitchDecision:
    """Decide how one record changes the id map. Pure; see the module docstring for the
    contract with the batch layer."""
    nodes = record.identifiers or (record.anchor,)
    # a current UCID may hold more of a type than the rules allow when the match model joined it
    # (its own limits): an identifier of another type still attaches, as in the batch
    uf = LimitedUnionFind(policy.limits(), policy.max_cluster_identifiers, held_over=True)
    group_of: dict[str, int] = {}
    index: dict[Identifier, int] = {}
    for node in nodes:
        ucid = view.ucid_of.get(node)
        if ucid is None:
            index[node] = uf.add(node[0])
            continue
        if ucid not in group_of:
            if ucid not in view.ucids:
                raise ValueError(f"view has no entry for UCID {ucid} of {node}")
            group_of[ucid] = uf.add_group(view.ucids[ucid].type_counts)
        index[node] = group_of[ucid]

    links = record_links(record)
    refused: list[Refusal] = []
    accepted_pairs: set[tuple[Identifier, Identifier]] = set()
    for edge in edge_order(build_edges(links), policy):
        reason = uf.union(index[edge.a], index[edge.b])
        if reason is None:
            accepted_pairs.add((edge.a, edge.b))
        else:
            refused.append(Refusal(edge, reason))

    # components of the result, each with its current UCIDs and new identifiers
    comp_ucids: dict[int, list[str]] = {}
    comp_new: dict[int, list[Identifier]] = {}
    for ucid, i in group_of.items():
        comp_ucids.setdefault(uf.find(i), []).append(ucid)
    for node in nodes:
        if node not in view.ucid_of:
            comp_new.setdefault(uf.find(index[node]), []).append(node)

    assign: list[tuple[Identifier, str]] = []
    aliases: list[tuple[str, str]] = []
    minted: list[str] = []
    final: dict[int, str] = {}
    def order(root: int) -> tuple:  # mint in a deterministic order: by smallest new identifier
        return (0, min(comp_new[root])) if root in comp_new else (1, min(comp_ucids[root]))

    for root in sorted(set(comp_ucids) | set(comp_new), key=order):
        ucids = comp_ucids.get(root)
        if ucids:
            survivor = min(ucids, key=lambda u: (view.ucids[u].minted_at, u))
            aliases.extend((u, survivor) for u in sorted(ucids) if u != survivor)
        else:
            survivor = mint_unique(min(comp_new[root]), view.issued, minted)
            minted.append(survivor)
        final[root] = survivor
        assign.extend((node, survivor) for node in sorted(comp_new.get(root, [])))

    anchor_root = uf.find(index[record.anchor])
    ucid = final[anchor_root]
    if not comp_ucids.get(anchor_root):
        kind = "new"
    elif len(comp_ucids[anchor_root]) > 1:
        kind = "merge"
    elif comp_new.get(anchor_root):
        kind = "attach"
    else:
        kind = "unchanged"
    evidence = tuple(
        link for link in links if ((link.a, link.b) if link.a < link.b else (link.b, link.a)) in accepted_pairs
    )
    return StitchDecision(kind, ucid, tuple(assign), tuple(aliases), tuple(minted), tuple(refused), evidence)


def view_of(state: State, identifiers: tuple[Identifier, ...]) -> StitchView:
    """Build the view of an in-memory :class:`State` (reference helper, O(state) per call)."""
    known = {i: state.ucid_of[i] for i in identifiers if i in state.ucid_of}
    wanted = set(known.values())
    counts: dict[str, dict[str, int]] = {u: {} for u in wanted}
    for (type_name, _), ucid in state.ucid_of.items():
        if ucid in wanted:
            counts[ucid][type_name] = counts[ucid].get(type_name, 0) + 1
    ucids = {u: UcidView(state.minted_at[u], counts[u]) for u in wanted}
    return StitchView(known, ucids, state.minted_at)


def apply_stitch(state: State, decision: StitchDecision, now: int) -> None:
    """Apply a decision to an in-memory :class:`State`, in place (reference for the speed
    layer's writes): mint, re-point merged-away UCIDs' identifiers, collapse alias chains."""
    for ucid in decision.minted:
        state.minted_at[ucid] = now
    if decision.aliases:
        target = dict(decision.aliases)
        for node, ucid in state.ucid_of.items():
            if ucid in target:
                state.ucid_of[node] = target[ucid]
        for alias, ucid in list(state.aliases.items()):
            if ucid in target:
                state.aliases[alias] = target[ucid]
        state.aliases.update(target)
    for node, ucid in decision.assign:
        state.ucid_of[node] = ucid
        state.first_seen.setdefault(node, now)


@dataclass(frozen=True, slots=True)
class ModelLink:
    """A model edge between two live UCIDs, decided: ``survivor`` / ``loser`` when they merge,
    else ``refused`` says why (a limit, the size guard, a conflict)."""

    survivor: str | None
    loser: str | None
    refused: str | None = None


def link_ucids(a: str, b: str, views: Mapping[str, UcidView], policy: Policy,
               match_limits: Mapping[str, int] | None = None, conflict: bool = False) -> ModelLink:
    """Whether a probabilistic edge may join live UCIDs ``a`` and ``b`` (the speed layer's
    real-time model link), with the arithmetic of :func:`~identity.cluster.cluster_edges`: the
    rules' limits with ``match_limits`` replacing those of the types they name, the size guard,
    and never across a ``conflict`` (the model found records of the two to be different people).
    The survivor is the older UCID, as in :func:`stitch`. Pure."""
    if a == b:
        return ModelLink(a, None)
    if conflict:
        return ModelLink(None, None, "conflict: the model found records of the two clusters to be different people")
    uf = LimitedUnionFind(policy.limits(), policy.max_cluster_identifiers)
    values = None
    if match_limits:
        values = [match_limits.get(n, v) for n, v in zip(uf.limit_names, uf.limit_values, strict=True)]
    reason = uf.union(uf.add_group(views[a].type_counts), uf.add_group(views[b].type_counts), values)
    if reason is not None:
        return ModelLink(None, None, reason)
    survivor = min((a, b), key=lambda u: (views[u].minted_at, u))
    return ModelLink(survivor, b if survivor == a else a)
