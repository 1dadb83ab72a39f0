"""The batch layer end to end on a generated data set, against the local reference resolver.

One chain of runs (module scope, the costly part done once):
  run 1: days 1..N-1 landed            -> equals `ucid resolve --local` on the same files
  run 2: day N added (incremental)     -> equals the local resolver given run 1's state;
                                          >= 99.9 % of run 1's identifiers keep their UCID
  run 3: same input again              -> nothing changes, nothing is written twice
and, beside run 2, on a copy of run 1's lake:
  run 2 --full: day N added, every bronze row re-normalized and gold rebuilt
                                       -> silver and gold equal run 2's (incremental = full)
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from identity.ucids import mint_ucid

# the module fixture runs the pipeline three times: allow it more than the default timeout
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

CUSTOMERS = 800
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
def two_keyspaces(stack):
    """Two empty keyspaces of their own: run 1 then run 2 published into the first, run 1 then
    run 2 --full into the second."""
    from infra import cql

    from ..conftest import suite_settings, truncate_keyspace

    worlds = suite_settings(stack, "batch_incremental"), suite_settings(stack, "batch_full")
    cluster = cql.cluster(stack.cassandra)
    session = cluster.connect()
    for world in worlds:
        truncate_keyspace(session, world.cassandra.keyspace)
    yield worlds, session
    cluster.shutdown()


def _publish(spark, lake, world, now: int, run_id: str) -> dict:
    from batch.publish import publish
    from infra.settings import BatchSettings

    return publish(spark, lake, world, BatchSettings(speed_state=False), now, run_id)


@pytest.fixture(scope="module")
def chain(tmp_path_factory, spark, batch_world, two_keyspaces):
    """Runs 1..3 (no speed state), in the batch suite's world (its keyspace, for the publish
    below); runs 1, 2 and 2 --full published into ``two_keyspaces`` as they go."""
    from batch import run
    from infra.settings import BatchSettings
    from ucid.generate import GenerateConfig, generate_dataset

    (incremental_world, full_world), _ = two_keyspaces

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
    test_settings = batch_world.model_copy(update={"lake_dir": base / "lake", "landing_dir": landing})
    state = base / "local-state.json"

    def batch_run(now: int, run_id: str, settings=test_settings, full: bool = False):
        ctx = run.context(settings, now=now, run_id=run_id, full=full, report=lambda m: None)
        ctx._spark = spark
        ctx.batch = BatchSettings(speed_state=False)  # the pure batch, compared with the local reference
        for stage in ("ingest", "normalize", "resolve", "profiles"):
            run.run_stage(ctx, stage)
        return ctx

    out = {"landing": landing, "full": full, "days": days, "settings": test_settings}
    ctx1 = batch_run(T1, "run1")
    out["lake"] = ctx1.lake
    out["run1"] = _assignment(spark, ctx1.lake)
    out["state1"] = {(r.id_type, r.id_value): r.ucid for r in _gold(spark, ctx1.lake, "identity_state").collect()}
    out["local1"] = _local(landing, T1, state, test_settings)
    for world in (incremental_world, full_world):
        _publish(spark, ctx1.lake, world, T1, "run1")
    shutil.copytree(base / "lake", base / "lake-full")  # run 1's lake, for run 2 --full
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
    out["tables2"] = _tables(spark, ctx2.lake)  # before run 3 re-stamps the profiles
    out["published2"] = _publish(spark, ctx2.lake, incremental_world, T2, "run2")
    out["full2"] = batch_run(T2, "run2", test_settings.model_copy(update={"lake_dir": base / "lake-full"}), full=True)
    out["tables_full2"] = _tables(spark, out["full2"].lake)
    out["published_full2"] = _publish(spark, out["full2"].lake, full_world, T2, "run2")
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
    assert len(chain["run1"]) > 10_000


def test_incremental_run_equals_local_reference_with_state(chain, spark):
    assert chain["run2"] == chain["local2"].assignment
    local_state = chain["local2"].state
    assert chain["state2"] == local_state.ucid_of
    ucids = {u: (m, s, into) for u, m, s, into in chain["ucids2"]}
    assert {u for u, v in ucids.items() if v[1] == "merged"} == set(local_state.aliases)
    assert all(ucids[a][2] == t for a, t in local_state.aliases.items())
    assert {u: v[0] for u, v in ucids.items()} == local_state.minted_at


def _tables(spark, lake) -> dict[str, list[str]]:
    """Every silver and gold table but ``runs``, as sorted JSON rows."""
    import json

    from batch.tables import GOLD_TABLES, exists

    paths = {"silver/records": lake.silver("records"), **{f"gold/{t}": lake.gold(t) for t in GOLD_TABLES
                                                                if t not in ("runs", "published", "speed_seen")}}
    return {name: sorted(json.dumps(r.asDict(recursive=True), sort_keys=True, default=str)
                         for r in spark.read.format("delta").load(path).collect())
            for name, path in paths.items() if exists(spark, path)}


def test_an_incremental_run_equals_a_full_run_over_the_same_data(chain):
    """Run 2 took only day N's files; run 2 --full, on a copy of run 1's lake, re-normalized
    every bronze row and rebuilt gold: every silver and gold table holds the same rows."""
    incremental, full = chain["ctx2"], chain["full2"]
    assert full.stats["normalize"]["result"]["files"] > incremental.stats["normalize"]["result"]["files"] > 0
    a, b = chain["tables2"], chain["tables_full2"]
    assert set(a) == set(b) and len(a) >= 8
    for name in a:
        assert a[name] == b[name], f"{name} differs between the incremental and the full run"


def _cassandra_rows(session, keyspace: str) -> dict[str, list[str]]:
    """Every table of ``keyspace`` but ``schema_migrations``, as sorted rows."""
    tables = sorted(r.table_name for r in session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)))
    return {t: sorted(repr(tuple(r)) for r in session.execute(f"SELECT * FROM {keyspace}.{t}"))
            for t in tables if t != "schema_migrations"}


def test_cassandra_after_an_incremental_run_equals_after_a_full_run(chain, two_keyspaces):
    """Run 1 then run 2 published into one keyspace, run 1 then run 2 --full into another:
    every Cassandra table holds the same rows, those run 1 wrote and run 2 left as they were
    included (publish deletes nothing), though run 2 wrote only the rows that changed."""
    (incremental_world, full_world), session = two_keyspaces
    assert chain["published2"] == chain["published_full2"]
    a = _cassandra_rows(session, incremental_world.cassandra.keyspace)
    b = _cassandra_rows(session, full_world.cassandra.keyspace)
    assert a.keys() == b.keys() and {"identifiers", "ucids", "profiles", "events_by_ucid"} <= a.keys()
    # run 2 wrote only the rows its new day changed, not every row the keyspace holds
    for table in ("identifiers", "ucids", "profiles", "events_by_ucid", "links_by_ucid"):
        assert 0 < chain["published2"][table] < len(a[table]), (table, chain["published2"][table], len(a[table]))
    a.pop("batch_publishes"), b.pop("batch_publishes")  # each keyspace's own publish id
    for table in a:
        assert a[table] == b[table], f"{table} differs between the incremental and the full run"


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


def test_event_types_are_ucids_vocabulary_whatever_the_source_says(chain, spark):
    """The ESP's sent/open/click and the telephony's voice/chat become the stream's event types
    (``event_types`` in the source definitions), so batch and speed count the same events."""
    from identity.sources import load_sources

    definitions = {d.name: d for d in load_sources(chain["settings"].conf_dir / "sources")}
    silver = spark.read.format("delta").load(chain["ctx3"].lake.silver("records")).where("kind = 'event'")
    types: dict[str, set[str]] = {}
    for r in silver.select("source", "event_type").distinct().collect():
        types.setdefault(r.source, set()).add(r.event_type)
    assert types["email_campaigns"] <= set(definitions["email_campaigns"].event_types.values())
    assert {"email_send", "email_open"} <= types["email_campaigns"]
    assert types["contact_center"] == {"call", "chat"}
    assert types["web"] & types["app"] and None not in types["web"]


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


SPEED_UCID = mint_ucid(("email", "speed-layer@example.org"))  # minted the way the speed layer mints


@pytest.fixture(scope="module")
def published(chain, batch_world):
    """Run 3 published twice into the batch suite's keyspace (its tables truncated first), after a
    speed-layer write newer than its snapshot; yields the publish figures, the speed-written
    identifier and an open session."""
    import time as _time

    from batch import run
    from infra import cql

    settings = batch_world
    cluster = cql.cluster(settings.cassandra)
    session = cluster.connect()
    ks = settings.cassandra.keyspace
    for table in ("identifiers", "identifiers_by_ucid", "ucids", "ucid_aliases", "profiles", "events_by_ucid",
                  "identity_changes", "links_by_ucid"):
        session.execute(f"TRUNCATE {ks}.{table}")
    speed_id = sorted(k for k in chain["state2"] if k[0] == "email")[0]
    # the speed layer re-pointed this identifier after the batch snapshot: its own statements
    # (mint, claim), written with the server's time as it writes them
    from infra.store import Store, ts

    now_ts = ts(int(_time.time() * 1000))
    Store(session, settings.cassandra).atomic([
        ("mint", (SPEED_UCID, now_ts, now_ts)),
        ("claim", (*speed_id, SPEED_UCID, "stream", now_ts, now_ts)),
    ])
    ctx = chain["ctx3"]
    assert ctx.settings.cassandra.keyspace == ks
    first = run.run_stage(ctx, "publish")
    again = run.run_stage(ctx, "publish")
    yield {"first": first, "again": again, "speed_id": speed_id, "session": session, "keyspace": ks,
           "cassandra": settings.cassandra}
    cluster.shutdown()


def test_publish_to_cassandra_is_idempotent_and_keeps_newer_speed_writes(chain, published):
    session, ks, state = published["session"], published["keyspace"], chain["state2"]
    assert published["again"] == {table: 0 for table in published["first"]}  # nothing changed since
    assert published["first"]["identifiers"] == sum(1 for k in state if k[0] != "_record")
    got = session.execute(f"SELECT ucid, layer FROM {ks}.identifiers WHERE id_type=%s AND id_value=%s",
                          published["speed_id"]).one()
    assert (got.ucid, got.layer) == (SPEED_UCID, "speed"), "a publish hid a newer speed write"
    # every published identifier resolves to a UCID that has a live row (sample)
    sample = sorted(k for k in state if k[0] != "_record" and k != published["speed_id"])[:300]
    for id_type, id_value in sample:
        row = session.execute(f"SELECT ucid FROM {ks}.identifiers WHERE id_type=%s AND id_value=%s",
                              (id_type, id_value)).one()
        assert row.ucid == state[(id_type, id_value)]
        u = session.execute(f"SELECT status FROM {ks}.ucids WHERE ucid=%s", (row.ucid,)).one()
        assert u is not None and u.status == "live"
    n_identifiers = session.execute(f"SELECT count(*) FROM {ks}.identifiers").one()[0]
    assert n_identifiers == published["first"]["identifiers"]  # re-publishing wrote no extra row


def test_a_keyspace_that_lost_its_publish_record_gets_every_row_again(chain, published):
    """Truncated, restored or new, a keyspace whose ``batch_publishes`` row does not match the
    lake's snapshot gets every row, not only those that changed."""
    from batch import run

    session, ks = published["session"], published["keyspace"]
    session.execute(f"TRUNCATE {ks}.batch_publishes")
    assert run.run_stage(chain["ctx3"], "publish") == published["first"]
    assert run.run_stage(chain["ctx3"], "publish") == {table: 0 for table in published["first"]}


