"""The match model in the Spark batch equals ``ucid resolve --local --model`` on the same files.

One generated data set with the hard cases (300 customers: in-store registrations without
identifiers, CRM duplicates, same-name relatives), one model trained by ``ucid model train``,
then the local command (Splink on DuckDB) and one batch run with the model in force (Splink on
Spark): every record's UCID, the pairs linked and the pairs in review must agree.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

CUSTOMERS = 300
SEED = 7
NOW = 1_790_000_000


def _cli(*args: str) -> None:
    from ucid.cli import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _pairs(rows, keys=("source_l", "record_id_l", "source_r", "record_id_r")) -> set:
    """Record pairs as unordered pairs of (source, record id)."""
    out = set()
    for r in rows:
        a, b = (r[keys[0]], r[keys[1]]), (r[keys[2]], r[keys[3]])
        out.add((a, b) if a < b else (b, a))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, spark, settings):
    """The local run and one batch run (ingest, normalize, resolve) with the same model."""
    from batch import run
    from infra.match.model import load_model
    from infra.settings import BatchSettings
    from ucid.generate import GenerateConfig, generate_dataset

    base = tmp_path_factory.mktemp("match")
    data = base / "generated"
    generate_dataset(GenerateConfig(customers=CUSTOMERS, seed=SEED, out=data, hard_cases=True))
    model_path = base / "model" / "model.json"
    _cli("model", "train", "--local", str(data), "--out", str(model_path), "--no-chart")
    out = base / "local" / "assignment.csv"
    _cli("resolve", "--local", str(data), "--model", str(model_path), "--out", str(out), "--now", str(NOW))

    world = settings.model_copy(update={"lake_dir": base / "lake", "landing_dir": data})
    world.__dict__["match"] = settings.match.model_copy(update={"model_file": model_path})
    ctx = run.context(world, now=NOW, run_id="match1", report=lambda m: None)
    ctx._spark = spark
    ctx.batch = BatchSettings(speed_state=False)
    for stage in ("ingest", "normalize", "resolve"):
        run.run_stage(ctx, stage)
    gold = {name: spark.read.format("delta").load(ctx.lake.gold(name))
            for name in ("assignments", "links", "refused_links", "match_review")}
    return {
        "ctx": ctx, "data": data, "model": load_model(model_path), "stats": ctx.stats["resolve"]["result"],
        "local": {(r["source"], r["record_id"]): r["ucid"] for r in _csv(out)},
        "local_links": _csv(out.with_name("assignment.links.csv")),
        "local_review": _csv(out.with_name("assignment.review.csv")),
        "batch": {(r.source, r.record_id): r.ucid for r in gold["assignments"].collect()},
        "links": gold["links"].collect(), "refused": gold["refused_links"].collect(),
        "review": gold["match_review"].collect(),
    }


def test_every_record_gets_the_local_commands_ucid(runs):
    assert len(runs["batch"]) > 5_000
    assert runs["batch"] == runs["local"]


def test_the_model_links_and_reviews_the_pairs_the_local_command_does(runs):
    stats = runs["stats"]
    assert stats["pairs_linked"] == len(runs["local_links"]) > 0
    assert stats["pairs_review"] == len(runs["local_review"]) > 0
    assert _pairs(runs["review"]) == _pairs(runs["local_review"])
    assert stats["model_edges"] > 0 and stats["pairs_blocked"] >= stats["pairs_scored_above_review"]
    # household members giving another member's e-mail: the batch re-anchors them as the local
    # command does (the assignments above are equal), 6 records on this data
    assert stats["records_withholding"] > 0


def test_model_links_are_in_gold_links_with_their_evidence(runs):
    model = runs["model"]
    spec = model.spec
    linked = [r for r in runs["links"] if r.rule == spec.rule]
    assert linked, "no probabilistic link in gold/links"
    for r in linked:
        assert r.match.model == model.version and r.match.probability >= spec.link_threshold
        assert [lv.comparison for lv in r.match.levels] == [c.column for c in spec.comparisons]
        assert len(r.evidence) == 2 and r.support >= 1
    exact = [r for r in runs["links"] if r.rule != spec.rule]
    assert exact and all(r.match is None and r.rule == f"{r.a_type}~{r.b_type}" for r in exact)
    pairs = [(r.a_type, r.a_value, r.b_type, r.b_value) for r in runs["links"]]
    assert len(pairs) == len(set(pairs)), "gold/links holds one row per identifier pair"


def test_review_rows_carry_both_values_and_the_run(runs):
    spec = runs["model"].spec
    for r in runs["review"]:
        assert r.run_id == "match1" and r.model == runs["model"].version
        assert spec.review_threshold <= r.probability or r.veto is not None
        assert r.a_type_l and r.a_type_r
        assert {lv.comparison for lv in r.levels} == {c.column for c in spec.comparisons}
    assert any(lv.value_l is not None and lv.value_r is not None for r in runs["review"] for lv in r.levels)


def test_runs_record_the_model_and_keep_older_rows_readable(runs, spark):
    from batch import run

    ctx = runs["ctx"]
    old = spark.createDataFrame([("old", 1, "succeeded", "{}", False)],
                                "run_id string, snapshot long, status string, stats string, full boolean")
    old.write.format("delta").mode("append").save(ctx.lake.gold("runs"))  # a table from before the column
    run.record_run(ctx, "succeeded")
    rows = {r.run_id: r for r in spark.read.format("delta").load(ctx.lake.gold("runs")).collect()}
    assert rows["old"].model is None
    assert rows["match1"].model == runs["model"].version


def test_scoring_leaves_nothing_in_the_session(runs, spark):
    """Splink's persisted tables and temporary views are released after the run (a long-lived
    Spark Connect server would keep every run's blocked pairs)."""
    from infra.match.spark_predict import SPLINK_PREFIX, VIEW_PREFIX

    views = [t.name for t in spark.catalog.listTables() if t.isTemporary]
    assert not [v for v in views if v.startswith((SPLINK_PREFIX, VIEW_PREFIX))]
    jvm_session = getattr(spark, "_jsparkSession", None)  # classic Spark: the cache is inspectable
    if jvm_session is not None:
        assert jvm_session.sharedState().cacheManager().isEmpty()


