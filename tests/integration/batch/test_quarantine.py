"""Malformed landing files end in quarantine with reasons; the good data still loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_bad_rows_wrong_columns_and_empty_files_are_quarantined(tmp_path, spark, settings):
    from batch import run
    from ucid.generate import GenerateConfig, generate_dataset

    gen = tmp_path / "gen"
    generate_dataset(GenerateConfig(customers=200, seed=3, out=gen, days=2))
    landing = tmp_path / "landing"
    for source in ("crm", "web"):
        shutil.copytree(gen / source, landing / source)
    bad_day = landing / "crm" / "2026-01-09"
    bad_day.mkdir()
    header = (gen / "crm" / "2026-01-01" / "part-00000.csv").read_text().splitlines()[0]
    (bad_day / "part-00000.csv").write_text(
        header + "\n"
        + "CHG-X-1,insert,CX1,Ann,Lee,F,1990-01-01,ann@x.org,,,,,,,US,2020-01-01,2026-01-09 10:00:00\n"  # good
        + "CHG-X-2,insert,,Bob,Lee,M,1990-01-01,bob@x.org,,,,,,,US,2020-01-01,2026-01-09 10:00:00\n"  # no crm_id
        + "CHG-X-3,insert,CX3,Cy,Lee,M,1990-01-01,cy@x.org,,,,,,,US,2020-01-01,not a time\n"  # bad time
        + ",insert,CX4,Di,Lee,F,1990-01-01,di@x.org,,,,,,,US,2020-01-01,2026-01-09 10:00:00\n"  # no record id
        # hostile identifiers (issue 16): a placeholder crm_id, an e-mail with a right-to-left override
        + "CHG-X-5,insert,0000000000,Eve,Lee,F,1990-01-01,eve\u202e@x.org,,,,,,,US,2020-01-01,2026-01-09 10:00:00\n"
    )
    (bad_day / "part-00001.csv").write_text("id,name\n1,ann\n")  # wrong columns
    (bad_day / "part-00002.csv").write_text("")  # empty
    web_bad = landing / "web" / "2026-01-09"
    web_bad.mkdir()
    good = {"event_id": "WEB-X-1", "event_time": "2026-01-09T10:00:00Z", "cookie_id": "ck-1",
            "event_type": "page_view", "page": "/"}
    (web_bad / "part-00000.jsonl").write_text(
        json.dumps(good) + "\n" + '{"event_id": "WEB-X-2", "event_time": \n'
        + json.dumps({**good, "event_id": "WEB-X-3", "cookie_id": None}) + "\n"
    )

    test_settings = settings.model_copy(update={"lake_dir": tmp_path / "lake", "landing_dir": landing})
    ctx = run.context(test_settings, now=1_790_000_000, run_id="q1", report=lambda m: None)
    ctx._spark = spark
    loads = run.run_stage(ctx, "ingest")
    run.run_stage(ctx, "normalize")

    q = spark.read.format("delta").load(ctx.lake.quarantine)
    reasons = {(r.source, r.file.split("/", 1)[1], r.row): r.reason for r in q.collect()}
    assert reasons[("crm", "2026-01-09/part-00000.csv", 2)] == "required column empty: crm_id"
    assert reasons[("crm", "2026-01-09/part-00000.csv", 3)] == "bad updated_at: 'not a time'"
    assert reasons[("crm", "2026-01-09/part-00000.csv", 4)] == "no record id (column change_id)"
    assert reasons[("crm", "2026-01-09/part-00001.csv", 0)].startswith("missing columns: ")
    assert reasons[("crm", "2026-01-09/part-00002.csv", 0)] == "empty file"
    assert reasons[("web", "2026-01-09/part-00000.jsonl", 2)] == "not valid JSON"
    assert reasons[("web", "2026-01-09/part-00000.jsonl", 3)] == "required column empty: cookie_id"
    assert len(reasons) == 7
    raw = q.where("row = 2 AND source = 'web'").first().raw
    assert raw.startswith('{"event_id": "WEB-X-2"')

    bronze = spark.read.format("delta").load(ctx.lake.bronze("crm"))
    assert bronze.where("change_id = 'CHG-X-1' AND _row = 1").count() == 1
    silver = spark.read.format("delta").load(ctx.lake.silver("records"))
    assert silver.where("record_id = 'WEB-X-1'").count() == 1
    # the hostile row loads, but neither identifier links: both are rejections, with the reason
    hostile = silver.where("record_id = 'CHG-X-5'").first()
    assert hostile is not None and hostile.ids == [] and hostile.anchor_type == "_record"
    rejected = {(r.type, r.kind): r.reason for r in hostile.rejections}
    assert rejected[("crm_id", "blocked")].startswith("placeholder value")
    assert "U+202E (RIGHT-TO-LEFT OVERRIDE)" in rejected[("email", "invalid")]
    assert loads["crm"]["files_quarantined"] == 2 and loads["crm"]["rows_quarantined"] == 3

    # nothing is taken twice: a second ingest finds no new file
    again = run.run_stage(ctx, "ingest")
    assert all(v["files_new"] == 0 for v in again.values())
    assert spark.read.format("delta").load(ctx.lake.quarantine).count() == 7


def test_a_load_that_died_half_way_is_redone_without_duplicates(tmp_path, spark, settings):
    """Simulate a crash after bronze was written but before the ingest log commit."""
    from batch import bronze, run
    from ucid.generate import GenerateConfig, generate_dataset

    gen = tmp_path / "gen"
    generate_dataset(GenerateConfig(customers=100, seed=5, out=gen, days=1))
    landing = tmp_path / "landing"
    shutil.copytree(gen / "crm", landing / "crm")
    test_settings = settings.model_copy(update={"lake_dir": tmp_path / "lake", "landing_dir": landing})
    ctx = run.context(test_settings, now=1_790_000_000, run_id="c1", report=lambda m: None)
    ctx._spark = spark

    log_schema = bronze.LOG_SCHEMA.replace(", loaded_at timestamp", "")  # the frame commit() builds

    class Crash(RuntimeError):
        pass

    real_create = spark.createDataFrame
    crashed_with: list[list[tuple]] = []

    def create(data, schema=None, *a, **k):  # the ingest log frame is the last one built
        if schema == log_schema:
            crashed_with.append(list(data))
            raise Crash("killed before the commit point")
        return real_create(data, schema, *a, **k)

    spark.createDataFrame = create
    try:
        with pytest.raises(Crash):
            run.run_stage(ctx, "ingest")
    finally:
        spark.createDataFrame = real_create
    assert len(crashed_with) == 1, "the crash did not hit the ingest log commit exactly once"
    landed = [p for p in (landing / "crm").rglob("*") if p.is_file()]
    crashed_files = sorted(row[1] for row in crashed_with[0])
    # the log about to be committed named every crm landing file, once, all loaded
    assert len(crashed_files) == len(set(crashed_files)) == len(landed) > 0
    assert {row[0] for row in crashed_with[0]} == {"crm"}
    assert {row[6] for row in crashed_with[0]} == {"loaded"}
    rows_after_crash = spark.read.format("delta").load(ctx.lake.bronze("crm")).count()
    assert rows_after_crash > 0  # bronze was written...
    assert bronze.ingested(spark, ctx.lake, "crm") == {}  # ...the log was not
    run.run_stage(ctx, "ingest")
    rows = spark.read.format("delta").load(ctx.lake.bronze("crm"))
    assert rows.count() == rows_after_crash
    assert rows.groupBy("_file", "_row").count().where("count > 1").count() == 0
    log = spark.read.format("delta").load(ctx.lake.ingest_log).where("source = 'crm'").collect()
    assert sorted(r.file for r in log) == crashed_files  # the redo committed each file once


def test_files_spark_read_no_row_of_fail_the_load_loudly(tmp_path, spark, settings, monkeypatch):
    """A landing root given as a relative path (bypassing the settings, which make it absolute),
    valid for this process and the Spark server alike (both in the repository): the files listed
    do not match the paths Spark read, and the load fails naming a file instead of logging every
    file as loaded with 0 rows. (A server started in another directory cannot find the files at
    all: that fails loudly too.)"""
    import uuid

    from batch import bronze
    from batch.tables import Lake, exists
    from identity.rules import load_policy
    from identity.sources import load_sources
    from infra.settings import REPO_ROOT
    from ucid.generate import GenerateConfig, generate_dataset

    relative = Path(".ucid") / f"it-relative-landing-{uuid.uuid4().hex[:8]}"
    generate_dataset(GenerateConfig(customers=50, seed=5, out=tmp_path / "gen", days=1))
    shutil.copytree(tmp_path / "gen" / "crm", REPO_ROOT / relative / "crm")
    monkeypatch.chdir(REPO_ROOT)
    policy = load_policy(settings.conf_dir / "rules.yaml")
    crm = next(s for s in load_sources(settings.conf_dir / "sources", known_types=set(policy.types))
               if s.name == "crm")
    lake = Lake(tmp_path / "lake")
    try:
        with pytest.raises(Exception, match="passed the file checks but Spark read no row|PATH_NOT_FOUND"):
            bronze.load_source(spark, relative, lake, crm, "rel-1")
    finally:
        shutil.rmtree(REPO_ROOT / relative, ignore_errors=True)
    assert not exists(spark, lake.ingest_log)  # nothing logged: the next load takes the files again
