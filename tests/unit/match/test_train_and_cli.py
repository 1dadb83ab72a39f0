"""Training and scoring on DuckDB, and the CLI path, on a tiny generated data set with hard cases.

One data set and one trained model per module: a Splink training on ~1,000 person rows takes a
few seconds, so the whole module stays well under a minute.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from identity.rules import load_policy
from identity.sources import load_sources
from infra.match.model import ModelFileError, load_model, save_model
from infra.match.decision import kept
from infra.match.predict import score
from infra.match.splink_settings import trained_settings
from infra.match.train import train
from ucid.cli import app
from ucid.evaluate import evaluate, read_labels
from ucid.generate import GenerateConfig, generate_dataset
from ucid.local_match import read_person_rows, score_people
from identity.match import load_spec
from batch.match import keep_condition

REPO = Path(__file__).resolve().parents[3]
CUSTOMERS = 600


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hard")
    generate_dataset(GenerateConfig(customers=CUSTOMERS, seed=5, out=root, days=5, hard_cases=True))
    return root


@pytest.fixture(scope="module")
def people(landed: Path):  # type: ignore[no-untyped-def]
    policy = load_policy(REPO / "conf" / "rules.yaml")
    sources = load_sources(REPO / "conf" / "sources", known_types=set(policy.types))
    spec = load_spec(REPO / "conf" / "match.yaml")
    rows = read_person_rows(landed, sources, policy, spec)
    return rows, spec.restricted_to(rows.columns_with_values())


@pytest.fixture(scope="module")
def model(people):  # type: ignore[no-untyped-def]
    rows, spec = people
    return train(rows.table, spec)


def test_person_rows_come_from_the_sources_declaring_names(people) -> None:  # type: ignore[no-untyped-def]
    rows, spec = people
    assert set(rows.rows) == {"crm", "billing", "loyalty", "store"}
    assert rows.table.num_rows == len(rows.keys) == len(rows.anchors)
    assert "first_name" in spec.columns() and "birth_date" in spec.columns()


def test_training_is_deterministic_for_a_seed_and_the_file_round_trips(people, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows, spec = people
    # few sampled pairs, so that u depends on which pairs the seed picks (with the default
    # 2,000,000 pairs a tiny data set is sampled whole); the CLI test checks the full spec
    small = spec.model_copy(update={"training": spec.training.model_copy(update={"u_max_pairs": 20_000})})
    first, again = train(rows.table, small), train(rows.table, small)
    assert again.splink == first.splink and again.version == first.version
    other = train(rows.table, small.model_copy(update={"seed": small.seed + 1}))
    assert other.version != first.version
    path = tmp_path / "m.json"
    save_model(path, model)
    loaded = load_model(path)
    assert loaded.version == model.version and loaded.spec == model.spec
    doc = json.loads(path.read_text())
    doc["probability_two_random_records_match"] = 0.5  # edited after training
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="changed after training"):
        load_model(path)
    save_model(path, model)
    side = tmp_path / "m.ucid.json"
    meta = json.loads(side.read_text())
    meta["spec"]["link_threshold"] = 0.99  # a looser decision passed off as the trained model
    side.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="changed after training"):
        load_model(path)
    report = {c["comparison"] for c in model.report["comparisons"]}
    assert report == {c.column for c in spec.comparisons}


def test_scoring_finds_the_store_registrations_of_customers(people, model, landed: Path) -> None:  # type: ignore[no-untyped-def]
    rows, spec = people
    scored = score(rows.table, model, spec.review_threshold)
    assert scored == sorted(scored, key=lambda s: (s.left, s.right))
    assert all(s.probability >= spec.review_threshold for s in scored)
    truth = read_labels(landed / "truth" / "truth.csv", "person_id")
    linked = [s for s in scored if s.probability >= spec.link_threshold]
    store_links = [s for s in linked if "store" in (rows.keys[s.left][0], rows.keys[s.right][0])]
    assert store_links, "no store registration linked"
    right = sum(truth[rows.keys[s.left]] == truth[rows.keys[s.right]] for s in linked)
    assert right / len(linked) > 0.99
    result = score_people(rows, model)
    assert result.stats["pairs_linked"] + result.stats["pairs_review"] <= result.stats["pairs_blocked"]
    assert all(e.rule == spec.rule and e.match.model == model.version for e in result.edges)


def test_cli_train_then_resolve_with_the_model(landed: Path, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    out_model = tmp_path / "model.json"
    got = runner.invoke(app, ["model", "train", "--local", str(landed), "--out", str(out_model), "--no-chart"])
    assert got.exit_code == 0, got.output
    assert load_model(out_model).version == model.version  # the CLI trains the same model
    exact, with_model = tmp_path / "exact.csv", tmp_path / "a.csv"
    assert runner.invoke(app, ["resolve", "--local", str(landed), "--out", str(exact), "--now", "1"]).exit_code == 0
    got = runner.invoke(app, ["resolve", "--local", str(landed), "--model", str(out_model), "--out", str(with_model),
                              "--now", "1"])
    assert got.exit_code == 0, got.output
    review, links = tmp_path / "a.review.csv", tmp_path / "a.links.csv"
    assert review.is_file() and links.is_file()
    with links.open() as fh:
        assert next(csv.reader(fh))[:4] == ["source_l", "record_id_l", "source_r", "record_id_r"]
    truth = read_labels(landed / "truth" / "truth.csv", "person_id")
    people_only = {k: v for k, v in truth.items() if k[0] in {"crm", "billing", "loyalty", "store"}}
    def scoped(path: Path) -> dict:
        return {k: v for k, v in read_labels(path, "ucid").items() if k in people_only}
    before, after = evaluate(scoped(exact), people_only), evaluate(scoped(with_model), people_only)
    assert after.pairwise_recall > before.pairwise_recall
    assert after.most_persons_in_one_ucid <= 2
    got = runner.invoke(app, ["evaluate", "-a", str(with_model), "-b", str(exact), "-t",
                              str(landed / "truth" / "truth.csv"), "--person-records", "--model-pairs", str(review),
                              "--json"])
    assert got.exit_code == 0, got.output
    doc = json.loads(got.output)
    assert doc["scope"] == "person_records" and doc["baseline"]["pairwise_recall"] == pytest.approx(before.pairwise_recall)
    assert doc["review_pairs"] == sum(1 for _ in review.open()) - 1


def test_a_tampered_or_missing_model_is_refused(landed: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    missing.write_text("{}")
    got = CliRunner().invoke(app, ["resolve", "--local", str(landed), "--model", str(missing), "--out",
                                   str(tmp_path / "a.csv")])
    said = " ".join(got.output.split())  # rich wraps at the terminal's width, anywhere in the path
    assert got.exit_code == 2 and "train one with `ucid model train`" in said, got.output


def test_the_trained_model_in_another_dialect_keeps_its_parameters(people, model) -> None:  # type: ignore[no-untyped-def]
    """The saved model is DuckDB SQL; rebuilt for a dialect it keeps every trained m and u, and
    rebuilt for DuckDB it is the saved model again (so it scores exactly as the saved one)."""
    rows, _ = people
    again = trained_settings(model.splink, model.spec, "duckdb")
    assert again["comparisons"] == model.splink["comparisons"]
    assert again["probability_two_random_records_match"] == model.splink["probability_two_random_records_match"]
    spark = trained_settings(model.splink, model.spec, "spark")
    for theirs, ours in zip(model.splink["comparisons"], spark["comparisons"], strict=True):
        for a, b in zip(theirs["comparison_levels"], ours["comparison_levels"], strict=True):
            assert (a.get("m_probability"), a.get("u_probability")) == (b.get("m_probability"), b.get("u_probability"))
    conditions = [lvl["sql_condition"] for c in spark["comparisons"] for lvl in c["comparison_levels"]]
    assert any("jaro_winkler(`first_name_l`" in c for c in conditions)
    assert any("'yyyy-MM-dd'" in c for c in conditions) and not any('"' in c for c in conditions)
    fewer = model.spec.model_copy(update={"comparisons": model.spec.comparisons[:-1]})
    with pytest.raises(ValueError, match="not the spec's"):
        trained_settings(model.splink, fewer, "spark")


def test_the_batch_pre_filter_keeps_exactly_the_pairs_the_decision_reads(people, model) -> None:  # type: ignore[no-untyped-def]
    """``batch.match.keep_condition`` (Spark SQL on Splink's columns) selects the same pairs as
    ``infra.match.decision.kept``: the review band and up, every vetoed pair, and every pair
    holding one value of a shared identifier column."""
    import duckdb
    import pyarrow as pa

    rows, spec = people
    scored = score(rows.table, model, 0.0)
    values = [{c: (lv, rv) for c, lv, rv in s.values} for s in scored]
    pairs = pa.table({"i": list(range(len(scored))), "match_probability": [s.probability for s in scored],  # noqa: F841 - DuckDB reads it by name
                      **{f"gamma_{c.column}": [next(lv.level for lv in s.levels if lv.comparison == c.column)
                                               for s in scored] for c in spec.comparisons},
                      **{f"{c}_{side}": [v[c][n] for v in values] for c in spec.shared for n, side in enumerate("lr")}})
    got = {r[0] for r in duckdb.sql(f"SELECT i FROM pairs WHERE {keep_condition(spec)}").fetchall()}
    want = {i for i, s in enumerate(scored) if kept(s, spec)}
    assert got == want
    assert any(s.probability < spec.review_threshold for i, s in enumerate(scored) if i in want)  # vetoed, low
    assert len(want) < len(scored)


def test_the_model_keeps_the_training_term_frequencies_and_scores_a_pair_alone_as_in_the_whole(people, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The speed layer scores a record against a few candidates; the batch scores the whole
    lake. With the model's term frequencies (not the scored data's) a pair gets one score either
    way, and the warm scorer (one DuckDB, many small tables) gives the one-shot scorer's."""
    from infra.match.predict import Scorer

    rows, spec = people
    assert set(model.tf) == {"first_name", "last_name", "email"}
    assert all(0 < f <= 1 for freq in model.tf.values() for f in freq.values())
    path = tmp_path / "m.json"
    save_model(path, model)
    assert load_model(path).tf == model.tf and load_model(path).version == model.version
    whole = {(s.left, s.right): s for s in score(rows.table, model, 0.0)}
    scorer = Scorer(model)
    for start in (0, 150, 300):
        part = rows.table.slice(start, 150)
        got = scorer.score(part)
        ids = set(part.column("unique_id").to_pylist())
        assert {(s.left, s.right) for s in got} == {k for k in whole if k[0] in ids and k[1] in ids}
        for s in got:
            ref = whole[(s.left, s.right)]
            assert (s.probability, s.weight, s.levels) == (ref.probability, ref.weight, ref.levels)


def test_a_model_trained_in_spark_sql_is_saved_as_the_duckdb_model(model) -> None:  # type: ignore[no-untyped-def]
    """Training on Spark ends with Splink JSON in Spark SQL; turned back into DuckDB SQL
    (``trained_settings(..., "duckdb")``, as :func:`infra.match.spark_train.train_on_spark` does)
    it is the file a local training writes, parameter for parameter."""
    on_spark = trained_settings(model.splink, model.spec, "spark")
    back = trained_settings(on_spark, model.spec, "duckdb")
    assert back["comparisons"] == model.splink["comparisons"]
    assert back["probability_two_random_records_match"] == model.splink["probability_two_random_records_match"]
    assert model.report["backend"] == "duckdb" and model.report["records"] > 0


def test_the_training_steps_run_on_any_linker(people) -> None:  # type: ignore[no-untyped-def]
    """:func:`infra.match.train.estimate` drives a linker of either backend: the spec's rules,
    recall, pairs and seed; u in Splink's default chunks unless the backend asks otherwise."""
    from infra.match.train import estimate

    _, spec = people
    calls: list[tuple[str, tuple, dict]] = []

    class Training:
        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return lambda *args, **kwargs: calls.append((name, args, kwargs))

    class Misc:
        def save_model_to_json(self) -> dict:
            return {"saved": True}

    class FakeLinker:
        training, misc = Training(), Misc()

    steps: list[str] = []
    assert estimate(FakeLinker(), spec, steps.append) == {"saved": True}  # type: ignore[arg-type]
    names = [c[0] for c in calls]
    assert names == ["estimate_probability_two_random_records_match", "estimate_u_using_random_sampling",
                     *["estimate_parameters_using_expectation_maximisation"] * len(spec.training.em_blocking_rules)]
    assert calls[0][2] == {"recall": spec.training.deterministic_recall}
    assert calls[1][2] == {"max_pairs": spec.training.u_max_pairs, "seed": spec.seed}
    assert len(steps) == len(calls)
    calls.clear()
    estimate(FakeLinker(), spec, u_chunks=1)  # type: ignore[arg-type]
    assert calls[1][2]["num_chunks"] == 1


def test_the_term_frequencies_come_from_any_linker_as_the_local_training_keeps_them(people, model) -> None:  # type: ignore[no-untyped-def]
    """:func:`infra.match.train.term_frequencies` asks the linker (DuckDB here, Spark in
    :func:`infra.match.spark_train.train_on_spark`) for Splink's term-frequency table of each
    adjusted column: a Spark-trained model keeps the training data's frequencies in its sidecar
    as the local one does, so it scores a pair the same in the batch, locally and in real time."""
    import pyarrow as pa

    from infra.match.train import term_frequencies, tf_columns

    asked: list[str] = []

    class Frame:
        def __init__(self, column: str) -> None:
            self.column = column

        def as_pyarrow_table(self) -> pa.Table:
            freq = model.tf[self.column]
            return pa.table({self.column: list(reversed(freq)), f"tf_{self.column}": list(reversed(freq.values()))})

    class Tables:
        def compute_tf_table(self, column: str) -> Frame:
            asked.append(column)
            return Frame(column)

    class FakeLinker:
        table_management = Tables()

    steps: list[str] = []
    got = term_frequencies(FakeLinker(), model.splink, steps.append)  # type: ignore[arg-type]
    assert asked == tf_columns(model.splink) and steps == ["term frequencies of the training data"]
    assert got == model.tf and all(list(f) == sorted(f) for f in got.values())  # sorted: one file, one version


def test_cli_train_local_needs_out(landed: Path) -> None:
    got = CliRunner().invoke(app, ["model", "train", "--local", str(landed)])
    assert got.exit_code == 2 and "--out is required with --local" in got.output
