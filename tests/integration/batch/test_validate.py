"""The Great Expectations suites on a real lake: a broken table fails with the expectation and the
table named -- and stops `ucid batch run` before it publishes. (That they pass on a good lake is
shown by the demo's DAG run, whose recorded figures list every suite: tests/integration/test_demo.py.)

The lake is the run's two-run lake (``two_run_lake``, shared with the notebooks' tests); each
broken case works on a copy of it (a Delta table is a folder: a copy is a table).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import TWO_RUN_NOW, suite_env

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

NOW = TWO_RUN_NOW  # the lake's second run's clock
BOGUS_UCID = "U" + "Z" * 20  # well formed, never issued


@pytest.fixture(scope="module")
def good(two_run_lake):
    """The run's two-run lake (``tests/integration/conftest.py``): good, never changed here."""
    return two_run_lake


def _copy(ctx, dest: Path):
    """A context on a copy of ``ctx``'s lake (same settings otherwise)."""
    from batch import run

    shutil.copytree(ctx.lake.root, dest)
    copy = run.context(ctx.settings.model_copy(update={"lake_dir": dest}), now=ctx.now, run_id=ctx.run_id,
                       report=lambda m: None)
    copy._spark = ctx._spark
    return copy


def _validate(ctx, layers, **kw):
    from batch.validate import validate_lake

    return validate_lake(ctx.spark, ctx.lake, kw.pop("batch", ctx.batch), ctx.policy, run_id=ctx.run_id,
                         layers=layers, sources=ctx.sources, settings=ctx.settings, **kw)


def _append_duplicate_identifier(ctx) -> tuple[str, str]:
    """Map one existing identifier to a second UCID: one identifier, two UCIDs."""
    from pyspark.sql import functions as F

    path = ctx.lake.gold("identity_state")
    state = ctx.spark.read.format("delta").load(path)
    row = state.where("id_type = 'email'").orderBy("id_value").limit(1)
    row.withColumn("ucid", F.lit(BOGUS_UCID)).write.format("delta").mode("append").save(path)
    first = row.first()
    return first.id_type, first.id_value


def _verdicts(summary) -> list[tuple]:
    return [(r["suite"], r["expectation"], r["column"], r["success"]) for r in summary["results"]]


def test_alias_pointing_nowhere_fails_on_either_engine(good, tmp_path):
    """Validated in memory (pandas, the default for a lake this size) and on Spark (forced): the
    same failure, and the same verdict for every other expectation of the gold suites."""
    from pyspark.sql import functions as F

    from batch.validate import ValidationFailed

    broken = _copy(good, tmp_path / "lake")
    path = broken.lake.gold("ucids")
    alias = broken.spark.createDataFrame(
        [(BOGUS_UCID, NOW, "merged", "U" + "Y" * 20)], "ucid string, minted_at long, status string, merged_into string")
    alias.select(*[F.col(c) for c in broken.spark.read.format("delta").load(path).columns]).write.format(
        "delta").mode("append").save(path)
    with pytest.raises(ValidationFailed) as err:
        _validate(broken, ("gold",))
    failures = [f for f in err.value.failures if f["suite"] == "gold.aliases"]
    assert [f["column"] for f in failures] == ["target_status"]
    assert "'missing'" in failures[0]["detail"]
    assert "gold.aliases (table gold/ucids): expect_column_values_to_be_in_set(target_status)" in str(err.value)
    in_memory = err.value.summary
    assert {s["engine"] for s in in_memory["suites"].values()} - {None} == {"pandas"}
    on_spark = _validate(broken, ("gold",), raise_on_failure=False,
                         batch=broken.batch.model_copy(update={"validate_in_memory_rows": 0}))
    assert {s["engine"] for s in on_spark["suites"].values()} - {None} == {"spark"}
    assert _verdicts(on_spark) == _verdicts(in_memory)
    def details(summary):
        return [r["detail"] for r in summary["results"] if not r["success"]]

    assert details(on_spark) == details(in_memory)


def test_cluster_size_guard_comes_from_the_settings(good):
    from batch.validate import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        _validate(good, ("gold",), batch=good.batch.model_copy(update={"max_cluster_records": 1}))
    [failure] = err.value.failures
    assert (failure["suite"], failure["column"]) == ("gold.clusters", "records")
    assert "<= 1" in failure["detail"]


def test_identifier_on_two_ucids_fails_validate_naming_it_and_stops_publish(good, tmp_path, batch_world):
    """One identifier mapped to a second, never issued UCID: `ucid batch run --stages
    validate,publish` exits 1 naming the expectation and the table (with the suite's reason), and
    publishes nothing (to the batch suite's keyspace)."""
    from infra.cql import cluster

    settings = batch_world
    broken = _copy(good, tmp_path / "lake")
    before = {r.run_id for r in broken.spark.read.format("delta").load(broken.lake.gold("runs")).collect()}
    id_type, id_value = _append_duplicate_identifier(broken)
    env = suite_env(settings, UCID_LAKE_DIR=str(broken.lake.root), UCID_LANDING_DIR=str(broken.landing),
                    UCID_LOG_LEVEL="WARNING", COLUMNS="400")  # no wrapped failure lines
    proc = subprocess.run(
        [sys.executable, "-m", "ucid.cli", "batch", "run", "--stages", "validate,publish", "--now", str(NOW)],
        env=env, capture_output=True, text=True, timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "stage validate failed" in out
    assert "gold.identity_state (table gold/identity_state): expect_compound_columns_to_be_unique" in out
    assert "every identifier maps to exactly one UCID" in out
    # the bogus UCID was never issued, and it is "live" nowhere
    assert "gold.clusters (table gold/ucids + identity_state + assignments + profiles + links): " \
        "expect_column_values_to_be_in_set(status)" in out, out[-3000:]
    assert "publish" not in [line.split()[0] for line in proc.stderr.splitlines() if line.strip().startswith("publish ")]

    runs = broken.spark.read.format("delta").load(broken.lake.gold("runs")).collect()
    # this run's row (a Delta read has no order: not "the last row")
    assert [r.status for r in runs if r.run_id not in before] == ["failed at validate"]
    c = cluster(settings.cassandra)
    try:
        session = c.connect(settings.cassandra.keyspace)
        assert session.execute("SELECT ucid FROM ucids WHERE ucid = %s", (BOGUS_UCID,)).one() is None
        row = session.execute("SELECT ucid FROM identifiers WHERE id_type = %s AND id_value = %s",
                              (id_type, id_value)).one()
        assert row is None or row.ucid != BOGUS_UCID
    finally:
        c.shutdown()
