"""ucid.evaluate: hand-computed examples, the classic B-cubed examples, brute-force properties, CLI."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ucid.commands.evaluate import evaluate as evaluate_command
from ucid.evaluate import (
    EvaluationInputError,
    evaluate,
    evaluate_files,
    labels_from_rows,
    read_labels,
)


def _labels(mapping: dict[str, list[str]]) -> dict[tuple[str, str], str]:
    """{label: [record ids]} -> {("s", record id): label}."""
    return {("s", r): label for label, records in mapping.items() for r in records}


def test_perfect_clustering() -> None:
    truth = _labels({"X": ["a", "b", "c"], "Y": ["d"]})
    m = evaluate(_labels({"U1": ["a", "b", "c"], "U2": ["d"]}), truth)
    assert (m.pairwise_precision, m.pairwise_recall, m.pairwise_f1) == (1.0, 1.0, 1.0)
    assert (m.bcubed_precision, m.bcubed_recall, m.bcubed_f1) == (1.0, 1.0, 1.0)
    assert m.persons_split == m.ucids_merging_persons == 0
    assert (m.records, m.true_persons, m.ucids) == (4, 2, 2)


def test_hand_computed_small_example() -> None:
    # truth X={a,b,c} Y={d,e}; predicted U1={a,b} U2={c,d,e}
    # cells (U1,X)=2 (U2,X)=1 (U2,Y)=2 -> correct pairs 1+0+1=2, predicted 1+3=4, true 3+1=4
    truth = _labels({"X": ["a", "b", "c"], "Y": ["d", "e"]})
    m = evaluate(_labels({"U1": ["a", "b"], "U2": ["c", "d", "e"]}), truth)
    assert (m.correct_pairs, m.predicted_pairs, m.true_pairs) == (2, 4, 4)
    assert m.pairwise_precision == m.pairwise_recall == m.pairwise_f1 == 0.5
    # B-cubed per record (p, r): a,b (1, 2/3); c (1/3, 1/3); d,e (2/3, 1)
    assert m.bcubed_precision == pytest.approx(float(Fraction(11, 15)))
    assert m.bcubed_recall == pytest.approx(float(Fraction(11, 15)))
    assert m.persons_split == 1 and m.ucids_merging_persons == 1
    assert (m.largest_cluster_records, m.largest_cluster_ucid) == (3, "U2")
    assert (m.largest_person_records, m.largest_person_id) == (3, "X")
    assert (m.most_persons_in_one_ucid, m.largest_multi_person_cluster_records) == (2, 3)


BAGGA_BALDWIN_TRUTH = {"A": ["1", "2", "3", "4", "5"], "B": ["6", "7"], "C": ["8", "9", "10", "11", "12"]}


def test_bagga_baldwin_1998_merging_the_small_entity() -> None:
    """Response 1 of the classic example: the 2-record entity merged into a 5-record one."""
    m = evaluate(_labels({"R1": ["1", "2", "3", "4", "5"], "R2": ["6", "7", "8", "9", "10", "11", "12"]}),
                 _labels(BAGGA_BALDWIN_TRUTH))
    assert m.bcubed_precision == pytest.approx(16 / 21)  # (5 + 2*2/7 + 5*5/7) / 12 = 0.762
    assert m.bcubed_recall == 1.0
    assert m.pairwise_precision == pytest.approx(21 / 31) and m.pairwise_recall == 1.0


def test_bagga_baldwin_1998_merging_the_two_large_entities() -> None:
    """Response 2: the two 5-record entities merged; B-cubed punishes it more (MUC does not)."""
    m = evaluate(_labels({"R1": ["1", "2", "3", "4", "5", "8", "9", "10", "11", "12"], "R2": ["6", "7"]}),
                 _labels(BAGGA_BALDWIN_TRUTH))
    assert m.bcubed_precision == pytest.approx(7 / 12)  # (10 * 5/10 + 2 * 1) / 12 = 0.583
    assert m.bcubed_recall == 1.0
    assert m.pairwise_precision == pytest.approx(21 / 46)


def test_all_singletons_and_one_big_cluster() -> None:
    truth = _labels({"X": ["a", "b"], "Y": ["c", "d"]})
    singles = evaluate(_labels({f"U{i}": [r] for i, r in enumerate("abcd")}), truth)
    assert singles.pairwise_precision == 1.0 and singles.pairwise_recall == 0.0 and singles.pairwise_f1 == 0.0
    assert singles.bcubed_precision == 1.0 and singles.bcubed_recall == 0.5
    one = evaluate(_labels({"U": list("abcd")}), truth)
    assert one.pairwise_precision == pytest.approx(2 / 6) and one.pairwise_recall == 1.0
    assert one.bcubed_precision == 0.5 and one.bcubed_recall == 1.0


def test_a_record_missing_from_the_assignments_is_its_own_singleton() -> None:
    truth = _labels({"X": ["a", "b"]})
    m = evaluate(_labels({"U1": ["a"]}), truth)
    assert m.records_missing_from_assignments == 1 and m.records_missing_from_truth == 0
    assert m.records == 2 and m.ucids == 2
    assert m.pairwise_recall == 0.0 and m.pairwise_precision == 1.0
    assert m.persons_split == 1


def test_a_record_missing_from_the_truth_is_its_own_person() -> None:
    truth = _labels({"X": ["a", "b"]})
    m = evaluate(_labels({"U1": ["a", "b", "z"]}), truth)
    assert m.records_missing_from_truth == 1 and m.records_missing_from_assignments == 0
    assert m.pairwise_precision == pytest.approx(1 / 3) and m.pairwise_recall == 1.0
    assert m.ucids_merging_persons == 1


def test_sources_keep_equal_record_ids_apart() -> None:
    truth = labels_from_rows([("crm", "1", "X"), ("web", "1", "Y")])
    m = evaluate(labels_from_rows([("crm", "1", "U"), ("web", "1", "V")]), truth)
    assert m.records == 2 and m.true_persons == 2 and m.ucids == 2
    assert m.pairwise_f1 == 1.0 and m.bcubed_f1 == 1.0  # no pairs to find and none predicted


def _brute_force(assign: list[int], truth: list[int]) -> tuple[float, float, float, float]:
    n = len(assign)
    both = pred = true = 0
    for i, j in itertools.combinations(range(n), 2):
        same_a, same_t = assign[i] == assign[j], truth[i] == truth[j]
        pred += same_a
        true += same_t
        both += same_a and same_t
    p_sum = r_sum = 0.0
    for i in range(n):
        cluster = {j for j in range(n) if assign[j] == assign[i]}
        person = {j for j in range(n) if truth[j] == truth[i]}
        p_sum += len(cluster & person) / len(cluster)
        r_sum += len(cluster & person) / len(person)
    return (both / pred if pred else 1.0, both / true if true else 1.0, p_sum / n, r_sum / n)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=25))
def test_contingency_figures_equal_brute_force_pairs(labels: list[tuple[int, int]]) -> None:
    assign = {("s", str(i)): f"U{a}" for i, (a, _) in enumerate(labels)}
    truth = {("s", str(i)): f"P{t}" for i, (_, t) in enumerate(labels)}
    m = evaluate(assign, truth)
    pp, pr, bp, br = _brute_force([a for a, _ in labels], [t for _, t in labels])
    assert m.pairwise_precision == pytest.approx(pp)
    assert m.pairwise_recall == pytest.approx(pr)
    assert m.bcubed_precision == pytest.approx(bp)
    assert m.bcubed_recall == pytest.approx(br)
    swapped = evaluate(truth, assign)  # precision and recall trade places
    assert swapped.pairwise_precision == pytest.approx(m.pairwise_recall)
    assert swapped.bcubed_recall == pytest.approx(m.bcubed_precision)


# ------------------------------------------------------------------------------------------------
# files and the command line
# ------------------------------------------------------------------------------------------------
def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_labels_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(EvaluationInputError, match="missing column"):
        read_labels(_csv(tmp_path / "a.csv", "source,record,ucid\ncrm,1,U\n"), "ucid")
    with pytest.raises(EvaluationInputError, match="duplicate record key"):
        read_labels(_csv(tmp_path / "b.csv", "source,record_id,ucid\ncrm,1,U\ncrm,1,V\n"), "ucid")
    with pytest.raises(EvaluationInputError, match="empty file"):
        read_labels(_csv(tmp_path / "c.csv", ""), "ucid")
    with pytest.raises(EvaluationInputError, match="cannot read"):
        read_labels(tmp_path / "nope.csv", "ucid")
    with pytest.raises(EvaluationInputError, match=":2: expected 3 fields"):
        read_labels(_csv(tmp_path / "d.csv", "source,record_id,ucid\ncrm,1\n"), "ucid")
    with pytest.raises(EvaluationInputError, match="empty source"):
        read_labels(_csv(tmp_path / "e.csv", "source,record_id,ucid\ncrm,,U\n"), "ucid")


def test_read_labels_accepts_extra_columns_in_any_order(tmp_path: Path) -> None:
    path = _csv(tmp_path / "a.csv", "ucid,extra,record_id,source\nU1,x,1,crm\nU1,y,2,web\n")
    assert read_labels(path, "ucid") == {("crm", "1"): "U1", ("web", "2"): "U1"}


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(evaluate_command)
    return app


def test_cli_json(tmp_path: Path, cli: typer.Typer) -> None:
    a = _csv(tmp_path / "a.csv", "source,record_id,ucid\ncrm,1,U1\ncrm,2,U1\nweb,9,U2\n")
    t = _csv(tmp_path / "t.csv", "source,record_id,person_id\ncrm,1,P1\ncrm,2,P1\nweb,9,P2\n")
    result = CliRunner().invoke(cli, ["--assignments", str(a), "--truth", str(t), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures == evaluate_files(a, t).as_dict()
    assert figures["pairwise_f1"] == 1.0 and figures["records"] == 3


def test_cli_table_and_loud_warning_for_missing_records(tmp_path: Path, cli: typer.Typer) -> None:
    a = _csv(tmp_path / "a.csv", "source,record_id,ucid\ncrm,1,U1\n")
    t = _csv(tmp_path / "t.csv", "source,record_id,person_id\ncrm,1,P1\ncrm,2,P1\n")
    result = CliRunner().invoke(cli, ["--assignments", str(a), "--truth", str(t)])
    assert result.exit_code == 0
    assert "pairwise" in result.output and "B-cubed" in result.output
    assert "WARNING" in result.output and "have no" in result.output


def test_cli_bad_input_exits_non_zero(tmp_path: Path, cli: typer.Typer) -> None:
    a = _csv(tmp_path / "a.csv", "source,record_id,ucid\ncrm,1,U1\ncrm,1,U2\n")
    t = _csv(tmp_path / "t.csv", "source,record_id,person_id\ncrm,1,P1\n")
    result = CliRunner().invoke(cli, ["--assignments", str(a), "--truth", str(t)])
    assert result.exit_code == 2
    assert "duplicate record key" in result.output
    good = _csv(tmp_path / "a2.csv", "source,record_id,ucid\ncrm,1,U1\n")
    bad_header = _csv(tmp_path / "t2.csv", "source,record_id,person\ncrm,1,P1\n")
    result = CliRunner().invoke(cli, ["--assignments", str(good), "--truth", str(bad_header)])
    assert result.exit_code == 2 and "missing column" in result.output


def test_files_duplicate_keys_are_caught_on_both_sides_of_the_truth(tmp_path: Path) -> None:
    t = _csv(tmp_path / "t.csv", "source,record_id,person_id\ncrm,1,P1\n")
    twice_known = _csv(tmp_path / "a.csv", "source,record_id,ucid\ncrm,1,U1\ncrm,1,U1\n")
    twice_unknown = _csv(tmp_path / "b.csv", "source,record_id,ucid\nweb,7,U1\nweb,7,U1\n")
    for a in (twice_known, twice_unknown):
        with pytest.raises(EvaluationInputError, match=r":3: duplicate record key"):
            evaluate_files(a, t)
    dup_truth = _csv(tmp_path / "t2.csv", "source,record_id,person_id\ncrm,1,P1\ncrm,1,P2\n")
    with pytest.raises(EvaluationInputError, match=r"t2.csv:3: duplicate"):
        evaluate_files(twice_unknown, dup_truth)


def test_files_and_mappings_agree(tmp_path: Path) -> None:
    a = _csv(tmp_path / "a.csv", "source,record_id,ucid\ncrm,1,U1\ncrm,2,U1\nweb,9,U1\nweb,8,U3\n")
    t = _csv(tmp_path / "t.csv", "source,record_id,person_id\ncrm,1,P1\ncrm,2,P1\nweb,9,P2\napp,5,P2\n")
    from_files = evaluate_files(a, t)
    assert from_files == evaluate(read_labels(a, "ucid"), read_labels(t, "person_id"))
    assert from_files.records_missing_from_assignments == 1 and from_files.records_missing_from_truth == 1
    assert from_files.records == 5