def test_spark_scores_every_blocked_pair_as_duckdb_does(runs, spark):
    """The same person rows scored by Splink on Spark and on DuckDB: the same pairs, each with
    the same level, label and weight per comparison and the same probability (Splink's jar
    alone, without DuckDB's Jaro-Winkler, puts 4 of these 1,005 pairs on another e-mail level)."""
    from batch.match import _with_keys, person_frame
    from batch.resolve import _priority_map, anchors_frame
    from identity.match import ID_COLUMN
    from infra.match.predict import score, scored_rows
    from infra.match.spark_predict import predictions
    from ucid.local_match import read_person_rows

    ctx, model = runs["ctx"], runs["model"]
    records = spark.read.format("delta").load(ctx.lake.silver("records"))
    anchors = anchors_frame(records, _priority_map(ctx.policy))
    people = person_frame(records, anchors, ctx.sources, model.spec).localCheckpoint()
    with predictions(spark, people.select(ID_COLUMN, *model.spec.columns()), model) as scored:
        data = _with_keys(scored, people).toArrow().to_pydict()
    keys = {}
    for side in ("l", "r"):
        keys.update(zip(data[f"{ID_COLUMN}_{side}"],
                        zip(data[f"source_{side}"], data[f"record_id_{side}"], strict=True), strict=True))
    on_spark = {frozenset((keys[s.left], keys[s.right])): s for s in scored_rows(data, model.splink)}
    local = read_person_rows(runs["data"], ctx.sources, ctx.policy, model.spec)
    on_duckdb = {frozenset((local.keys[s.left], local.keys[s.right])): s for s in score(local.table, model, 0.0)}
    assert len(on_duckdb) > 500 and set(on_spark) == set(on_duckdb)
    for pair, d in on_duckdb.items():
        s = on_spark[pair]
        assert s.levels == d.levels, pair
        assert s.probability == pytest.approx(d.probability, rel=1e-12, abs=1e-15)
        assert {c: {lv, rv} for c, lv, rv in s.values} == {c: {lv, rv} for c, lv, rv in d.values}


