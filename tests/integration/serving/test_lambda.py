"""The lambda merge: speed-layer writes after the batch snapshot are visible, and a batch
publish (written with USING TIMESTAMP S) does not hide them."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.integration


def _loader():
    return sys.modules["ucid_serving_it_loader"]


def test_a_customer_created_in_real_time_is_found_at_once(client, serving_data, cql_session):
    loader = _loader()
    ucid = "U" + "S" * 20
    loader.speed_new_customer(cql_session, serving_data.keyspace, ucid, ("email", "brand.new@speed-ucid.org"),
                              "evt-speed-1", {"first_name": "Nova"}, 12.5)
    r = client.get("/v1/resolve", params={"type": "email", "value": "Brand.New@speed-ucid.org"})
    assert r.status_code == 200, r.text
    assert r.json()["ucid"] == ucid and r.json()["layer"] == "speed"
    doc = client.get(f"/v1/profiles/{ucid}").json()
    assert doc["profile"]["attributes"] == {"first_name": "Nova"}
    assert float(doc["profile"]["lifetimeSpend"]) == 12.5
    assert doc["platformHeader"]["dataFreshness"]["batchSnapshot"] is None
    assert doc["platformHeader"]["dataFreshness"]["speedUpdatesApplied"] == 1
    assert [e["eventId"] for e in doc["events"]] == ["evt-speed-1"]


def test_a_batch_republish_does_not_hide_newer_speed_changes(client, serving_data, cql_session):
    loader = _loader()
    ks = serving_data.keyspace
    published = serving_data.published
    ucid = serving_data.spare[0]
    before = client.get(f"/v1/profiles/{ucid}").json()
    web_before = before["profile"]["channelCounts"].get("web", 0)

    # the speed layer applies an event after the snapshot, and re-points an identifier to a new UCID
    at = datetime.now(UTC).replace(tzinfo=None)
    loader.add_speed_update(cql_session, ks, ucid, "evt-speed-2", {"city": "Speedville"}, 40.0, at)
    moved = published.members[ucid][-1]
    new_home = "U" + "T" * 20
    cql_session.execute(f"INSERT INTO {ks}.ucids (ucid, minted_at, status, layer) VALUES (%s, %s, 'live', 'speed')",
                        (new_home, at))
    applied = cql_session.execute(f"UPDATE {ks}.identifiers SET ucid = %s, layer = 'speed' "
                                  "WHERE id_type = %s AND id_value = %s IF ucid = %s",
                                  (new_home, moved[0], moved[1], ucid)).one()
    assert applied[0]

    # the batch publishes its snapshot again (same S: an idempotent retry)
    ts = int(published.snapshot.replace(tzinfo=UTC).timestamp() * 1_000_000)
    cql_session.execute(
        f"INSERT INTO {ks}.profiles (ucid, attributes, batch_snapshot) VALUES (%s, %s, %s) USING TIMESTAMP {ts}",
        (ucid, before["profile"]["attributes"], published.snapshot))
    cql_session.execute(
        f"INSERT INTO {ks}.identifiers (id_type, id_value, ucid, layer) VALUES (%s, %s, %s, 'batch') USING TIMESTAMP {ts}",
        (moved[0], moved[1], ucid))

    doc = client.get(f"/v1/profiles/{ucid}").json()
    assert doc["profile"]["attributes"]["city"] == "Speedville"
    assert doc["profile"]["channelCounts"].get("web", 0) == web_before + 1
    assert doc["platformHeader"]["dataFreshness"]["speedUpdatesApplied"] == 1
    assert doc["events"][0]["eventId"] == "evt-speed-2"
    r = client.get("/v1/resolve", params={"type": moved[0], "value": moved[1]})
    assert r.json()["ucid"] == new_home
    shown = {(t, e["value"]) for t, entries in doc["identity"].items() for e in entries}
    assert moved not in shown  # the identity section follows the speed layer's re-pointing


def test_speed_rows_older_than_the_snapshot_are_ignored(client, serving_data, cql_session):
    loader = _loader()
    published = serving_data.published
    ucid = serving_data.spare[1]
    before = client.get(f"/v1/profiles/{ucid}").json()["profile"]
    old = published.snapshot.replace(year=published.snapshot.year - 1)
    loader.add_speed_update(cql_session, serving_data.keyspace, ucid, "evt-speed-old", {"city": "Stale"}, 99.0, old)
    after = client.get(f"/v1/profiles/{ucid}").json()["profile"]
    assert after == before


