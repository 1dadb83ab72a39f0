"""Two consumer processes stitching linked identifiers at the same moment: no identifier ever
ends up with two UCIDs, no limit is broken, no merge is missed.

Both processes join one consumer group (3 partitions each); each round produces a burst of
events over a small, fresh identifier universe per person (shared e-mails across cookies and
devices, more e-mails than the limit allows, households sharing a cookie across two crm ids),
keyed by cookie / device so linked identifiers arrive on different partitions, i.e. at two
processes at once. After each round:

* every identifier resolves to exactly one live UCID, and the 360 membership
  (``identifiers_by_ucid``) of each live UCID is exactly the identifiers resolving to it;
* no live cluster breaks a per-type limit or the size guard;
* for every event, its identifiers share one UCID unless joining their clusters would break a
  limit (a link is refused only for a reason);
* every event was applied exactly once, and every lease was released.

``UCID_SPEED_CONCURRENCY_ROUNDS`` (default 20) sets the number of rounds.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from collections import Counter, defaultdict

import pytest

from identity.records import Record, normalize_record
from identity.rules import load_policy

from .checks import live_partition
from .conftest import stop, wait_applied, wait_for

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("UCID_SPEED_CONCURRENCY_ROUNDS", "20"))


def _round_events(rng: random.Random, tag: str, persons: int = 10) -> list[dict]:
    events = []
    shared_cookie = f"{tag}-hh-cookie"
    for p in range(persons):
        crm = f"C{tag}{p:03d}".upper()
        emails = [f"p{p}.{k}.{tag}@mail-{tag}.io" for k in range(5)]  # limit 3
        cookies = [f"{tag}-{p}-ck{k}" for k in range(3)]
        devices = [f"{tag}{p:02d}d{k}".lower() for k in range(2)]
        for n in range(8):
            ids: dict[str, str] = {}
            roll = rng.random()
            if roll < 0.35:
                ids = {"cookie_id": rng.choice(cookies), "email": rng.choice(emails)}
            elif roll < 0.6:
                ids = {"device_id": rng.choice(devices), "email": rng.choice(emails)}
            elif roll < 0.8:
                ids = {rng.choice(["cookie_id", "device_id"]): rng.choice(cookies + devices), "crm_id": crm}
                if ids.get("device_id") in cookies or ids.get("cookie_id") in devices:
                    ids = {"cookie_id": rng.choice(cookies), "crm_id": crm}
            elif roll < 0.9:
                ids = {"crm_id": crm, "email": rng.choice(emails), "cookie_id": rng.choice(cookies)}
            else:  # a household cookie shared by several persons, each logging in (crm limit 1)
                ids = {"cookie_id": shared_cookie, "crm_id": crm}
            events.append({"event_id": f"CONC-{tag}-{p}-{n}", "schema_version": 1, "type": "login",
                           "event_time": "2026-03-01T12:00:00Z", "channel": "web", "source": "web",
                           "identifiers": ids, "attributes": {}})
    rng.shuffle(events)
    return events


def _check_round(env, policy, events) -> None:
    norms = [normalize_record(Record("stream", e["event_id"], tuple(sorted(e["identifiers"].items()))), policy)[0]
             for e in events]
    idents = {i for n in norms for i in n.identifiers}
    ucid_of = live_partition(env, idents)

    clusters: dict[str, set] = defaultdict(set)
    for ident, u in ucid_of.items():
        clusters[u].add(ident)
    limits = policy.limits()
    for u, members in clusters.items():
        # membership rows of the live UCID == identifiers (of this round) resolving to it
        rows = {(r.id_type, r.id_value) for r in env.store.all("get_members", u)}
        assert members <= rows, f"{u}: identifiers resolving to it without a membership row: {members - rows}"
        stray = {i for i in rows & idents if ucid_of[i] != u}
        assert not stray, f"identifiers with two UCIDs: {stray} are members of {u} but resolve elsewhere"
        counts = Counter(t for t, _ in rows)
        for t, n in counts.items():
            assert n <= limits.get(t, n), f"{u}: {n} identifiers of type {t} > limit {limits[t]}"
        assert len(rows) <= policy.max_cluster_identifiers

    def union_breaks_limit(a: str, b: str) -> bool:
        joined = Counter(t for t, _ in clusters[a] | clusters[b])
        return any(n > limits.get(t, n) for t, n in joined.items())

    for norm in norms:
        ucids = {ucid_of[i] for i in norm.identifiers}
        if len(ucids) > 1:
            anchor = ucid_of[norm.anchor]
            for other in ucids - {anchor}:
                assert union_breaks_limit(anchor, other), (
                    f"event {norm.record_id}: {norm.identifiers} split over {ucids} without a limit reason")


def test_two_processes_never_give_an_identifier_two_ucids(speed_env) -> None:
    env = speed_env
    policy = load_policy(env.settings.conf_dir / "rules.yaml")
    seed = int(os.environ.get("UCID_TEST_SEED", str(random.randrange(1 << 30))))
    print(f"seed={seed}")
    rng = random.Random(seed)
    procs = [env.start(log_name=f"worker{i}") for i in range(2)]
    try:
        def both_assigned() -> bool:
            logs = [p.read_text() for p in sorted(env.landing.parent.glob("worker*.log"))]
            if len(logs) < 2:
                return False
            last = [re.findall(r"partitions assigned\s+partitions=\[([0-9, ]*)\]", log) for log in logs]
            return all(x and x[-1].strip() for x in last) and sum(len(x[-1].split(",")) for x in last) == 6
        try:
            wait_for(both_assigned, 90, "both workers to own partitions", every=0.2)
        except pytest.fail.Exception:
            logs = "\n".join(p.read_text()[-3000:] for p in sorted(env.landing.parent.glob("worker*.log")))
            pytest.fail(f"both workers did not get partitions within 90 s; their logs:\n{logs}")

        from kafka import KafkaProducer

        from speed.produce import key_of

        producer = KafkaProducer(bootstrap_servers=env.settings.kafka.bootstrap_servers, acks="all", linger_ms=20)
        total = 0
        for r in range(ROUNDS):
            tag = f"r{r}x{uuid.uuid4().hex[:6]}"
            events = _round_events(rng, tag)
            for e in events:
                value = json.dumps(e).encode()
                producer.send(env.topic(), key=key_of(value, policy), value=value)
            producer.flush()
            total += len(events)
            started = time.monotonic()
            wait_applied(env, total, f"round {r} to be applied")
            took = time.monotonic() - started
            _check_round(env, policy, events)
            print(f"round {r}: {len(events)} events in {took:.2f}s")
        producer.close()
        assert env.count("applied_events") == total
        wait_for(lambda: env.count("speed_locks") == 0, 15, "every lease to be released")
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0, 0]
    # each worker's own summary, logged once when it stopped: both did part of the work, every
    # event was applied by exactly one of them, and the leases really were contended
    summaries = []
    for log_file in sorted(env.landing.parent.glob("worker*.log")):
        lines = [line for line in log_file.read_text().splitlines() if "speed consumer stopped" in line]
        assert len(lines) == 1, f"{log_file.name}: {len(lines)} stop summaries"
        summaries.append({k: int(v) for k, v in re.findall(r"\b(applied|duplicates|lease_retries)=(\d+)", lines[0])})
    print(f"seed={seed}; per worker: {summaries}")
    assert len(summaries) == 2 and all(len(s) == 3 for s in summaries), summaries
    assert all(s["applied"] > 0 for s in summaries), f"one worker applied nothing: {summaries}"
    assert sum(s["applied"] for s in summaries) == total, f"seed={seed}: {summaries}, {total} events produced"
    assert sum(s["lease_retries"] for s in summaries) > 0, (
        f"seed={seed}: no lease was ever contended in {ROUNDS} rounds, the two processes never raced: {summaries}")
