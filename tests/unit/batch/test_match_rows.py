"""Silver records -> the match model's person rows (batch/match.py), without Spark.

The function the batch runs in ``mapInArrow``: silver's attribute map and normalized identifiers
in, the core's cleaned columns out, only the attributes each source may feed the model.
"""

from __future__ import annotations

import pyarrow as pa

from batch.match import _person_rows_fn
from identity.match import MatchSpec, model_attributes, person_sources
from identity.sources import SourceDefinition


def _source(name: str, attributes: dict[str, str]) -> SourceDefinition:
    return SourceDefinition.model_validate({
        "name": name, "location": name, "format": "csv", "record_id": "id", "priority": 1, "kind": "profile",
        "identifiers": [{"column": "email", "type": "email"}], "attributes": attributes,
    })


def test_silver_rows_become_the_cores_person_rows() -> None:
    spec = MatchSpec()
    columns = spec.columns()
    sources = [
        _source("crm", {"first_name": "fn", "last_name": "ln", "birth_date": "dob", "gender": "g", "phone": "ph"}),
        _source("billing", {"full_name": "holder", "billing_address": "addr", "postal_code": "zip"}),
        _source("web", {"browser": "ua"}),
    ]
    chosen = person_sources(sources, spec)
    assert [s.name for s in chosen] == ["crm", "billing"]
    allowed = {s.name: model_attributes(s.attributes, columns) for s in chosen}
    batch = pa.RecordBatch.from_pylist([
        {"source": "crm", "record_id": "c1",
         "attributes": [("first_name", "Bill"), ("last_name", "O'Brien"), ("birth_date", "03/12/1984"),
                        ("gender", "m"), ("phone", "555 0100")],
         "ids": [{"type": "phone", "value": "+15550100999"}, {"type": "email", "value": "b@x.com"}]},
        {"source": "billing", "record_id": "b1",
         "attributes": [("full_name", "SMITH, Elizabeth"), ("billing_address", "12 Main Street, Apt. 4"),
                        ("postal_code", "02 134")],
         "ids": []},
    ], schema=pa.schema([("source", pa.string()), ("record_id", pa.string()),
                         ("attributes", pa.map_(pa.string(), pa.string())),
                         ("ids", pa.list_(pa.struct([("type", pa.string()), ("value", pa.string())])))]))
    kinds = {s.name: s.kind for s in chosen}
    out = [b.to_pylist() for b in _person_rows_fn(allowed, kinds, columns, spec)(iter([batch]))]
    crm, billing = out[0]
    assert crm["source"] == "crm" and crm["record_id"] == "c1"
    assert (crm["first_name"], crm["last_name"], crm["birth_date"]) == ("william", "obrien", "1984-03-12")
    assert crm["phone"] == "+15550100999" and crm["email"] == "b@x.com"  # identifiers, not the raw attribute
    assert crm["address"] is None and "gender" not in crm
    assert (billing["first_name"], billing["last_name"]) == ("elizabeth", "smith")
    assert billing["address"] == "12 main st apt 4" and billing["postal_code"] == "02134"
    assert billing["email"] is None and billing["birth_date"] is None
    assert list(crm) == ["source", "record_id", "ids", *columns, "block_keys"]
    # the identifiers ride along as they are (strongest first): who withholds a shared one needs them
    assert crm["ids"] == [{"type": "phone", "value": "+15550100999"}, {"type": "email", "value": "b@x.com"}]
    assert billing["ids"] == []
    assert "first_name+last_name=william\x1fobrien" in crm["block_keys"]  # the speed layer's index keys
    assert billing["block_keys"] == ["address=12 main st apt 4", "first_name+last_name=elizabeth\x1fsmith",
                                     "last_name+postal_code=smith\x1f02134"]


def test_an_event_source_record_is_a_person_row_only_with_a_name() -> None:
    spec = MatchSpec()
    columns = spec.columns()
    stream = SourceDefinition.model_validate({
        "name": "stream", "location": "stream", "format": "jsonl", "record_id": "event_id", "priority": 8,
        "kind": "event", "event_time": "event_time", "identifiers": [{"column": "email", "type": "email"}],
        "attributes": {"first_name": "first_name", "last_name": "last_name"}})
    allowed = {"stream": model_attributes(stream.attributes, columns)}
    batch = pa.RecordBatch.from_pylist([
        {"source": "stream", "record_id": "page-view", "attributes": [], "ids": [{"type": "email", "value": "a@b.org"}]},
        {"source": "stream", "record_id": "registration", "attributes": [("first_name", "Ann"), ("last_name", "Lee")],
         "ids": [{"type": "email", "value": "a@b.org"}]},
    ], schema=pa.schema([("source", pa.string()), ("record_id", pa.string()),
                         ("attributes", pa.map_(pa.string(), pa.string())),
                         ("ids", pa.list_(pa.struct([("type", pa.string()), ("value", pa.string())])))]))
    rows = [r for b in _person_rows_fn(allowed, {"stream": "event"}, columns, spec)(iter([batch])) for r in b.to_pylist()]
    assert [r["record_id"] for r in rows] == ["registration"]