def test_training_on_spark_gives_the_local_model(runs, spark, tmp_path):
    """``ucid model train`` on the lake (Splink on Spark, silver's person rows) against ``--local``
    on the landed files (DuckDB): lambda equal (exact counts of the deterministic rules), every
    level's match weight within 0.25 (EM on the same rows and levels; u is counted over every
    sampled pair at once on Spark where DuckDB may stop a comparison early: the first name's
    levels differ most), the training data's term frequencies kept in the sidecar as the local
    training keeps them (the same person rows: the same frequencies, so the Spark-trained model
    scores a pair the same in the batch, locally and in the speed layer), and a model file the
    local scorer reads. Determinism: the row ids do
    not depend on silver's partitioning (below) and Splink samples by seeded hashing of them, so
    the same lake gives the same file (by hand: in process and on Spark Connect, one version);
    training twice here would double the test's time."""
    from batch.match import train, training_rows
    from identity.match import load_spec
    from infra.match.model import load_model, save_model
    from infra.match.predict import score
    from ucid.local_match import read_person_rows

    ctx, local = runs["ctx"], runs["model"]
    records = spark.read.format("delta").load(ctx.lake.silver("records"))
    spec = load_spec(ctx.settings.match.spec_path(ctx.settings.conf_dir))
    model = train(spark, records, ctx.sources, spec)
    assert model.report["backend"] == "spark" and model.report["records"] == local.report["records"] > 500
    assert model.spec == local.spec  # restricted to the same columns
    lam, lam_local = (m.splink["probability_two_random_records_match"] for m in (model, local))
    assert lam == pytest.approx(lam_local, rel=1e-9)
    worst = 0.0
    for comp, comp_local in zip(model.report["comparisons"], local.report["comparisons"], strict=True):
        assert [lv["label"] for lv in comp["levels"]] == [lv["label"] for lv in comp_local["levels"]]
        for lv, lv_local in zip(comp["levels"], comp_local["levels"], strict=True):
            w, w_local = lv["match_weight"], lv_local["match_weight"]
            assert (w is None) == (w_local is None), (comp["comparison"], lv["label"])
            if w is not None:
                worst = max(worst, abs(w - w_local))
    print(f"lambda {lam:.6g} (local {lam_local:.6g}); largest match-weight difference {worst:.4f}")
    assert worst < 0.25
    # the term frequencies of the training data, computed by the Spark linker, are the local ones
    assert model.tf and set(model.tf) == set(local.tf)
    for column, freq in model.tf.items():
        assert list(freq) == list(local.tf[column]), column
        assert list(freq.values()) == pytest.approx(list(local.tf[column].values()), rel=1e-12), column
    # the file is DuckDB SQL: loaded and scored by the local command's scorer
    path = tmp_path / "spark-model.json"
    save_model(path, model)
    loaded = load_model(path)
    assert loaded.version == model.version and loaded.report["backend"] == "spark"
    assert loaded.tf == model.tf  # kept in the sidecar
    people = read_person_rows(runs["data"], ctx.sources, ctx.policy, loaded.spec)
    scored = score(people.table, loaded, 0.0)
    assert len(scored) == runs["stats"]["pairs_blocked"]
    # the ids Splink's seeded samples hash do not depend on how silver is partitioned
    ids, _, n = training_rows(records, ctx.sources, spec)
    again, _, _ = training_rows(records.repartition(3), ctx.sources, spec)
    assert n == model.report["records"]
    assert sorted(map(tuple, ids.collect())) == sorted(map(tuple, again.collect()))