def test_serving_api_answers_from_the_batch_published_data(chain, published, spark):
    """Resolve, batch resolve, profile and explain through the real app on what the batch wrote."""
    from fastapi.testclient import TestClient

    from infra.settings import ServingSettings
    from infra.store import Store
    from serving import keys
    from serving.app import create_app

    session, state = published["session"], chain["state2"]
    _, secret = keys.create(Store(session, chain["settings"].cassandra), "it-batch", list(keys.SCOPES))
    lake = chain["ctx3"].lake
    links = _gold(spark, lake, "links").collect()
    by_ucid: dict[str, list] = {}
    for r in links:
        by_ucid.setdefault(r.ucid, []).append(r)
    ucid, rows = next((u, rs) for u, rs in sorted(by_ucid.items()) if len(rs) >= 2
                      and all((r.a_type, r.a_value) != published["speed_id"] for r in rs))
    ids = sorted({(r.a_type, r.a_value) for r in rows} | {(r.b_type, r.b_value) for r in rows})
    profile_row = _gold(spark, lake, "profiles").where(spark_col("ucid") == ucid).first()
    with TestClient(create_app(ServingSettings(key_cache_ttl_s=0), cassandra=published["cassandra"]),
                    headers={"X-API-Key": secret},
                    raise_server_exceptions=False) as client:
        for id_type, value in ids:
            r = client.get("/v1/resolve", params={"type": id_type, "value": value})
            assert r.status_code == 200, r.text
            assert r.json()["ucid"] == ucid
        sample = sorted(k for k in state if k[0] != "_record" and k != published["speed_id"])[:60]
        r = client.post("/v1/resolve/batch", json={"identifiers": [{"type": t, "value": v} for t, v in sample]})
        assert r.status_code == 200, r.text
        answers = r.json()["results"]
        assert [a["resolution"]["ucid"] for a in answers] == [state[k] for k in sample]
        r = client.get(f"/v1/profiles/{ucid}")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["_id"]["ucid"] == ucid and doc["platformHeader"]["dataFreshness"]["batchSnapshot"]
        listed = {(t, item["value"]) for t, items in doc["identity"].items() for item in items}
        assert set(ids) <= listed
        assert doc["profile"]["attributes"] == dict(profile_row.attributes)
        (a_type, a_value), (b_type, b_value) = ids[0], ids[-1]
        r = client.get("/v1/explain", params={"a_type": a_type, "a_value": a_value,
                                              "b_type": b_type, "b_value": b_value})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["same_customer"] is True and body["a"]["ucid"] == ucid and len(body["chain"]) >= 1


