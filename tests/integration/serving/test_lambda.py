"""The lambda merge on what the real writers wrote: speed-layer changes applied by the real
consumer after the batch snapshot are visible at once, and the real batch publish, run again on
the same snapshot (written with USING TIMESTAMP S), does not hide them."""

from __future__ import annotations

from datetime import UTC

import pytest

pytestmark = pytest.mark.integration


def _identity(doc) -> set[tuple[str, str]]:
    return {(t, e["value"]) for t, entries in doc["identity"].items() for e in entries}


def test_a_customer_created_in_real_time_is_found_at_once(client, speed_layer):
    ev = speed_layer.event("evt-speed-1", {"email": "brand.new@speed-ucid.org"}, {"first_name": "Nova", "amount": 12.5},
                           type_="purchase")
    applied = speed_layer.apply(ev)["evt-speed-1"]
    assert applied.outcome == "new"
    ucid = applied.ucid  # minted by the speed layer
    r = client.get("/v1/resolve", params={"type": "email", "value": "Brand.New@speed-ucid.org"})
    assert r.status_code == 200, r.text
    assert r.json()["ucid"] == ucid and r.json()["layer"] == "speed"
    doc = client.get(f"/v1/profiles/{ucid}").json()
    # the speed layer folds every attribute of the event into the profile (the amount too, as text)
    assert doc["profile"]["attributes"] == {"first_name": "Nova", "amount": "12.5"}
    assert float(doc["profile"]["lifetimeSpend"]) == 12.5
    assert doc["platformHeader"]["dataFreshness"]["batchSnapshot"] is None
    assert doc["platformHeader"]["dataFreshness"]["speedUpdatesApplied"] == 1
    assert [e["eventId"] for e in doc["events"]] == ["evt-speed-1"]


def test_a_batch_republish_does_not_hide_newer_speed_changes(client, serving_data, speed_layer):
    # two batch customers the speed layer may merge; it keeps ``ucid`` (older minted_at / smaller UCID)
    ucid, other, mine, moved = serving_data.merge_pair(serving_data.spare[:40])
    before = client.get(f"/v1/profiles/{ucid}").json()
    assert before["platformHeader"]["dataFreshness"]["speedUpdatesApplied"] == 0
    web_before = before["profile"]["channelCounts"].get("web", 0)

    # the real consumer applies one event after the snapshot: a new attribute, a web contact, the newest
    # timeline entry, and ``moved`` (a batch identifier of ``other``) seen with one of ``ucid``'s: the speed
    # layer merges ``other`` into ``ucid`` and re-points ``moved`` at ``ucid``
    applied = speed_layer.apply(speed_layer.event("evt-speed-2", {mine[0]: mine[1], moved[0]: moved[1]},
                                                  {"city": "Speedville"}))["evt-speed-2"]
    assert (applied.outcome, applied.ucid) == ("merge", ucid)
    r = client.get("/v1/resolve", params={"type": moved[0], "value": moved[1]})
    # re-pointed in the merge's batch: one row answers the survivor and the UCID merged away
    assert (r.json()["ucid"], r.json()["layer"], r.json()["merged_from"]) == (ucid, "speed", [other])

    # the batch publishes its unchanged snapshot again, only what changed: nothing but the rows the speed
    # layer wrote since (``moved``, ``other``'s ucids row), which a full publish would rewrite too
    written = serving_data.republish(every_row=False)
    assert written["identifiers"] >= 1 and written["ucids"] >= 1 and written["profiles"] == 0
    assert written["events_by_ucid"] == 0 and written["links_by_ucid"] == 0
    r = client.get("/v1/resolve", params={"type": moved[0], "value": moved[1]})
    assert (r.json()["ucid"], r.json()["layer"], r.json()["merged_from"]) == (ucid, "speed", [other])

    # the batch publishes its snapshot again (same S: an idempotent retry), rewriting ``moved`` -> ``other``,
    # ``other``'s ucids row (live) and ``ucid``'s profile, all at timestamp S
    written = serving_data.republish()
    assert written["identifiers"] > 0 and written["profiles"] > 0 and written["ucids"] > 0

    doc = client.get(f"/v1/profiles/{ucid}").json()
    assert doc["profile"]["attributes"]["city"] == "Speedville"
    assert doc["profile"]["channelCounts"].get("web", 0) == web_before + 1
    assert doc["platformHeader"]["dataFreshness"]["speedUpdatesApplied"] == 1
    assert doc["events"][0]["eventId"] == "evt-speed-2"
    r = client.get("/v1/resolve", params={"type": moved[0], "value": moved[1]})
    # still the speed layer's re-pointing (its cells are newer than the batch's row at S)
    assert (r.json()["ucid"], r.json()["layer"], r.json()["merged_from"]) == (ucid, "speed", [other])
    # the identity section follows the speed layer's re-pointing: ``moved`` (and all of ``other``) are ``ucid``'s
    assert moved in _identity(doc)
    assert set(serving_data.published.members[other]) <= _identity(doc)
    # and the republished ``ucids`` row of ``other`` does not undo the merge
    assert client.get(f"/v1/profiles/{other}").json()["_id"]["ucid"] == ucid


def test_speed_rows_older_than_the_snapshot_are_ignored(client, serving_data, speed_layer):
    """The real consumer stamps ``applied_at`` with its own clock as it applies an event, and this
    suite's batch snapshot is a fixed past instant: the real writers cannot produce a speed row older
    than the snapshot (in production the next batch run, with a later snapshot, recomputes such
    rows). The closest real behaviour: every speed row is after the snapshot, and an event the speed
    layer already applied is not counted again when it is delivered again (here with a changed,
    stale payload): the profile does not change."""
    published = serving_data.published
    ucid = serving_data.spare[-1]
    ident = published.members[ucid][0]
    first = speed_layer.apply(speed_layer.event("evt-speed-old", {ident[0]: ident[1]}, {"city": "Fresh"}))
    row = first["evt-speed-old"]
    assert row.ucid == ucid
    assert row.applied_at.replace(tzinfo=UTC) > published.snapshot.replace(tzinfo=UTC)
    before = client.get(f"/v1/profiles/{ucid}").json()["profile"]

    speed_layer.send(speed_layer.event("evt-speed-old", {ident[0]: ident[1]}, {"city": "Stale", "amount": 99.0},
                                       type_="purchase"))
    speed_layer.drain()  # consumed and committed: dropped as already applied
    after = client.get(f"/v1/profiles/{ucid}").json()["profile"]
    assert after == before
    assert speed_layer.applied("evt-speed-old").applied_at == row.applied_at
