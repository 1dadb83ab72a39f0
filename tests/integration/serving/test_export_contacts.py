"""Subject access and contact history on the published data set of ``serving_data`` (generated,
run through the real batch pipeline and publish, then a real speed-layer merge).

* The export of a person's UCID(s) holds every identifier the generator's truth gives that
  person: the truth maps each record to its person; the person's identifiers are those of their
  records in the landing files, normalized by the identity core (values it refuses -- junk,
  withheld caller ids, placeholders -- are no one's identifier); their UCIDs are those the batch
  assigned their records to. A person the resolver split across two UCIDs has their identifiers
  in the union of the exports of both, so the union is what is checked.
* The contacts endpoint answers a customer's contacts with their outcomes, per channel, paged by
  cursor, as the generated events of the records assigned to that customer make them (the stream
  file: the same events as the landing files, in the contract's shape), plus the speed layer's
  events since the snapshot.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from datetime import datetime

import pytest

pytestmark = pytest.mark.integration

SAMPLE = 40
SEED = 20261201


@pytest.fixture(scope="module")
def truth(serving_data):
    """``person -> records`` and ``person -> identifiers`` (normalized) from the truth file and the
    landing files, read without the batch."""
    from identity.rules import load_policy
    from identity.sources import load_sources
    from ucid.local_resolve import ReadStats, read_records

    landing = serving_data.base / "landing"
    person_of = {}
    with (landing / "truth" / "truth.csv").open() as f:
        for row in csv.DictReader(f):
            person_of[(row["source"], row["record_id"])] = row["person_id"]
    conf = serving_data.settings.conf_dir
    policy = load_policy(conf / "rules.yaml")
    sources = load_sources(conf / "sources", known_types=set(policy.types))
    records, identifiers = defaultdict(set), defaultdict(set)
    for record in read_records(landing, sources, ReadStats()):
        person = person_of[(record.source, record.record_id)]
        records[person].add((record.source, record.record_id))
        for t, raw in record.identifiers:
            value, _ = policy.types[t].accept(raw) if raw is not None else (None, None)
            if value is not None:
                identifiers[person].add((t, value))
    return records, identifiers


@pytest.fixture(scope="module")
def assigned(serving_data, spark):
    """``(source, record_id) -> UCID`` as the batch assigned the records (gold/assignments)."""
    from batch.tables import Lake

    path = Lake(serving_data.base / "lake").gold("assignments")
    return {(r.source, r.record_id): r.ucid
            for r in spark.read.format("delta").load(path).select("source", "record_id", "ucid").collect()}


def _export(client, ucid):
    answer = client.get(f"/v1/profiles/{ucid}/export")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_export_holds_every_identifier_the_truth_gives_each_sampled_person(client, serving_data, truth,
                                                                               assigned):
    records, identifiers = truth
    persons = sorted(p for p in identifiers if len(identifiers[p]) >= 2)
    # the persons of the UCIDs the speed layer merged after the snapshot always, the rest at random
    merged = {p for p in persons for r in records[p] if assigned.get(r) in (serving_data.alias, serving_data.survivor)}
    rng = random.Random(SEED)
    sample = sorted(merged) + rng.sample([p for p in persons if p not in merged], SAMPLE)
    print(f"[export] seed {SEED}: {len(sample)} persons, {len(merged)} of the speed merge")
    split, missing = 0, {}
    for person in sample:
        ucids = sorted({assigned[r] for r in records[person] if r in assigned})
        assert ucids, f"{person}: no record assigned"
        split += len(ucids) > 1
        held = set()
        for ucid in ucids:  # a person split across UCIDs: the union of their exports
            doc = _export(client, ucid)
            held |= {(i["type"], i["value"]) for i in doc["identifiers"]}
        if identifiers[person] - held:
            missing[person] = (ucids, sorted(identifiers[person] - held))
    print(f"[export] {split} sampled persons on more than one UCID")
    assert not missing, f"identifiers of the truth missing from the export: {missing}"


def test_the_export_follows_the_alias_and_holds_both_customers_history(client, serving_data):
    doc = _export(client, serving_data.alias)
    assert doc["_id"]["ucid"] == serving_data.survivor and doc["_id"]["merged"] is True
    assert serving_data.alias in doc["ucids"]
    values = {(i["type"], i["value"]) for i in doc["identifiers"]}
    assert set(serving_data.published.members[serving_data.alias]) <= values
    assert set(serving_data.published.members[serving_data.survivor]) <= values
    assert any(c["kind"] == "merge" and serving_data.alias in c["oldUcids"] for c in doc["identityChanges"])
    assert serving_data.merge_event in {e["eventId"] for e in doc["events"]}
    for link in doc["links"]:
        assert (link["fromType"], link["fromValue"]) in values and (link["toType"], link["toValue"]) in values


def test_export_needs_its_own_scope_and_is_audited(client, serving_data, api_keys, cql_session):
    from fastapi.testclient import TestClient

    ucid = serving_data.spare[-1]
    with TestClient(client.app, headers={"X-API-Key": api_keys["resolve"]}) as other:
        assert other.get(f"/v1/profiles/{ucid}/export").status_code == 403
    before = cql_session.execute(f"SELECT count(*) FROM {serving_data.keyspace}.audit_by_ucid WHERE ucid = %s",
                                 (ucid,)).one()[0]
    _export(client, ucid)
    rows = list(cql_session.execute(f"SELECT action FROM {serving_data.keyspace}.audit_by_ucid WHERE ucid = %s",
                                    (ucid,)))
    assert len(rows) == before + 1 and rows[0].action == "export"


def _stream(serving_data):
    with (serving_data.base / "stream.jsonl").open() as f:
        return {e["event_id"]: e for e in map(json.loads, f)}


def _all_contacts(client, ucid, limit, **params):
    out, cursor, pages = [], None, 0
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        answer = client.get(f"/v1/profiles/{ucid}/contacts", params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["contacts"]) <= limit
        out += body["contacts"]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            return out, pages


def _expected(serving_data, assigned, ucids, extra=()):
    from identity.contacts import contacts_of

    stream = _stream(serving_data)
    # naive UTC, as the driver reads the speed layer's rows back
    events = [{**stream[rid], "event_time": datetime.fromisoformat(stream[rid]["event_time"].rstrip("Z"))}
              for (source, rid), u in assigned.items() if u in ucids and rid in stream]
    return contacts_of([*events, *extra])


def _shape(c):
    return (c.contact_id, c.direction, c.channel, c.outcome, c.topic, tuple(sorted(c.responses)))


def _got(contact):
    return (contact["contactId"], contact["direction"], contact["channel"], contact["outcome"], contact["topic"],
            tuple(sorted(contact["responses"])))


def test_contacts_are_the_customers_generated_contacts_with_outcomes_per_channel_and_paged(
        client, serving_data, assigned):
    # the live customers with the most contacts on at least two channels
    per_ucid = defaultdict(list)
    for (source, rid), ucid in assigned.items():
        if source in ("email_campaigns", "contact_center", "web", "app"):
            per_ucid[ucid].append(rid)
    live = set(serving_data.published.minted) - {serving_data.alias, serving_data.survivor}
    chosen = sorted((u for u in per_ucid if u in live), key=lambda u: (-len(per_ucid[u]), u))[:3]
    directions_seen, channels_seen = set(), set()
    for ucid in chosen:
        expected = _expected(serving_data, assigned, {ucid})
        got, pages = _all_contacts(client, ucid, limit=3)
        assert [_got(c) for c in got] == [_shape(c) for c in expected], ucid
        assert pages == max(1, -(-len(expected) // 3))
        for channel in {c.channel for c in expected}:
            on, _ = _all_contacts(client, ucid, limit=2, channel=channel)
            assert [_got(c) for c in on] == [_shape(c) for c in expected if c.channel == channel]
        directions_seen |= {c.direction for c in expected}
        channels_seen |= {c.channel for c in expected}
    assert len(channels_seen) >= 2 and len(directions_seen) >= 2, (channels_seen, directions_seen)
    doc = client.get(f"/v1/profiles/{chosen[0]}").json()
    summary = {k: v["count"] for k, v in doc["contactSummary"].items()}
    expected = _expected(serving_data, assigned, {chosen[0]})
    want = defaultdict(int)
    for c in expected:
        want[f"{c.direction}:{c.channel}"] += 1
    assert summary == dict(want)


def test_contacts_of_a_merged_customer_hold_both_sides_and_the_speed_layers_events(client, serving_data, assigned,
                                                                                    cql_session):
    merge = cql_session.execute(f"SELECT event_id, event_time, type, channel, attributes FROM "
                                f"{serving_data.keyspace}.profile_updates WHERE ucid = %s AND event_id = %s",
                                (serving_data.survivor, serving_data.merge_event)).one()
    assert merge is not None
    speed = {"event_id": merge.event_id, "type": merge.type, "channel": merge.channel,
             "event_time": merge.event_time, "attributes": dict(merge.attributes or {})}
    expected = _expected(serving_data, assigned, {serving_data.alias, serving_data.survivor}, [speed])
    got, _ = _all_contacts(client, serving_data.alias, limit=4)
    assert f"web:event:{serving_data.merge_event}" in {c["contactId"] for c in got}
    assert [_got(c) for c in got] == [_shape(c) for c in expected]


def test_the_cli_export_is_the_apis_document_and_is_audited(client, serving_data, cql_session, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    api = _export(client, serving_data.alias)
    env = {**os.environ, "UCID_CASSANDRA_KEYSPACE": serving_data.keyspace}
    out = tmp_path / "export.json"
    subprocess.run([sys.executable, "-m", "ucid.cli", "privacy", "export", "--ucid", serving_data.alias,
                    "--out", str(out)], cwd=repo, env=env, check=True, capture_output=True, timeout=120)
    cli = json.loads(out.read_text())
    t, v = serving_data.alias_identifier
    by_id = subprocess.run([sys.executable, "-m", "ucid.cli", "privacy", "export", "--identifier", f"{t}:{v}"],
                           cwd=repo, env=env, check=True, capture_output=True, timeout=120, text=True)
    named = json.loads(by_id.stdout)
    for doc in (cli, named):
        assert doc["_id"]["ucid"] == serving_data.survivor
        for part in ("ucids", "identifiers", "events", "contacts", "identityChanges", "links", "consents"):
            assert doc[part] == api[part], part
    assert named["_id"]["requested"] == f"{t}:{v}"
    rows = list(cql_session.execute(f"SELECT action, key_id, via, requested_ucid FROM {serving_data.keyspace}"
                                    ".audit_by_ucid WHERE ucid = %s LIMIT 2", (serving_data.survivor,)))
    assert [(r.action, r.key_id, r.via) for r in rows] == [("export", "cli", f"identifier:{t}"),
                                                          ("export", "cli", "ucid")]
    assert rows[1].requested_ucid == serving_data.alias
    bad = subprocess.run([sys.executable, "-m", "ucid.cli", "privacy", "export", "--identifier", "email"],
                         cwd=repo, env=env, capture_output=True, timeout=120, text=True)
    assert bad.returncode == 2 and "TYPE:VALUE" in bad.stderr
