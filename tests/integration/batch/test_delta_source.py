"""A source that is a Delta table: each new version is ingested once and replaces the previous."""

from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.integration

DEFINITION = """
name: partners
description: a partner's customer table, shared as Delta
location: partners/customers
format: delta
record_id: partner_ref
priority: 5
kind: profile
event_time: updated_at
identifiers:
  - {column: email, type: email}
  - {column: crm_id, type: crm_id}
attributes:
  first_name: first_name
required: [partner_ref, updated_at]
"""


def test_delta_table_source_versions(tmp_path, spark, settings):
    from batch import run

    conf = tmp_path / "conf"
    (conf / "sources").mkdir(parents=True)
    shutil.copy(settings.conf_dir / "rules.yaml", conf / "rules.yaml")
    (conf / "sources" / "partners.yaml").write_text(DEFINITION)
    landing = tmp_path / "landing"
    table = str(landing / "partners" / "customers")
    schema = "partner_ref string, email string, crm_id string, first_name string, updated_at string"
    spark.createDataFrame([
        ("P1", "Ann@X.org", "c1", "Ann", "2026-01-01 10:00:00"),
        ("P2", "bob@x.org", None, "Bob", "2026-01-01 10:00:00"),
        ("P3", "cy@x.org", None, "Cy", None),  # required updated_at missing -> quarantine
    ], schema).write.format("delta").save(table)

    test_settings = settings.model_copy(update={"lake_dir": tmp_path / "lake", "landing_dir": landing,
                                                "conf_dir": conf})
    ctx = run.context(test_settings, now=1_790_000_000, run_id="d1", report=lambda m: None)
    ctx._spark = spark
    first = run.run_stage(ctx, "ingest")["partners"]
    assert (first["files_new"], first["rows"], first["rows_quarantined"]) == (1, 2, 1)
    run.run_stage(ctx, "normalize")
    assert run.run_stage(ctx, "ingest")["partners"]["files_new"] == 0  # same version: skipped

    spark.createDataFrame([("P4", "dee@x.org", "c4", "Dee", "2026-01-02 10:00:00")], schema) \
        .write.format("delta").mode("append").save(table)
    second = run.run_stage(ctx, "ingest")["partners"]
    assert (second["files_new"], second["rows"]) == (1, 3)
    run.run_stage(ctx, "normalize")
    silver = spark.read.format("delta").load(ctx.lake.silver("records")).where("source = 'partners'")
    assert sorted(r.record_id for r in silver.collect()) == ["P1", "P2", "P4"]
    emails = {r.record_id: [i.value for i in r.ids if i.type == "email"] for r in silver.collect()}
    assert emails["P1"] == ["ann@x.org"]
