"""Resolve and batch resolve against a published data set in the real Cassandra."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_every_sampled_identifier_resolves_to_its_published_ucid(client, serving_data):
    merged = {serving_data.alias: serving_data.survivor}
    for id_type, raw, normalized, ucid in serving_data.sample:
        r = client.get("/v1/resolve", params={"type": id_type, "value": raw})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["value"] == normalized
        assert body["ucid"] == merged.get(ucid, ucid)
        assert body["layer"] == "batch"


def test_value_is_normalized_with_the_identity_core(client, serving_data):
    email = next(s for s in serving_data.sample if s[0] == "email" and s[3] != serving_data.alias)
    shouted = "  " + email[2].upper() + " "
    r = client.get("/v1/resolve", params={"type": "email", "value": shouted})
    assert r.status_code == 200, r.text
    assert r.json()["ucid"] == email[3]


def test_a_ucid_merged_away_answers_with_its_survivor(client, serving_data):
    id_type, value = serving_data.alias_identifier
    r = client.get("/v1/resolve", params={"type": id_type, "value": value})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ucid"] == serving_data.survivor
    assert body["merged"] is True
    assert body["merged_from"] == [serving_data.alias]


def test_unknown_identifier_is_404_and_bad_input_422(client):
    r = client.get("/v1/resolve", params={"type": "email", "value": "nobody.at.all@nowhere-ucid.org"})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get("/v1/resolve", params={"type": "shoe_size", "value": "42"})
    assert r.status_code == 422 and "unknown identifier type" in r.json()["detail"]
    r = client.get("/v1/resolve", params={"type": "email", "value": "not-an-email"})
    assert r.status_code == 422 and "invalid value" in r.json()["detail"]
    r = client.get("/v1/resolve", params={"type": "email", "value": "test@test.com"})
    assert r.status_code == 422 and "blocked" in r.json()["detail"]
    r = client.get("/v1/resolve", params={"type": "email"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_batch_answers_each_identifier_in_order(client, serving_data):
    items = [{"type": t, "value": raw} for t, raw, _, _ in serving_data.sample[:10]]
    items += [{"type": "email", "value": "nobody.at.all@nowhere-ucid.org"}, {"type": "phone", "value": "12"},
              {"type": "nope", "value": "x"}, items[0]]
    r = client.post("/v1/resolve/batch", json={"identifiers": items})
    assert r.status_code == 200, r.text
    body = r.json()
    statuses = [x["status"] for x in body["results"]]
    assert statuses == ["found"] * 10 + ["not_found", "invalid", "invalid", "found"]
    merged = {serving_data.alias: serving_data.survivor}
    for result, (_, _, _, ucid) in zip(body["results"], serving_data.sample[:10], strict=False):
        assert result["resolution"]["ucid"] == merged.get(ucid, ucid)
    assert (body["found"], body["not_found"], body["invalid"]) == (11, 1, 2)


def test_batch_over_the_maximum_is_422(client):
    items = [{"type": "email", "value": f"user{i}@example.org"} for i in range(101)]
    r = client.post("/v1/resolve/batch", json={"identifiers": items})
    assert r.status_code == 422 and "maximum is 100" in r.json()["detail"]


def test_a_batch_reads_each_type_together_and_answers_as_single_resolves(client, app, serving_data):
    """The batch's reads are awaited in one loop turn, so the store fetches them per identifier
    type with ``IN`` reads (``infra.store.coalesce``): same answers as one resolve at a time."""
    from math import ceil

    sample = serving_data.sample[:100]
    single = {}
    for id_type, raw, _, _ in sample:
        r = client.get("/v1/resolve", params={"type": id_type, "value": raw})
        assert r.status_code == 200, r.text
        single[(id_type, raw)] = r.json()
    coalescer = app.state.ucid.store.coalescer
    assert coalescer is not None  # on by default (UCID_SERVING_COALESCE_MAX)
    fetches, keys = coalescer.fetches, coalescer.keys
    r = client.post("/v1/resolve/batch", json={"identifiers": [{"type": t, "value": raw} for t, raw, _, _ in sample]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["found"] * len(sample)
    for result, (id_type, raw, _, _) in zip(results, sample, strict=True):
        assert result["resolution"] == single[(id_type, raw)]
    per_type: dict[str, set[str]] = {}
    for id_type, _, normalized, _ in sample:
        per_type.setdefault(id_type, set()).add(normalized)
    assert coalescer.keys - keys == sum(len(v) for v in per_type.values())  # each identifier read once
    most = app.state.ucid.serving.coalesce_max
    assert coalescer.fetches - fetches <= sum(ceil(len(v) / most) for v in per_type.values())
