"""Stable UCIDs: minting, merges into aliases, splits, retirement, and the change log.

Given the previous :class:`State` and a new clustering, :func:`assign_ucids` gives every cluster a
UCID so that ids stay as stable as the data allows:

* every previous UCID ``X`` has one *heir* cluster: the one holding ``X``'s earliest-seen
  identifier still present (tie: the smallest identifier). Only the heir may keep ``X``.
* a cluster that is heir of several UCIDs keeps the earliest-minted one (tie: the smaller UCID
  string); the others become **aliases** of it (merge). Alias chains are collapsed: an alias
  always points at a live UCID.
* a cluster that is heir of none gets a new UCID (brand new customer, or a part split off).
* a previous UCID none of whose identifiers is present any more is retired, with its aliases.

Minting is content addressed: ``U`` + 20 Crockford base32 characters (100 bits) of
``sha256(type, value, salt)`` of the cluster's smallest identifier, with the salt bumped while
the candidate was ever issued. Replaying the same input mints the same ids; no id is reused.
Time is the caller's logical ``now``; nothing here reads a clock or a random source.

Cross-component input for a distributed run: only the heir of each previous UCID (a min over
its identifiers) and the set of issued UCIDs; everything else is local to one cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any, Literal

from identity.cluster import Clustering, Edge
from identity.explain import explain
from identity.types import Identifier

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
UCID_PATTERN = r"^U[0-9A-HJKMNP-TV-Z]{20}$"
"""What :func:`mint_ucid` gives: ``U`` and 20 characters of :data:`CROCKFORD` (the API's path
pattern, the DQ suites' and ``ucid audit``'s check)."""


def mint_ucid(seed: Identifier, salt: int = 0) -> str:
    """The candidate UCID for a cluster whose smallest identifier is ``seed``."""
    digest = hashlib.sha256(f"{seed[0]}\x1f{seed[1]}\x1f{salt}".encode()).digest()
    n = int.from_bytes(digest[:13], "big") >> 4  # 104 bits -> 100 bits = 20 base32 chars
    chars = []
    for _ in range(20):
        chars.append(CROCKFORD[n & 31])
        n >>= 5
    return "U" + "".join(reversed(chars))


def mint_unique(seed: Identifier, *issued: Container[str]) -> str:
    """The first candidate (salt 0, 1, ...) found in none of ``issued``: never reuses an id."""
    salt = 0
    while True:
        candidate = mint_ucid(seed, salt)
        if not any(candidate in s for s in issued):
            return candidate
        salt += 1


@dataclass(slots=True)
class State:
    """Assignment state carried from run to run (and mirrored by the serving store).

    ``ucid_of`` maps every current identifier to its live UCID; ``first_seen`` is the logical time
    each identifier was first assigned; ``minted_at`` holds every UCID ever issued, which is
    live, an alias (``aliases`` maps it to the live UCID it resolves to) or ``retired``.
    """

    ucid_of: dict[Identifier, str] = field(default_factory=dict)
    first_seen: dict[Identifier, int] = field(default_factory=dict)
    minted_at: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)

    def live(self) -> set[str]:
        """UCIDs currently holding identifiers (O(state): for tests and reports)."""
        return set(self.ucid_of.values())

    def canonical(self, ucid: str) -> str | None:
        """The live UCID that ``ucid`` (live or alias) resolves to; ``None`` if retired or never
        issued. O(1)."""
        target = self.aliases.get(ucid, ucid)
        if target not in self.minted_at or target in self.retired or target in self.aliases:
            return None
        return target

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (sorted, so equal states serialize equally)."""
        return {
            "identifiers": [
                [t, v, self.ucid_of[(t, v)], self.first_seen.get((t, v))] for t, v in sorted(self.ucid_of)
            ],
            "minted_at": dict(sorted(self.minted_at.items())),
            "aliases": dict(sorted(self.aliases.items())),
            "retired": sorted(self.retired),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> State:
        state = cls()
        for t, v, ucid, seen in raw.get("identifiers", []):
            state.ucid_of[(t, v)] = ucid
            if seen is not None:
                state.first_seen[(t, v)] = seen
        state.minted_at = dict(raw.get("minted_at", {}))
        state.aliases = dict(raw.get("aliases", {}))
        state.retired = set(raw.get("retired", []))
        return state


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change of the id map: ``mint`` (new UCID), ``merge`` (``old_ids`` -> ``new_id``, the
    survivor), ``split`` (identifiers of ``old_ids[0]`` now under ``new_id``), ``retire``."""

    kind: Literal["mint", "merge", "split", "retire"]
    old_ids: tuple[str, ...]
    new_id: str | None
    rule: str
    evidence: tuple[Edge, ...]
    at: int


def _rules_of(edges: tuple[Edge, ...]) -> str:
    return ",".join(sorted({e.rule for e in edges}))


# previous UCID -> (first seen, identifier) of its earliest-seen identifier still present
Heirs = dict[str, tuple[int, Identifier]]


@dataclass(slots=True)
class _Decisions:
    """What step 2 of :func:`assign_ucids` decided: the UCID of every cluster, the UCIDs minted
    now, the merged-away UCIDs (alias -> survivor) and the mint and merge events, in key order."""

    ucid_for: dict[Identifier, str] = field(default_factory=dict)
    new_minted: dict[str, int] = field(default_factory=dict)
    redirect: dict[str, str] = field(default_factory=dict)
    events: list[ChangeEvent] = field(default_factory=list)


def assign_ucids(
    clustering: Clustering, previous: State, now: int
) -> tuple[State, dict[Identifier, str], list[ChangeEvent]]:
    """Give every cluster a UCID; return ``(new state, cluster key -> UCID, change events)``.

    Promises (see module docstring): deterministic; unchanged clusters keep their UCID; feeding
    the returned state back with the same clustering changes nothing and emits no event; every
    alias resolves to a live UCID; a minted UCID was never issued before.
    """
    heir = _heirs(clustering.cluster_of, previous, now)
    decided = _keep_merge_or_mint(clustering, previous, heir, now)
    splits = _split_events(clustering, previous, heir, decided.ucid_for, now)
    retirements, retired_now = _retire_events(previous, heir, now)
    state = _next_state(clustering, previous, decided, retired_now, now)
    return state, decided.ucid_for, decided.events + splits + retirements


def _heirs(cluster_of: dict[Identifier, Identifier], previous: State, now: int) -> Heirs:
    """Step 1: for every previous UCID still holding a present identifier, its earliest-seen
    such identifier (tie: the smallest); the heir cluster is that identifier's cluster."""
    prev_ucid, prev_seen, prev_minted = previous.ucid_of, previous.first_seen, previous.minted_at
    heir: Heirs = {}
    for node in cluster_of:
        x = prev_ucid.get(node)
        if x is None:
            continue
        cand = (prev_seen.get(node, prev_minted.get(x, now)), node)
        cur = heir.get(x)
        if cur is None or cand < cur:
            heir[x] = cand
    return heir


def _claims(cluster_of: dict[Identifier, Identifier], heir: Heirs) -> dict[Identifier, list[str]]:
    """Cluster key -> the previous UCIDs whose heir it is."""
    claims: dict[Identifier, list[str]] = {}
    for x, (_, node) in heir.items():
        claims.setdefault(cluster_of[node], []).append(x)
    return claims


def _keep_merge_or_mint(clustering: Clustering, previous: State, heir: Heirs, now: int) -> _Decisions:
    """Step 2: a cluster heir of no UCID mints one; heir of one keeps it; heir of several keeps
    the earliest-minted and the others become its aliases. Clusters are taken in key order so
    that minting is deterministic."""
    cluster_of, prev_minted = clustering.cluster_of, previous.minted_at
    claims = _claims(cluster_of, heir)
    members = clustering.members()
    edges_of: dict[Identifier, list[Edge]] | None = None  # built on the first merge only
    out = _Decisions()
    for key in sorted(members):
        xs = claims.get(key)
        if not xs:
            ucid = mint_unique(key, prev_minted, out.new_minted)
            out.new_minted[ucid] = now
            out.ucid_for[key] = ucid
            if not any(node in previous.ucid_of for node in members[key]):
                out.events.append(ChangeEvent("mint", (), ucid, "new identifiers", (), now))
            continue
        winner = min(xs, key=lambda u: (prev_minted.get(u, now), u))
        out.ucid_for[key] = winner
        if len(xs) > 1:
            if edges_of is None:
                edges_of = _accepted_by_cluster(clustering)
            for loser in xs:
                if loser != winner:
                    out.redirect[loser] = winner
            out.events.append(_merge_event(xs, winner, heir, edges_of.get(key, []), prev_minted, now))
    return out


def _accepted_by_cluster(clustering: Clustering) -> dict[Identifier, list[Edge]]:
    """Cluster key -> the accepted edges inside that cluster."""
    edges_of: dict[Identifier, list[Edge]] = {}
    for edge in clustering.accepted:
        edges_of.setdefault(clustering.cluster_of[edge.a], []).append(edge)
    return edges_of


def _merge_event(xs: list[str], winner: str, heir: Heirs, edges: list[Edge], prev_minted: dict[str, int],
                 now: int) -> ChangeEvent:
    """The merge of ``xs`` into ``winner``; the evidence is the union of the accepted-edge paths
    from the winner's heir identifier to each loser's, in edge order."""
    chain: dict[tuple[Identifier, Identifier], Edge] = {}
    for loser in xs:
        if loser != winner:
            for edge in explain(heir[winner][1], heir[loser][1], edges) or []:
                chain[(edge.a, edge.b)] = edge
    evidence = tuple(chain[k] for k in sorted(chain))
    old = tuple(sorted(xs, key=lambda u: (prev_minted.get(u, now), u)))
    return ChangeEvent("merge", old, winner, _rules_of(evidence), evidence, now)


def _split_events(clustering: Clustering, previous: State, heir: Heirs, ucid_for: dict[Identifier, str],
                  now: int) -> list[ChangeEvent]:
    """Step 3: one split per (previous UCID ``X``, cluster other than ``X``'s heir holding some of
    ``X``'s identifiers), explained by the edges refused between the two clusters, if any."""
    cluster_of = clustering.cluster_of
    moved: set[tuple[str, Identifier]] = set()
    for node, key in cluster_of.items():
        x = previous.ucid_of.get(node)
        if x is not None and cluster_of[heir[x][1]] != key:
            moved.add((x, key))
    if not moved:
        return []
    refused_between: dict[frozenset[Identifier], list[Edge]] = {}
    reasons: dict[frozenset[Identifier], set[str]] = {}
    for refusal in clustering.refused:
        pair = frozenset((cluster_of[refusal.edge.a], cluster_of[refusal.edge.b]))
        refused_between.setdefault(pair, []).append(refusal.edge)
        reasons.setdefault(pair, set()).add(refusal.reason)
    events = []
    for x, key in sorted(moved):
        pair = frozenset((cluster_of[heir[x][1]], key))
        evidence = tuple(sorted(refused_between.get(pair, []), key=lambda e: (e.a, e.b)))
        rule = "refused: " + "; ".join(sorted(reasons[pair])) if pair in reasons else "links gone"
        events.append(ChangeEvent("split", (x,), ucid_for[key], rule, evidence, now))
    return events


def _retire_events(previous: State, heir: Heirs, now: int) -> tuple[list[ChangeEvent], set[str]]:
    """Step 4: retire every previous UCID with no identifier left, together with its aliases;
    return the events and every id retired now."""
    retired = sorted(set(previous.ucid_of.values()) - heir.keys())
    aliases_of: dict[str, list[str]] = {}
    for alias, target in previous.aliases.items():
        aliases_of.setdefault(target, []).append(alias)
    retired_now: set[str] = set()
    events = []
    for x in retired:
        old = (x, *sorted(aliases_of.get(x, [])))
        retired_now.update(old)
        events.append(ChangeEvent("retire", old, None, "no identifiers left", (), now))
    return events, retired_now


def _next_state(clustering: Clustering, previous: State, decided: _Decisions, retired_now: set[str],
                now: int) -> State:
    """The state after this run: aliases collapsed onto live UCIDs (an alias of a merged-away
    UCID now points at its survivor), retired aliases dropped."""
    cluster_of = clustering.cluster_of
    aliases = {
        alias: decided.redirect.get(target, target)
        for alias, target in previous.aliases.items()
        if alias not in retired_now
    }
    aliases.update(decided.redirect)
    return State(
        ucid_of={node: decided.ucid_for[key] for node, key in cluster_of.items()},
        first_seen={node: previous.first_seen.get(node, now) for node in cluster_of},
        minted_at={**previous.minted_at, **decided.new_minted},
        aliases=aliases,
        retired=previous.retired | retired_now,
    )
