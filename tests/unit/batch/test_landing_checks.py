"""File-level checks of the landing zone, before Spark reads anything."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from batch.landing import check_file, source_files
from identity.sources import SourceDefinition


def _source(fmt: str) -> SourceDefinition:
    return SourceDefinition(
        name="crm", location="crm", format=fmt, record_id="change_id", priority=1, event_time="updated_at",
        identifiers=[{"column": "crm_id", "type": "crm_id"}, {"column": "email", "type": "email"}],
        required=["change_id", "updated_at"],
    )


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_good_csv_passes_with_its_header(tmp_path):
    p = _write(tmp_path, "crm/2026-01-01/part-0.csv", "change_id,crm_id,email,updated_at\n1,C1,a@b.org,2026-01-01\n")
    f = check_file(tmp_path, _source("csv"), p)
    assert f.reason is None and f.columns == ("change_id", "crm_id", "email", "updated_at")
    assert f.relpath == "crm/2026-01-01/part-0.csv" and len(f.digest) == 64


def test_empty_header_only_and_wrong_columns_are_refused_with_reasons(tmp_path):
    src = _source("csv")
    assert check_file(tmp_path, src, _write(tmp_path, "crm/a.csv", "")).reason == "empty file"
    header_only = _write(tmp_path, "crm/b.csv", "change_id,crm_id,email,updated_at\n")
    assert check_file(tmp_path, src, header_only).reason == "no data rows (header only)"
    wrong = check_file(tmp_path, src, _write(tmp_path, "crm/c.csv", "id,name\n1,x\n")).reason
    assert wrong.startswith("missing columns: change_id, crm_id, email, updated_at")
    dupes = _write(tmp_path, "crm/d.csv", "change_id,crm_id,email,updated_at,email\n1,2,3,4,5\n")
    assert check_file(tmp_path, src, dupes).reason == "duplicate columns: email"


def test_parquet_schema_and_corrupt_files(tmp_path):
    src = _source("parquet")
    good = tmp_path / "crm" / "p.parquet"
    good.parent.mkdir(parents=True)
    pq.write_table(pa.table({"change_id": ["1"], "crm_id": ["C"], "email": [None], "updated_at": ["t"]}), good)
    assert check_file(tmp_path, src, good).reason is None
    bad = _write(tmp_path, "crm/q.parquet", "not parquet at all")
    assert check_file(tmp_path, src, bad).reason.startswith("unreadable parquet: ")


def test_source_files_skip_hidden_underscore_and_other_extensions(tmp_path):
    src = _source("jsonl")
    for rel in ("crm/d1/part-0.jsonl", "crm/d1/_tmp.jsonl", "crm/.hidden/x.jsonl", "crm/d1/notes.txt",
                "crm/_staging/part-1.jsonl"):
        _write(tmp_path, rel, "{}\n")
    assert [p.relative_to(tmp_path).as_posix() for p in source_files(tmp_path, src)] == ["crm/d1/part-0.jsonl"]
    blank = _write(tmp_path, "crm/d2/part-0.jsonl", "\n\n")
    assert check_file(tmp_path, src, blank).reason == "empty file"
