"""The batch layer end to end on a generated data set, against the local reference resolver.

One chain of runs (module scope, the costly part done once):
  run 1: days 1..N-1 landed            -> equals `ucid resolve --local` on the same files
  run 2: day N added (incremental)     -> equals the local resolver given run 1's state;
                                          >= 99.9 % of run 1's identifiers keep their UCID
  run 3: same input again              -> nothing changes, nothing is written twice
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CUSTOMERS = 1500
SEED = 11
T1, T2, T3 = 1_790_000_000, 1_790_086_400, 1_790_172_800


def _gold(spark, lake, name):
    return spark.read.format("delta").load(lake.gold(name))


def _assignment(spark, lake) -> dict[tuple[str, str], str]:
    return {(r.source, r.record_id): r.ucid for r in _gold(spark, lake, "assignments").collect()}


def _local(landing: Path, now: int, state: Path, settings):
    from identity.rules import load_policy
    from identity.sources import load_sources
    from ucid.local_resolve import load_state, resolve_local, save_state

    policy = load_policy(settings.conf_dir / "rules.yaml")
    sources = load_sources(settings.conf_dir / "sources", known_types=set(policy.types))
    result, _ = resolve_local(landing, sources, policy, load_state(state), now)
    save_state(state, result.state)
    return result


@pytest.fixture(scope="module")
def chain(tmp_path_factory, spark, settings):
    from batch import run
    from ucid.generate import GenerateConfig, generate_dataset

    base = tmp_path_factory.mktemp("batch")
    full = base / "generated"
    generate_dataset(GenerateConfig(customers=CUSTOMERS, seed=SEED, out=full))
    days = sorted({p.name for p in (full / "crm").iterdir()})
    landing = base / "landing"
    for src in full.iterdir():
        if src.is_dir() and src.name != "truth":
            for day in src.iterdir():
                if day.name != days[-1]:
                    shutil.copytree(day, landing / src.name / day.name)
    test_settings = settings.model_copy(update={"lake_dir": base / "lake", "landing_dir": landing})
    state = base / "local-state.json"

    def batch_run(now: int, run_id: str):
        ctx = run.context(test_settings, now=now, run_id=run_id, report=lambda m: None)
        ctx._spark = spark
        for stage in ("ingest", "normalize", "resolve", "profiles"):
            run.run_stage(ctx, stage)
        return ctx

    out = {"landing": landing, "full": full, "days": days, "settings": test_settings}
    ctx1 = batch_run(T1, "run1")
    out["lake"] = ctx1.lake
    out["run1"] = _assignment(spark, ctx1.lake)
    out["state1"] = {(r.id_type, r.id_value): r.ucid for r in _gold(spark, ctx1.lake, "identity_state").collect()}
    out["local1"] = _local(landing, T1, state, test_settings)
    for src in full.iterdir():
        last = src / days[-1]
        if src.name != "truth" and last.exists():
            shutil.copytree(last, landing / src.name / days[-1])
    ctx2 = batch_run(T2, "run2")
    out["ctx2"] = ctx2
    out["run2"] = _assignment(spark, ctx2.lake)
    out["state2"] = {(r.id_type, r.id_value): r.ucid for r in _gold(spark, ctx2.lake, "identity_state").collect()}
    out["ucids2"] = sorted(tuple(r) for r in _gold(spark, ctx2.lake, "ucids").collect())
    out["counts2"] = _counts(spark, ctx2.lake)
    out["local2"] = _local(landing, T2, state, test_settings)
    ctx3 = batch_run(T3, "run3")
    out["ctx3"] = ctx3
    return out


def _counts(spark, lake) -> dict[str, int]:
    from batch.tables import exists

    paths = {"silver": lake.silver("records"), "quarantine": lake.quarantine, "log": lake.ingest_log}
    for source in ("crm", "web", "app", "billing"):
        paths[source] = lake.bronze(source)
    return {k: spark.read.format("delta").load(p).count() for k, p in paths.items() if exists(spark, p)}


def test_first_run_equals_local_reference(chain):
    assert chain["run1"] == chain["local1"].assignment
    assert len(chain["run1"]) > 20_000


def test_incremental_run_equals_local_reference_with_state(chain, spark):
    assert chain["run2"] == chain["local2"].assignment
    local_state = chain["local2"].state
    assert chain["state2"] == local_state.ucid_of
    ucids = {u: (m, s, into) for u, m, s, into in chain["ucids2"]}
    assert {u for u, v in ucids.items() if v[1] == "merged"} == set(local_state.aliases)
    assert all(ucids[a][2] == t for a, t in local_state.aliases.items())
    assert {u: v[0] for u, v in ucids.items()} == local_state.minted_at


def test_new_day_keeps_existing_identifiers_on_their_ucid(chain):
    before, after = chain["state1"], chain["state2"]
    kept = sum(1 for node, ucid in before.items() if after.get(node) == ucid)
    assert kept / len(before) >= 0.999, f"only {kept}/{len(before)} identifiers kept their UCID"


def test_rerun_on_same_input_changes_nothing(chain, spark):
    lake = chain["ctx3"].lake
    assert chain["ctx3"].stats["ingest"]["result"]["crm"]["files_new"] == 0
    assert _assignment(spark, lake) == chain["run2"]
    assert sorted(tuple(r) for r in _gold(spark, lake, "ucids").collect()) == chain["ucids2"]
    assert _counts(spark, lake) == chain["counts2"]
    changes = _gold(spark, lake, "identity_changes").where("run_id = 'run3'").count()
    assert changes == 0


def test_profiles_one_per_live_ucid_with_survivorship(chain, spark):
    from identity.rules import load_policy
    from identity.survivorship import Candidate, survive_profile

    lake = chain["ctx3"].lake
    profiles = _gold(spark, lake, "profiles")
    live = _gold(spark, lake, "ucids").where("status = 'live'")
    assert profiles.count() == live.count()
    assert profiles.join(live, "ucid", "left_anti").count() == 0
    # Spark-native survivorship equals the identity core's on a sample of multi-source customers
    policy = load_policy(chain["settings"].conf_dir / "rules.yaml")
    sample = [r.ucid for r in profiles.where("size(sources) >= 3").orderBy("ucid").limit(200).collect()]
    assert len(sample) == 200
    records = (
        spark.read.format("delta").load(lake.silver("records")).where("kind = 'profile'")
        .join(_gold(spark, lake, "assignments").where(spark_col("ucid").isin(sample)), ["source", "record_id"])
        .select("ucid", "source_priority", "event_time", "attributes").collect()
    )
    by_ucid: dict[str, dict[str, list[Candidate]]] = {}
    for r in records:
        for name, value in r.attributes.items():
            by_ucid.setdefault(r.ucid, {}).setdefault(name, []).append(
                Candidate(value, r.source_priority, r.event_time))
    got = {r.ucid: dict(r.attributes) for r in profiles.where(spark_col("ucid").isin(sample)).collect()}
    for ucid in sample:
        assert got[ucid] == survive_profile(by_ucid.get(ucid, {}), policy.survivorship), ucid


def spark_col(name):
    from pyspark.sql import functions as F

    return F.col(name)


def test_export_assignments_is_what_evaluate_reads(chain, tmp_path, settings):
    import subprocess
    import sys

    out = tmp_path / "assignments.csv"
    env = {**__import__("os").environ, "UCID_LAKE_DIR": str(chain["settings"].lake)}
    subprocess.run([sys.executable, "-m", "ucid.cli", "export", "assignments", "--out", str(out)],
                   check=True, env=env, capture_output=True)
    with out.open() as fh:
        rows = {(r["source"], r["record_id"]): r["ucid"] for r in csv.DictReader(fh)}
    assert rows == chain["run2"]
    report = subprocess.run(
        [sys.executable, "-m", "ucid.cli", "evaluate", "--assignments", str(out), "--truth", str(chain["full"] / "truth" / "truth.csv"),
         "--json"], check=False, env=env, capture_output=True, text=True)
    assert report.returncode == 0, report.stderr


def test_publish_to_cassandra_is_idempotent_and_keeps_newer_speed_writes(chain, stack, spark):
    import time as _time

    from batch import run
    from infra import cql, schema

    settings = chain["settings"]
    cluster = cql.cluster(settings.cassandra)
    session = cluster.connect()
    try:
        schema.apply(session, settings.cassandra)
        ks = settings.cassandra.keyspace
        state = chain["state2"]
        (speed_type, speed_value), batch_ucid = sorted((k, v) for k, v in state.items() if k[0] == "email")[0]
        # the speed layer re-pointed this identifier after the batch snapshot
        session.execute(
            f"INSERT INTO {ks}.ucids (ucid, status, layer) VALUES ('USPEEDLAYER0000000001', 'live', 'speed') "
            f"USING TIMESTAMP {int(_time.time() * 1e6)}")
        session.execute(
            f"INSERT INTO {ks}.identifiers (id_type, id_value, ucid, layer) VALUES (%s, %s, %s, 'speed') "
            f"USING TIMESTAMP {int(_time.time() * 1e6)}", (speed_type, speed_value, "USPEEDLAYER0000000001"))
        ctx = chain["ctx3"]
        ctx.settings = settings
        first = run.run_stage(ctx, "publish")
        again = run.run_stage(ctx, "publish")
        assert first == again
        assert first["identifiers"] == sum(1 for k in state if k[0] != "_record")

        got = session.execute(f"SELECT ucid, layer FROM {ks}.identifiers WHERE id_type=%s AND id_value=%s",
                              (speed_type, speed_value)).one()
        assert (got.ucid, got.layer) == ("USPEEDLAYER0000000001", "speed"), "a publish hid a newer speed write"
        # every published identifier resolves to a UCID that has a row (sample)
        sample = sorted(k for k in state if k[0] != "_record" and k != (speed_type, speed_value))[:300]
        for id_type, id_value in sample:
            row = session.execute(f"SELECT ucid FROM {ks}.identifiers WHERE id_type=%s AND id_value=%s",
                                  (id_type, id_value)).one()
            assert row.ucid == state[(id_type, id_value)]
            u = session.execute(f"SELECT status FROM {ks}.ucids WHERE ucid=%s", (row.ucid,)).one()
            assert u is not None and u.status == "live"
        assert batch_ucid.startswith("U")
        n_profiles = session.execute(f"SELECT count(*) FROM {ks}.profiles").one()[0]
        assert n_profiles >= first["profiles"]
    finally:
        cluster.shutdown()
