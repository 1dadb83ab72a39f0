"""Cursors, API keys and the explain edges: pure pieces of the serving layer."""

from __future__ import annotations

import json
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


def _model_row(a, b, record, weight, probability=0.9995):
    levels = [{"comparison": "first_name", "level": 3, "label": "Exact match on first_name", "weight": 6.25},
              {"comparison": "dob", "level": 0, "label": "All other comparisons", "weight": -3.5},
              {"comparison": "email", "level": -1, "label": "missing on one side", "weight": 0.0}]
    return {"from_type": a[0], "from_value": a[1], "to_type": b[0], "to_value": b[1], "rule": "model:person",
            "source": record[0], "record_id": record[1],
            "match": json.dumps({"model": "m1", "probability": probability, "weight": weight, "levels": levels})}


def test_a_model_link_keeps_its_strongest_evidence_and_an_exact_link_wins_over_it():
    from serving.explain import _step

    a, b, c = ("_record", "store/7"), ("crm_id", "C1"), ("crm_id", "C2")
    rows = [_model_row(a, b, ("store", "7"), 9.0), _model_row(b, a, ("crm", "1"), 11.5),
            _model_row(b, c, ("crm", "1"), 12.0),
            {"from_type": "crm_id", "from_value": "C1", "to_type": "crm_id", "to_value": "C2", "rule": "crm_id~crm_id",
             "source": "billing", "record_id": "4", "match": None}]
    model_edge, exact_edge = edges_from_links(rows)
    assert (model_edge.a, model_edge.b) == (a, b) and model_edge.rule == "model:person"
    assert model_edge.match.weight == 11.5 and model_edge.evidence == (("crm", "1"), ("store", "7"))
    assert exact_edge.match is None and exact_edge.rule == "crm_id~crm_id"
    step = _step(b, model_edge)
    assert step["to_value"] == "store/7" and step["match"]["probability"] == 0.9995
    assert [c["comparison"] for c in step["match"]["comparisons"]] == ["first_name", "dob", "email"]
    summary = step["match"]["summary"]
    assert "0.9995" in summary and "for: first name: exact match on first_name (+6.2)" in summary
    assert "against: dob: all other comparisons (-3.5)" in summary and "no evidence either way: email" in summary
    assert "match" not in _step(b, exact_edge)
