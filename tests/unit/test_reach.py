"""ucid.reach: the recall ceiling of exact-match rules, on hand-computed examples and the CLI."""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from identity.records import Record
from identity.rules import load_policy
from ucid.commands.evaluate import evaluate as evaluate_command
from ucid.reach import reach

REPO = Path(__file__).resolve().parents[2]
POLICY = load_policy(REPO / "conf" / "rules.yaml")

# person X: r1 and r2 share an e-mail; r3 is an anonymous cookie X never logged in with
# person Y: r4 and r5 carry the same crm id; person Z: r6 carries the junk e-mail X's r2 also has
RECORDS = [
    Record("s", "r1", (("crm_id", "C1"), ("email", "Ann@X.com"))),
    Record("s", "r2", (("email", "ann@x.com"), ("phone", "+14155550101"))),
    Record("s", "r3", (("cookie_id", "k1"),)),
    Record("s", "r4", (("crm_id", "C2"),)),
    Record("s", "r5", (("crm_id", " C2 "),)),
]
TRUTH = {("s", "r1"): "X", ("s", "r2"): "X", ("s", "r3"): "X", ("s", "r4"): "Y", ("s", "r5"): "Y"}


def test_missed_pairs_split_into_unreachable_and_refused() -> None:
    assigned = {("s", "r1"): "U1", ("s", "r2"): "U1", ("s", "r3"): "U3", ("s", "r4"): "U4", ("s", "r5"): "U5"}
    r = reach(RECORDS, POLICY, TRUTH, assigned)
    # true pairs: X 3 + Y 1; reachable: X {r1,r2} 1 + Y {r4,r5} 1; found: (r1,r2)
    assert (r.true_pairs, r.reachable_pairs, r.found_pairs, r.found_reachable_pairs) == (4, 2, 1, 1)
    assert (r.missed_pairs, r.missed_unreachable_pairs, r.missed_reachable_pairs) == (3, 2, 1)
    assert r.pairwise_recall_ceiling == 0.5
    # B-cubed ceiling: r1, r2 see 2 of 3; r3 1 of 3; r4, r5 2 of 2 -> (2/3+2/3+1/3+1+1)/5
    assert r.bcubed_recall_ceiling == pytest.approx(float(Fraction(11, 15)))
    assert (r.largest_cluster_identifiers, r.largest_cluster_identifiers_ucid) == (3, "U1")
    assert (r.records, r.records_read) == (5, 5)


def test_an_unreachable_pair_found_through_another_path_is_not_missed() -> None:
    assigned = {("s", "r1"): "U1", ("s", "r2"): "U1", ("s", "r3"): "U1", ("s", "r4"): "U4", ("s", "r5"): "U4"}
    r = reach(RECORDS, POLICY, TRUTH, assigned)
    assert (r.found_pairs, r.found_reachable_pairs, r.missed_pairs) == (4, 2, 0)
    assert r.missed_unreachable_pairs == r.missed_reachable_pairs == 0


def test_blocked_values_and_other_persons_records_never_make_a_chain() -> None:
    records = [
        Record("s", "a", (("email", "test@test.com"), ("cookie_id", "k1"))),
        Record("s", "b", (("email", "test@test.com"), ("cookie_id", "k2"))),
        Record("s", "c", (("cookie_id", "k1"), ("device_id", "d1"))),  # another person's record
        Record("s", "d", (("device_id", "d1"), ("cookie_id", "k2"))),
    ]
    truth = {("s", "a"): "P", ("s", "b"): "P", ("s", "c"): "Q", ("s", "d"): "P"}
    r = reach(records, POLICY, truth, {})
    # P's records a, b, d: a-b only through a blocked value, a-d only through Q's record c,
    # b-d through cookie k2: one reachable pair of three
    assert (r.true_pairs, r.reachable_pairs) == (3, 1)
    assert r.missed_unreachable_pairs == 2 and r.missed_reachable_pairs == 1


def test_a_truth_record_not_in_the_data_is_its_own_component() -> None:
    r = reach(RECORDS[:4], POLICY, TRUTH, {})
    assert (r.records, r.records_read, r.reachable_pairs) == (5, 4, 1)


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_cli_data_option_prints_the_split(tmp_path: Path) -> None:
    data, conf = tmp_path / "data", tmp_path / "sources"
    (data / "crm").mkdir(parents=True)
    conf.mkdir()
    (conf / "crm.yaml").write_text(
        "name: crm\nlocation: crm\nformat: csv\nrecord_id: id\npriority: 1\nidentifiers:\n"
        "  - {type: crm_id, column: crm}\n  - {type: email, column: email}\n"
    )
    _write(data / "crm" / "part-0.csv", ("id", "crm", "email"),
           [("1", "C1", "ann@corp.com"), ("2", "", "ann@corp.com"), ("3", "C9", ""), ("4", "C4", "")])
    truth = _write(tmp_path / "truth.csv", ("source", "record_id", "person_id"),
                   [("crm", "1", "P"), ("crm", "2", "P"), ("crm", "3", "P"), ("crm", "4", "Q")])
    assigned = _write(tmp_path / "a.csv", ("source", "record_id", "ucid"),
                      [("crm", "1", "U1"), ("crm", "2", "U2"), ("crm", "3", "U3"), ("crm", "4", "U4")])
    app = typer.Typer()
    app.command()(evaluate_command)
    app.command("noop")(lambda: None)
    args = ["evaluate", "-a", str(assigned), "-t", str(truth), "--data", str(data), "--sources", str(conf),
            "--rules", str(REPO / "conf" / "rules.yaml")]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["most_persons_in_one_ucid"] == 1
    assert doc["reach"]["missed_pairs"] == 3
    assert (doc["reach"]["missed_unreachable_pairs"], doc["reach"]["missed_reachable_pairs"]) == (2, 1)
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and "unreachable" in table.stdout and "0.3333" in table.stdout
    (conf / "crm.yaml").write_text((conf / "crm.yaml").read_text().replace("column: crm", "column: nope"))
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 2 and "nope" in bad.output
