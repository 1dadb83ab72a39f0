"""360 profile and explain against the published data set."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def _a_customer(serving_data) -> str:
    """The sampled customer with the longest published timeline (no test changes sampled customers)."""
    published = serving_data.published
    return max({s[3] for s in serving_data.sample}, key=lambda u: (published.events[u], u))


def test_profile_by_ucid_has_the_rationalized_shape(client, serving_data):
    ucid = _a_customer(serving_data)
    r = client.get(f"/v1/profiles/{ucid}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert {"_id", "platformHeader", "identity", "profile", "events", "consents", "preferences", "traits"} <= set(doc)
    assert doc["_id"] == {"ucid": ucid, "requested": ucid, "merged": False, "mergedFrom": []}
    header = doc["platformHeader"]
    assert header["apiVersion"] == "v1" and header["schemaVersion"] == "ucid.customer/1"
    assert header["storeSchemaVersion"] >= 3
    assert header["dataFreshness"]["batchSnapshot"].startswith(serving_data.published.snapshot.isoformat()[:19])
    published_ids = sorted(serving_data.published.members[ucid])
    shown = sorted((t, e["value"]) for t, entries in doc["identity"].items() for e in entries)
    assert shown == published_ids
    assert all(e["source"] and e["firstSeen"] for entries in doc["identity"].values() for e in entries)
    # every contact the batch counted; the first page of the timeline the batch published
    assert sum(doc["profile"]["channelCounts"].values()) == serving_data.published.contacts[ucid]
    assert len(doc["events"]) == min(20, serving_data.published.events[ucid])


def test_timeline_pages_cover_every_event_once_newest_first(client, serving_data):
    ucid = _a_customer(serving_data)
    seen, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        r = client.get(f"/v1/profiles/{ucid}/events", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        seen.extend(page["events"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == serving_data.published.events[ucid]
    assert len({e["eventId"] for e in seen}) == len(seen)
    times = [e["eventTime"] for e in seen]
    assert times == sorted(times, reverse=True)


def test_bad_cursor_and_limit_are_422(client, serving_data):
    ucid = _a_customer(serving_data)
    assert client.get(f"/v1/profiles/{ucid}/events", params={"cursor": "!!nope"}).status_code == 422
    assert client.get(f"/v1/profiles/{ucid}", params={"limit": 5000}).status_code == 422
    assert client.get(f"/v1/profiles/{ucid}", params={"limit": 500}).status_code == 422  # above the 200 max
    assert client.get("/v1/profiles/not-a-ucid").status_code == 422


def test_profile_by_identifier_equals_profile_by_ucid(client, serving_data):
    id_type, raw, _, ucid = serving_data.sample[0]
    by_id = client.get("/v1/profiles/by-identifier", params={"type": id_type, "value": raw})
    assert by_id.status_code == 200, by_id.text
    by_ucid = client.get(f"/v1/profiles/{ucid}").json()
    doc = by_id.json()
    assert doc["_id"]["ucid"] == ucid and doc["_id"]["requested"].startswith(f"{id_type}:")
    assert doc["identity"] == by_ucid["identity"] and doc["profile"] == by_ucid["profile"]


def test_profile_of_a_merged_ucid_is_its_survivors_with_both_identities(client, serving_data):
    r = client.get(f"/v1/profiles/{serving_data.alias}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["_id"] == {"ucid": serving_data.survivor, "requested": serving_data.alias,
                          "merged": True, "mergedFrom": [serving_data.alias]}
    members = serving_data.published.members
    expected = sorted(members[serving_data.survivor] + members[serving_data.alias])
    shown = sorted((t, e["value"]) for t, entries in doc["identity"].items() for e in entries)
    assert shown == expected


def test_unknown_customer_is_404(client):
    assert client.get("/v1/profiles/U00000000000000000000").status_code == 404
    r = client.get("/v1/profiles/by-identifier", params={"type": "crm_id", "value": "C000000000"})
    assert r.status_code == 404


def test_explain_walks_the_links_between_two_identifiers(client, serving_data):
    (at, av), (bt, bv), length = serving_data.explain_pair
    r = client.get("/v1/explain", params={"a_type": at, "a_value": av, "b_type": bt, "b_value": bv})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["same_customer"] is True
    chain = body["chain"]
    assert len(chain) == length
    assert (chain[0]["from_type"], chain[0]["from_value"]) == (at, av)
    assert (chain[-1]["to_type"], chain[-1]["to_value"]) == (bt, bv)
    for step, nxt in zip(chain, chain[1:], strict=False):
        assert (step["to_type"], step["to_value"]) == (nxt["from_type"], nxt["from_value"])
    assert all(step["records"] and step["rule"] for step in chain)


def test_explain_across_a_speed_merge_uses_the_merge_link(client, serving_data):
    # a: an identifier the batch gave the merged-away UCID (it resolves through the alias); b: the
    # survivor's identifier of the merge event. Every chain between them ends with the merge link.
    a = serving_data.alias_identifier
    b = serving_data.merge_link[1]
    r = client.get("/v1/explain", params={"a_type": a[0], "a_value": a[1], "b_type": b[0], "b_value": b[1]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["same_customer"] is True and body["a"]["merged"] is True
    last = body["chain"][-1]
    assert {(last["from_type"], last["from_value"]), (last["to_type"], last["to_value"])} == set(serving_data.merge_link)
    assert last["records"] == [{"source": "stream", "record_id": serving_data.merge_event}]


def test_explain_of_two_customers_says_they_differ(client, serving_data):
    (t1, _, v1, _), other = serving_data.sample[0], next(s for s in serving_data.sample if s[3] != serving_data.sample[0][3])
    r = client.get("/v1/explain", params={"a_type": t1, "a_value": v1, "b_type": other[0], "b_value": other[2]})
    assert r.status_code == 200, r.text
    assert r.json()["same_customer"] is False and r.json()["chain"] is None
