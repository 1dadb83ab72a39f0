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
