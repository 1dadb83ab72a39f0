"""Cursors, API keys and the explain edges: pure pieces of the serving layer."""

from __future__ import annotations

from datetime import datetime

import pytest

from serving import keys, timeline
from serving.explain import edges_from_links


def test_cursor_round_trips_and_rejects_garbage():
    at = datetime(2026, 1, 5, 10, 30, 15, 123000)
    assert timeline.decode_cursor(timeline.encode_cursor(at, "web:E-1|x")) == (at, "web:E-1|x")
    for bad in ["", "!!", "bm90LWEtY3Vyc29y", "OTk5OTk5OTk5OTk5OTk5OTk5OTl8eA"]:
        with pytest.raises(timeline.BadCursor):
            timeline.decode_cursor(bad)


def test_keys_are_parsed_hashed_and_checked_in_constant_time():
    key_id, secret, token = keys.new_key()
    assert keys.parse(token) == (key_id, secret)
    record = keys.KeyRecord(key_id, "web", frozenset({"resolve"}), keys.hash_secret(secret))
    assert keys.matches(record, secret) and not keys.matches(record, secret + "x")
    assert secret not in record.secret_hash
    for bad in ["", "ucid_", "ucid_XYZ_abc", f"ucid_{key_id}", "Bearer " + token]:
        with pytest.raises(keys.BadKey):
            keys.parse(bad)


def test_scopes_are_checked():
    assert keys.check_scopes(["resolve", "explain"]) == {"resolve", "explain"}
    with pytest.raises(keys.BadKey, match="unknown scope"):
        keys.check_scopes(["admin"])
    with pytest.raises(keys.BadKey, match="at least one"):
        keys.check_scopes([])


def test_link_rows_become_one_edge_per_pair_with_all_their_records():
    rows = [
        {"from_type": "crm_id", "from_value": "C1", "to_type": "email", "to_value": "a@x.org", "source": "crm", "record_id": "1"},
        {"from_type": "email", "from_value": "a@x.org", "to_type": "crm_id", "to_value": "C1", "source": "billing", "record_id": "9"},
        {"from_type": "email", "from_value": "a@x.org", "to_type": "email", "to_value": "a@x.org", "source": "x", "record_id": "0"},
    ]
    (edge,) = edges_from_links(rows)
    assert (edge.a, edge.b) == (("crm_id", "C1"), ("email", "a@x.org"))
    assert edge.evidence == (("billing", "9"), ("crm", "1")) and edge.rule == "crm_id~email"
