"""A burst of 50,000 events, one customer in a fifth of them, many merges, two consumer
processes: the identity invariants hold and every event is applied exactly once.

The hot customer holds more e-mails, cookies and devices than the limits allow, and most of its
events bring a cookie or device alone before another event links it: a stream of new customers
merged into the hot one, each merge under the same lease bucket. The other customers' events
link the same way, over a household cookie shared by two CRM ids (refused by the crm_id limit).
Events are keyed by cookie / device (``speed.produce.key_of``), so one customer's identifiers
arrive on several partitions, at both processes.
"""

from __future__ import annotations

import json
import os
import random
import re
import time

import pytest

from identity.rules import load_policy

from .checks import check_exactly_once, check_identity
from .conftest import stop, wait_applied

pytestmark = pytest.mark.integration

EVENTS = int(os.environ.get("UCID_SPEED_BURST_EVENTS", "50000"))


def _hot(rng: random.Random, n: int) -> list[dict]:
    crm = "CHOT0001"
    emails = [f"hot.{k}@mail-burst.io" for k in range(5)]  # limit 3
    cookies = [f"hot-ck-{k:03d}" for k in range(40)]  # limit 20
    devices = [f"hotdev{k:02d}x" for k in range(8)]  # limit 5
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.3:
            ids = {"cookie_id": rng.choice(cookies)}  # alone first: a customer of its own, merged later
        elif roll < 0.45:
            ids = {"device_id": rng.choice(devices)}
        elif roll < 0.7:
            ids = {"cookie_id": rng.choice(cookies), "crm_id": crm}
        elif roll < 0.85:
            ids = {"cookie_id": rng.choice(cookies), "email": rng.choice(emails)}
        else:
            ids = {"device_id": rng.choice(devices), "email": rng.choice(emails), "crm_id": crm}
        out.append(ids)
    return out


def _person(rng: random.Random, p: int, n: int) -> list[dict]:
    crm = f"CB{p:06d}"
    emails = [f"p{p}.{k}@mail-burst.io" for k in range(2)]
    cookies = [f"ck-{p}-{k}" for k in range(4)]
    devices = [f"dev{p:05d}d{k}" for k in range(2)]
    household = f"hh-ck-{p // 2}"  # two persons share it
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.3:
            ids = {"cookie_id": rng.choice(cookies)}
        elif roll < 0.55:
            ids = {"cookie_id": rng.choice(cookies), "email": rng.choice(emails)}
        elif roll < 0.7:
            ids = {"device_id": rng.choice(devices), "email": rng.choice(emails)}
        elif roll < 0.85:
            ids = {"cookie_id": rng.choice(cookies), "crm_id": crm}
        elif roll < 0.95:
            ids = {"crm_id": crm, "email": rng.choice(emails), "cookie_id": rng.choice(cookies)}
        else:
            ids = {"cookie_id": household, "crm_id": crm}
        out.append(ids)
    return out


def _burst(rng: random.Random, total: int) -> list[dict]:
    hot = total // 5
    per_person = 20
    idsets = _hot(rng, hot)
    for p in range((total - hot) // per_person):
        idsets += _person(rng, p, per_person)
    idsets += _person(rng, 10**6, total - len(idsets))  # the rest, to make the total exact
    rng.shuffle(idsets)
    return [{"event_id": f"BURST-{i:06d}", "schema_version": 1, "type": "page_view",
             "event_time": f"2026-03-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
             "channel": "web", "source": "web", "identifiers": ids, "attributes": {"page": "/"}}
            for i, ids in enumerate(idsets)]


def test_a_burst_with_a_hot_customer_and_many_merges_keeps_the_invariants(speed_env) -> None:
    env = speed_env
    policy = load_policy(env.settings.conf_dir / "rules.yaml")
    seed = int(os.environ.get("UCID_TEST_SEED", str(random.randrange(1 << 30))))
    print(f"seed={seed}")
    events = _burst(random.Random(seed), EVENTS)
    hot_share = sum(1 for e in events if any(v.startswith(("hot", "CHOT")) for v in e["identifiers"].values()))
    assert hot_share == EVENTS // 5

    from kafka import KafkaProducer

    from speed.produce import key_of

    producer = KafkaProducer(bootstrap_servers=env.settings.kafka.bootstrap_servers, acks="all", linger_ms=20,
                             batch_size=256 * 1024)
    for e in events:
        value = json.dumps(e).encode()
        producer.send(env.topic(), key=key_of(value, policy), value=value)
    producer.flush()
    producer.close()

    procs = [env.start(log_name=f"burst{i}") for i in range(2)]
    try:
        took = wait_applied(env, EVENTS, "the burst to be applied")
    finally:
        codes = [stop(p, timeout=60) for p in procs]
    assert codes == [0, 0]
    print(f"seed={seed}: {EVENTS} events applied in {took:.1f} s ({EVENTS / took:,.0f}/s, two processes)")

    started = time.monotonic()
    check_exactly_once(env, events)
    clusters = check_identity(env, policy, events)
    hot = {u for u, ids in clusters.items() if ("crm_id", "CHOT0001") in ids}
    assert len(hot) == 1
    print(f"checked in {time.monotonic() - started:.1f} s: {len(clusters)} live customers, the hot one holds "
          f"{len(clusters[hot.pop()])} identifiers")
    outcomes: dict[str, int] = {}
    for log_file in sorted(env.landing.parent.glob("burst*.log")):
        summary = [line for line in log_file.read_text().splitlines() if "speed consumer stopped" in line]
        assert len(summary) == 1, f"{log_file.name}: {len(summary)} stop summaries"
        for kind, n in re.findall(r"\bstitch_(\w+)=(\d+)", summary[0]):
            outcomes[kind] = outcomes.get(kind, 0) + int(n)
    print(f"outcomes: {outcomes}")
    assert outcomes.get("merge", 0) >= 500, f"a burst with many merges made only {outcomes.get('merge', 0)}"
    assert sum(outcomes.values()) == EVENTS