def test_a_run_with_nothing_new_skips_every_stage_and_writes_nothing(chain, published, spark):
    """Run 3 ingested, resolved and published for real (the fixtures above); recorded as
    succeeded, it is what run 4 compares with: nothing landed since, same rules, sources and
    settings, so every stage after ingest is skipped and Cassandra gets no write at all."""
    from batch import run
    from infra.settings import BatchSettings

    session, ks = published["session"], published["keyspace"]

    def newest_write() -> int:
        return max(r[0] for r in session.execute(f"SELECT writetime(ucid) FROM {ks}.identifiers"))

    ctx3 = chain["ctx3"]
    run.record_run(ctx3, "succeeded")
    before = newest_write()
    ctx4 = run.context(ctx3.settings, now=T3 + 86_400, run_id="run4", report=lambda m: None)
    ctx4._spark = spark
    ctx4.batch = BatchSettings(speed_state=False)
    results = {stage: run.run_stage(ctx4, stage) for stage in (*run.STAGES, "validate_published")}
    assert all(f["files_new"] == 0 for f in results["ingest"].values())
    skipped = {s for s, r in results.items() if "skipped" in r}
    assert skipped == {"normalize", "resolve", "profiles", "segments", "validate", "publish", "validate_published"}
    assert results["publish"] == {"skipped": "nothing new since run run3"}
    assert newest_write() == before, "a run with nothing new wrote to Cassandra"
    # other settings are other inputs: the same landing zone is run again (not skipped)
    ctx5 = run.context(ctx3.settings, now=T3 + 86_400, run_id="run5", report=lambda m: None)
    ctx5._spark = spark
    ctx5.batch = BatchSettings(speed_state=False, max_cluster_records=ctx4.batch.max_cluster_records + 1)
    assert run.unchanged_since(ctx5) is None
    full = run.context(ctx3.settings, full=True, now=T3, run_id="run6", report=lambda m: None)
    full._spark = spark
    full.batch = ctx4.batch
    assert run.unchanged_since(full) is None
