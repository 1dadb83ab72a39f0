"""SIGKILL one Cassandra node of three while the speed layer consumes a stream and the API serves
lookups: no lookup fails (a 503 must carry Retry-After and its retry must answer), no event is
lost or applied twice, and once the node is back (and repaired, if it needs it) the three
replicas hold the same rows."""

from __future__ import annotations

import signal
import time

from infra import cassandra

from .conftest import Lookups, check_exactly_once, kill, nodetool, read_events, record, restart, split, summary

KILLED = 0  # the first contact point and seed: the harder node to lose
CLEAN_S, FAULT_S = 20, 25


def _in_sync(settings) -> tuple[bool, str]:
    """Cassandra's own replica comparison (a preview of a full repair: Merkle trees of every
    replica, nothing streamed), asked of a node that was never down."""
    done = nodetool(settings, 1, "repair", "--preview", "--full", settings.cassandra.keyspace)
    out = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, f"nodetool repair --preview failed ({done.returncode}):\n{out[-3000:]}"
    return "Previewed data was in sync" in out, out


def test_a_cassandra_node_killed_under_load(faults, api, stream) -> None:
    settings = faults.settings
    events = read_events(stream)
    first, second = split(stream, len(events) // 3, faults.tmp)
    faults.ucid("produce", str(first), "--quiet")
    speed = faults.start("speed", "run", name="speed")
    faults.wait_applied(len(events) // 3, "the first third")
    identifiers = sorted((r.id_type, r.id_value) for r in faults.rows("identifiers", "id_type, id_value"))[:400]
    assert identifiers, "nothing to look up"

    url, key = api
    n_second = len(events) - len(events) // 3
    with Lookups(url, key, identifiers) as load:
        t0 = time.monotonic()
        producer = faults.start("produce", str(second), "--rate", f"{n_second / 60:.1f}", "--quiet", name="produce")
        time.sleep(CLEAN_S)
        applied_at_kill = faults.count("applied_events")
        t_kill = time.monotonic()
        kill(cassandra.managed(settings, KILLED))
        time.sleep(FAULT_S)
        applied_in_fault = faults.count("applied_events") - applied_at_kill
        t_back = time.monotonic()
        back_s = restart(settings, cassandra, KILLED)
        t_up = time.monotonic()
        assert producer.wait(300) == 0, faults.log("produce")
        faults.wait_applied(len(events), "every event after the node returned")
        time.sleep(3)
        t_end = time.monotonic()
    speed.send_signal(signal.SIGTERM)
    assert speed.wait(60) == 0, faults.log("speed")

    clean, fault, after = summary(load.window(t0, t_kill)), summary(load.window(t_kill, t_back)), \
        summary(load.window(t_up, t_end))
    counts = check_exactly_once(faults, events)

    # the replicas: hints replay when the node returns; a full repair if they did not make them agree
    time.sleep(15)
    in_sync, preview = _in_sync(settings)
    repaired = False
    if not in_sync:
        done = nodetool(settings, 1, "repair", "--full", settings.cassandra.keyspace)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        repaired = True
        in_sync, preview = _in_sync(settings)
    at_all = {t: faults.count(t, "ALL") for t in ("applied_events", "identifiers", "speed_profiles", "events_by_ucid")}
    at_quorum = {t: faults.count(t) for t in at_all}

    record("cassandra_kill", settings, {
        "killed": cassandra.name(KILLED), "clean": clean, "fault": fault, "after_return": after,
        "events": counts, "applied_during_fault": applied_in_fault, "node_back_s": round(back_s, 1),
        "repair_needed": repaired, "replicas_in_sync": in_sync, "rows_at_all": at_all,
    })
    assert applied_in_fault > 0, "the speed layer applied nothing while the node was down"
    for name, window in (("clean", clean), ("fault", fault), ("after", after)):
        assert window["served"] > 0, f"no lookup served in the {name} window: {window}"
        assert window["failed"] == 0, f"{window['failed']} lookups failed in the {name} window: {window}"
        assert window["503_retried_ok"] == window["503_retry_after"], f"a retried 503 failed again: {window}"
    assert in_sync, f"the replicas differ after the node returned (repair run: {repaired}):\n{preview[-3000:]}"
    assert at_all == at_quorum, f"rows read at ALL {at_all} != at LOCAL_QUORUM {at_quorum}"
