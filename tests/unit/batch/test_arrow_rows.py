"""Publish binds Arrow rows as the driver expects them: maps as dicts, null maps as None."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from batch.publish import _tuples


def test_an_arrow_batch_becomes_tuples_in_column_order():
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    batch = pa.RecordBatch.from_pydict(
        {"ucid": ["U1", "U2"], "at": [at, None], "ids": [["a", "b"], []],
         "attrs": [[("k", "v")], None]},
        schema=pa.schema([("ucid", pa.string()), ("at", pa.timestamp("us", tz="UTC")),
                          ("ids", pa.list_(pa.string())), ("attrs", pa.map_(pa.string(), pa.string()))]),
    )
    rows = list(_tuples(batch))
    assert rows == [("U1", at, ["a", "b"], {"k": "v"}), ("U2", None, [], None)]
    assert rows[0][1].utcoffset().total_seconds() == 0
