"""Invariants the recovery, replay and concurrency tests check against Cassandra and the
landing files (shared helpers, no test functions)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

from identity.records import Record, normalize_record
from identity.rules import Policy
from identity.stitch import apply_stitch, stitch, view_of
from identity.ucids import State
from speed.resolve import live_ucid

SNAPSHOT_TABLES = ("identifiers", "identifiers_by_ucid", "ucids", "ucid_aliases", "identity_changes",
                   "links_by_ucid", "events_by_ucid", "profile_updates", "speed_profiles", "applied_events",
                   "trigger_fired", "trigger_pending")


def snapshot(env) -> dict[str, list[str]]:
    """Every row of every table the speed layer writes (values, sorted) and every landing file."""
    out = {t: sorted(repr(tuple(r)) for r in env.rows(t)) for t in SNAPSHOT_TABLES}
    root = env.landing / "stream"
    out["landing"] = sorted(f"{p.relative_to(root)}:{hashlib.sha256(p.read_bytes()).hexdigest()}"
                            for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return out


def landed_rows(env) -> list[dict[str, Any]]:
    root = env.landing / "stream"
    assert not list(root.rglob(".*.tmp")), "a temp landing file was left behind"
    return [json.loads(line) for p in sorted(root.rglob("*.jsonl")) for line in p.read_text().splitlines()]


def live_partition(env, identifiers: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """identifier -> live UCID, following merges (every identifier must resolve)."""
    out = {}
    for t, v in identifiers:
        row = env.store.one("get_identifier", t, v)
        assert row is not None, f"identifier {(t, v)} not in Cassandra"
        live = live_ucid(env.store, row.ucid)
        assert live is not None, f"identifier {(t, v)} -> {row.ucid} does not resolve to a live UCID"
        out[(t, v)] = live
    return out


def groups(assignment: dict[Any, str]) -> set[frozenset]:
    by: dict[str, set] = defaultdict(set)
    for k, u in assignment.items():
        by[u].add(k)
    return {frozenset(s) for s in by.values()}


def reference(events: list[dict[str, Any]], policy: Policy) -> dict[tuple[str, str], str]:
    """The identity core's own answer: stitch the events one by one, in order, in memory."""
    state = State()
    for now, ev in enumerate(events, start=1):
        norm, _ = normalize_record(Record("stream", ev["event_id"], tuple(sorted(ev["identifiers"].items()))), policy)
        if not norm.identifiers:
            continue
        decision = stitch(norm, view_of(state, norm.identifiers), policy)
        apply_stitch(state, decision, now)
    return dict(state.ucid_of)


def check_exactly_once(env, events: list[dict[str, Any]]) -> None:
    """Every event applied once, counted once in the profiles, landed once."""
    ids = [e["event_id"] for e in events]
    applied = env.rows("applied_events", "event_id, ucid")
    assert sorted(r.event_id for r in applied) == sorted(ids)
    identified = sum(1 for r in applied if r.ucid)
    assert sum(r.event_count for r in env.rows("speed_profiles", "event_count")) == identified
    assert env.count("events_by_ucid") == identified
    assert env.count("profile_updates") == identified
    landed = [r["event_id"] for r in landed_rows(env)]
    assert sorted(landed) == sorted(ids), "landing files must hold every event exactly once"


def check_identity(env, policy: Policy, events: list[dict[str, Any]]) -> dict[str, set]:
    """The identity invariants over ``events`` (read in bulk: a burst has tens of thousands of
    identifiers): every identifier resolves to exactly one live UCID whose membership rows hold
    it and no identifier resolving elsewhere; no live cluster breaks a per-type limit or the
    size guard; an event's identifiers share one UCID unless joining their clusters would break
    a limit or the size guard (a split only for a reason). Returns the clusters (UCID ->
    identifiers of these events)."""
    from collections import Counter

    norms = [normalize_record(Record("stream", e["event_id"], tuple(sorted(e["identifiers"].items()))), policy)[0]
             for e in events]
    idents = sorted({i for n in norms for i in n.identifiers})
    rows = env.store.many("get_identifier", idents)
    ucid_of: dict[tuple[str, str], str] = {}
    for ident, found in zip(idents, rows):
        assert found, f"identifier {ident} not in Cassandra"
        live = found[0].ucid if found[0].status == "live" else live_ucid(env.store, found[0].ucid)
        assert live is not None, f"identifier {ident} -> {found[0].ucid} does not resolve to a live UCID"
        ucid_of[ident] = live
    clusters: dict[str, set] = defaultdict(set)
    for ident, u in ucid_of.items():
        clusters[u].add(ident)
    lives = sorted(clusters)
    limits = policy.limits()
    wanted = set(idents)
    for u, member_rows in zip(lives, env.store.many("get_members", [(u,) for u in lives])):
        members = {(r.id_type, r.id_value) for r in member_rows}
        assert clusters[u] <= members, f"{u}: identifiers resolving to it without a membership row"
        stray = {i for i in members & wanted if ucid_of[i] != u}
        assert not stray, f"identifiers with two UCIDs: {stray} are members of {u} but resolve elsewhere"
        for t, n in Counter(t for t, _ in members).items():
            assert n <= limits.get(t, n), f"{u}: {n} identifiers of type {t} > limit {limits[t]}"
        assert len(members) <= policy.max_cluster_identifiers, f"{u}: {len(members)} identifiers > the size guard"

    def joining_breaks_a_limit(a: str, b: str) -> bool:
        joined = Counter(t for t, _ in clusters[a] | clusters[b])
        return (any(n > limits.get(t, n) for t, n in joined.items())
                or sum(joined.values()) > policy.max_cluster_identifiers)

    for norm in norms:
        ucids = {ucid_of[i] for i in norm.identifiers}
        anchor = ucid_of[norm.anchor] if norm.identifiers else None
        for other in ucids - {anchor}:
            assert joining_breaks_a_limit(anchor, other), (
                f"event {norm.record_id}: {norm.identifiers} split over {ucids} without a limit reason")
    return clusters