@pytest.fixture(scope="module")
def served(runs, spark, settings):
    """The batch run with the model published to a keyspace of its own, and a client of the API
    on it with an ``explain`` key."""
    from fastapi.testclient import TestClient

    from batch import run
    from infra import cql
    from infra.settings import ServingSettings
    from infra.store import Store
    from serving import keys
    from serving.app import create_app

    from ..conftest import suite_settings, truncate_keyspace

    ctx = runs["ctx"]
    world = suite_settings(settings, "match")
    ctx.settings.__dict__["cassandra"] = world.cassandra
    cluster = cql.cluster(world.cassandra)
    session = cluster.connect()
    # a rerun on a kept stack publishes at the same USING TIMESTAMP: an older run's cells would
    # win the tie (Cassandra keeps the greater value)
    truncate_keyspace(session, world.cassandra.keyspace)
    for stage in ("profiles", "publish"):
        run.run_stage(ctx, stage)
    _, key = keys.create(Store(session, world.cassandra), "it-match-explain", ["explain"])
    app = create_app(ServingSettings(key_cache_ttl_s=0), cassandra=world.cassandra)
    with TestClient(app, headers={"X-API-Key": key}, raise_server_exceptions=False) as client:
        yield client
    cluster.shutdown()


def test_explain_shows_a_model_links_probability_and_comparisons(runs, served):
    """/v1/explain between two identifiers the model linked: the step names the model's rule and
    carries its evidence (probability, weight, each comparison), and says it in words."""
    spec = runs["model"].spec
    linked = sorted((r for r in runs["links"] if r.rule == spec.rule and "_record" not in (r.a_type, r.b_type)),
                    key=lambda r: (r.a_type, r.a_value, r.b_type, r.b_value))
    assert linked, "no model link between two identifiers to explain"
    link = linked[0]
    got = served.get("/v1/explain", params={"a_type": link.a_type, "a_value": link.a_value,
                                            "b_type": link.b_type, "b_value": link.b_value})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["same_customer"] and len(body["chain"]) == 1
    (step,) = body["chain"]
    assert step["rule"] == spec.rule
    match = step["match"]
    assert match["model"] == runs["model"].version and match["probability"] == pytest.approx(link.match.probability)
    assert [c["comparison"] for c in match["comparisons"]] == [c.column for c in spec.comparisons]
    assert f"{link.match.probability:.4f}" in match["summary"] and "for: " in match["summary"]


def test_the_publish_fills_the_speed_layers_blocking_index(runs, served, spark):
    """gold/match_blocks (every person row with its block keys) is published into Cassandra's
    match_blocks with each record's UCID: the speed layer's candidates for records it never saw."""
    from identity.match import block_keys
    from infra.store import Store

    ctx = runs["ctx"]
    spec = runs["model"].spec
    gold = spark.read.format("delta").load(ctx.lake.gold("match_blocks")).collect()
    assert gold and all(r.block_keys == block_keys(dict(r.person), spec) for r in gold)
    with Store.connect(ctx.settings.cassandra) as store:
        published = [r for r in store.session.execute(
            f"SELECT block_key, source, record_id, ucid, person, layer FROM {store.keyspace}.match_blocks")]
    assert len(published) == sum(len(r.block_keys) for r in gold)
    assert {r.layer for r in published} == {"batch"}
    assert all(runs["batch"][(r.source, r.record_id)] == r.ucid for r in published)
    row = next(r for r in gold if len(r.block_keys) > 2)
    got = {p.block_key: dict(p.person) for p in published if (p.source, p.record_id) == (row.source, row.record_id)}
    assert got == {k: dict(row.person) for k in row.block_keys}
