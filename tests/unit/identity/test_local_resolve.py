"""The local resolve command: csv / jsonl / parquet sources split over folders -> assignment CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from identity.rules import load_policy
from identity.sources import load_sources
from ucid.commands.resolve import resolve as resolve_command
from ucid.local_resolve import (
    ASSIGNMENT_HEADER,
    LocalReadError,
    ReadStats,
    read_records,
    resolve_local,
)

REPO = Path(__file__).resolve().parents[3]

SOURCES = {
    "crm.yaml": """
name: crm
location: crm
format: csv
record_id: change_id
priority: 1
identifiers:
  - {column: crm_id, type: crm_id}
  - {column: email, type: email}
  - {column: phone, type: phone}
""",
    "loyalty.yaml": """
name: loyalty
location: loyalty
format: jsonl
record_id: loyalty_id
priority: 2
identifiers:
  - {column: loyalty_id, type: loyalty_id}
  - {column: email, type: email}
""",
    "billing.yaml": """
name: billing
location: billing
format: parquet
record_id: billing_account
priority: 3
identifiers:
  - {column: billing_account, type: billing_account}
  - {column: crm_id, type: crm_id}
""",
}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture()
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    conf = tmp_path / "sources"
    conf.mkdir()
    for name, text in SOURCES.items():
        (conf / name).write_text(text)
    data = tmp_path / "data"
    header = ["change_id", "crm_id", "email", "phone", "first_name"]
    write_csv(data / "crm" / "2026-01-01" / "part-00000.csv", header,
              [["CHG1", "C1", "Ann@x.com", "(415) 555-0132", "Ann"], ["CHG2", "C2", "test@test.com", "", "Bob"]])
    write_csv(data / "crm" / "2026-01-02" / "part-00000.csv", header,
              [["CHG3", "C1", " ann@x.com", "415.555.0132", "Ann"], ["", "C9", "", "", "no id"]])
    (data / "loyalty" / "d1").mkdir(parents=True)
    # ids as JSON numbers in one row, strings in another: the reader must cope
    (data / "loyalty" / "d1" / "part-00000.jsonl").write_text(
        json.dumps({"loyalty_id": 7001, "email": "ANN@X.COM"}) + "\n"
        + json.dumps({"loyalty_id": "7002", "email": None}) + "\n"
    )
    (data / "billing" / "d1").mkdir(parents=True)
    pq.write_table(pa.table({"billing_account": ["8001", "8002"], "crm_id": ["c2", None], "x": [1, 2]}),
                   data / "billing" / "d1" / "part-00000.parquet")
    (data / "billing" / "_delta_log").mkdir()  # metadata folders are skipped
    return data, conf


def test_resolve_local_reads_every_format_and_links(dataset) -> None:
    data, conf = dataset
    policy = load_policy(REPO / "conf" / "rules.yaml")
    result, stats = resolve_local(data, load_sources(conf, set(policy.types)), policy, now=1)
    a = result.assignment
    assert a[("crm", "CHG1")] == a[("crm", "CHG3")] == a[("loyalty", "7001")]
    assert a[("crm", "CHG2")] == a[("billing", "8001")] != a[("crm", "CHG1")]
    assert len({a[("loyalty", "7002")], a[("billing", "8002")], a[("crm", "CHG1")]}) == 3
    assert stats.skipped[("crm", "no record id")] == 1
    assert stats.files == {"crm": 2, "loyalty": 1, "billing": 1}
    assert [r.kind for r in result.rejections] == ["blocked"]


def test_missing_column_is_a_clear_error(dataset, tmp_path: Path) -> None:
    data, conf = dataset
    (conf / "crm.yaml").write_text(SOURCES["crm.yaml"].replace("column: phone", "column: mobile"))
    with pytest.raises(LocalReadError, match="mobile"):
        list(read_records(data, load_sources(conf), ReadStats()))


def test_command_writes_a_sorted_deterministic_csv(dataset, tmp_path: Path) -> None:
    data, conf = dataset
    app = typer.Typer()
    app.command()(resolve_command)
    app.command("noop")(lambda: None)  # two commands, so typer keeps the sub-command name
    runner = CliRunner()
    outs = []
    for n in range(2):
        out = tmp_path / f"a{n}.csv"
        args = ["resolve", "--local", str(data), "--out", str(out), "--sources", str(conf),
                "--rules", str(REPO / "conf" / "rules.yaml"), "--now", str(n)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    rows = list(csv.reader(outs[0].splitlines()))
    assert tuple(rows[0]) == ASSIGNMENT_HEADER
    assert rows[1:] == sorted(rows[1:], key=lambda r: (r[0], r[1]))
    assert len(rows) == 1 + 7


def test_command_keeps_ucids_stable_through_a_state_file(dataset, tmp_path: Path) -> None:
    data, conf = dataset
    app = typer.Typer()
    app.command()(resolve_command)
    app.command("noop")(lambda: None)
    state = tmp_path / "state.json"
    base = ["resolve", "--local", str(data), "--sources", str(conf), "--state", str(state)]
    assert CliRunner().invoke(app, [*base, "--out", str(tmp_path / "1.csv"), "--now", "1"]).exit_code == 0
    assert state.exists()
    assert CliRunner().invoke(app, [*base, "--out", str(tmp_path / "2.csv"), "--now", "2"]).exit_code == 0
    assert (tmp_path / "1.csv").read_text() == (tmp_path / "2.csv").read_text()


def test_command_reports_configuration_errors(dataset, tmp_path: Path) -> None:
    data, conf = dataset
    bad = tmp_path / "rules.yaml"
    bad.write_text("types: {email: {limit: -1}}\n")
    app = typer.Typer()
    app.command()(resolve_command)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(
        app, ["resolve", "--local", str(data), "--out", str(tmp_path / "o.csv"), "--rules", str(bad),
              "--sources", str(conf)]
    )
    assert result.exit_code == 2
