"""``ucid sources check``: definitions and landing files checked without Spark; ``ucid resolve
--local`` refuses a run that read no record; docs/sources.md lists every definition field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from identity.rules import load_policy
from identity.sources import IdentifierColumn, SourceDefinition, load_source
from ucid import sources_doc
from ucid.cli import app
from ucid.sources_check import check_source, check_sources

REPO = Path(__file__).resolve().parents[2]

SOURCES = {
    "crm.yaml": """\
name: crm
location: crm
format: csv
record_id: change_id
priority: 1
event_time: updated_at
identifiers:
  - {column: crm_id, type: crm_id}
  - {column: email, type: email}
attributes: {first_name: first_name}
required: [change_id, updated_at]
""",
    "loyalty.yaml": """\
name: loyalty
location: loyalty
format: jsonl
record_id: loyalty_id
priority: 2
identifiers:
  - {column: loyalty_id, type: loyalty_id}
  - {column: email, type: email}
attributes: {loyalty_tier: tier}
""",
    "billing.yaml": """\
name: billing
location: billing
format: parquet
record_id: billing_account
priority: 3
identifiers:
  - {column: billing_account, type: billing_account}
  - {column: crm_id, type: crm_id}
measures: {balance_due: balance}
""",
}
CRM_CSV = ("change_id,crm_id,email,first_name,updated_at\n"
           "CHG1,C1,ann@x.com,Ann,2026-01-01\nCHG2,C2,bob@y.org,Bob,2026-01-01\n")


@pytest.fixture
def world(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """``(conf dir, landing dir)``: three good sources, one per format, and their files;
    UCID_CONF_DIR and UCID_LANDING_DIR point at them."""
    conf, landing = tmp_path / "conf", tmp_path / "landing"
    (conf / "sources").mkdir(parents=True)
    shutil.copy(REPO / "conf" / "rules.yaml", conf / "rules.yaml")
    for name, text in SOURCES.items():
        (conf / "sources" / name).write_text(text)
    _write(landing / "crm" / "2026-01-01" / "part-0.csv", CRM_CSV)
    _write(landing / "crm" / "2026-01-02" / "part-0.csv", CRM_CSV.replace("CHG", "CHH"))
    lines = [{"loyalty_id": 7001, "email": "ANN@X.COM", "tier": "gold"}, {"loyalty_id": "7002", "email": None}]
    _write(landing / "loyalty" / "d1" / "part-0.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    (landing / "billing" / "d1").mkdir(parents=True)
    pq.write_table(pa.table({"billing_account": ["8001", "8002"], "crm_id": ["C2", None], "balance": [1.5, 0.0]}),
                   landing / "billing" / "d1" / "part-0.parquet")
    monkeypatch.setenv("UCID_CONF_DIR", str(conf))
    monkeypatch.setenv("UCID_LANDING_DIR", str(landing))
    monkeypatch.setenv("UCID_HOME", str(tmp_path / "home"))
    return conf, landing


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _check(*args: str):
    return CliRunner().invoke(app, ["sources", "check", *args])


def _definition(conf: Path, name: str) -> SourceDefinition:
    policy = load_policy(conf / "rules.yaml")
    return load_source(conf / "sources" / name, set(policy.types))


def test_a_good_landing_folder_passes(world) -> None:
    _, landing = world
    result = _check("--local", str(landing))
    assert result.exit_code == 0, result.output
    assert "3/3 sources ok" in result.output and "FAILED" not in result.output
    # without --local, the configured landing dir (UCID_LANDING_DIR) is checked
    result = _check()
    assert result.exit_code == 0, result.output
    assert str(landing) in result.output


def test_files_and_sampled_rows_are_counted(world) -> None:
    conf, landing = world
    policy = load_policy(conf / "rules.yaml")
    reports = {r.source: r for r in check_sources(conf / "sources", policy.types, landing)}
    assert {n: (r.files, r.rows, r.ok) for n, r in reports.items()} == {
        "billing": (1, 2, True), "crm": (2, 4, True), "loyalty": (1, 2, True)}


def test_a_location_without_files_fails_with_the_pattern(world) -> None:
    _, landing = world
    shutil.rmtree(landing / "loyalty")
    result = _check("--local", str(landing))
    assert result.exit_code == 1
    assert f"location 'loyalty/**/*.{{jsonl,json,ndjson}}' matches no file under {landing}" in result.output
    assert "2/3 sources ok" in result.output and "failed: loyalty" in result.output


def test_a_missing_column_fails_naming_the_column_and_the_file(world) -> None:
    _, landing = world
    _write(landing / "crm" / "2026-01-02" / "part-0.csv", CRM_CSV.replace(",email,", ",e_mail,"))
    result = _check("--local", str(landing))
    assert result.exit_code == 1
    assert "column 'email' is missing from crm/2026-01-02/part-0.csv" in result.output
    assert "crm/2026-01-02/part-0.csv has the columns: change_id, crm_id, e_mail" in result.output
    assert "2/3 sources ok" in result.output


def test_a_missing_attribute_column_fails_in_parquet_and_is_a_note_in_json_lines(world) -> None:
    conf, landing = world
    pq.write_table(pa.table({"billing_account": ["8003"], "crm_id": ["C3"]}),
                   landing / "billing" / "d1" / "part-1.parquet")
    billing = check_source(landing, _definition(conf, "billing.yaml"), conf / "sources" / "billing.yaml")
    assert billing.problems == ["column 'balance' is missing from billing/d1/part-1.parquet"]
    assert billing.rows == 3

    _write(landing / "loyalty" / "d1" / "part-0.jsonl", json.dumps({"loyalty_id": "7003", "email": "a@b.org"}) + "\n")
    loyalty = check_source(landing, _definition(conf, "loyalty.yaml"), conf / "sources" / "loyalty.yaml")
    assert loyalty.ok, loyalty.problems
    assert any("tier" in note and "not seen in the first 100 lines" in note for note in loyalty.notes)

    _write(landing / "loyalty" / "d1" / "part-0.jsonl", json.dumps({"loyalty_id": "7003", "mail": "a@b.org"}) + "\n")
    loyalty = check_source(landing, _definition(conf, "loyalty.yaml"), conf / "sources" / "loyalty.yaml")
    assert loyalty.problems == ["column 'email' is not in the first 100 lines of loyalty/d1/part-0.jsonl"]


def test_unusable_files_are_reported_with_the_reason(world) -> None:
    conf, landing = world
    crm = _definition(conf, "crm.yaml")
    _write(landing / "crm" / "2026-01-03" / "part-0.csv", "")
    _write(landing / "crm" / "2026-01-04" / "part-0.csv", CRM_CSV.splitlines()[0] + "\n")
    _write(landing / "crm" / "2026-01-05" / "part-0.csv", "")
    (landing / "crm" / "2026-01-06").mkdir()
    (landing / "crm" / "2026-01-06" / "part-0.csv").write_bytes(b"change_id,crm_id,email,first_name,updated_at\n"
                                                                b"CHG9,C9,z@x.com,Ren\xe9e,2026-01-06\n")
    problems = check_source(landing, crm, conf / "sources" / "crm.yaml").problems
    assert problems == [
        "crm/2026-01-03/part-0.csv (and 1 more file): empty file",
        "crm/2026-01-04/part-0.csv: no data rows (header only)",
        "crm/2026-01-06/part-0.csv: not UTF-8 text",
    ]
    loyalty = _definition(conf, "loyalty.yaml")
    _write(landing / "loyalty" / "d2" / "part-0.jsonl", '{"loyalty_id": "1"}\n{"loyalty_id": \n')
    problems = check_source(landing, loyalty, conf / "sources" / "loyalty.yaml").problems
    assert len(problems) == 1 and problems[0].startswith("loyalty/d2/part-0.jsonl: line 2: not valid JSON")
    _write(landing / "billing" / "d1" / "part-0.parquet", "not parquet")
    billing = check_source(landing, _definition(conf, "billing.yaml"), conf / "sources" / "billing.yaml")
    assert len(billing.problems) == 1
    assert billing.problems[0].startswith("billing/d1/part-0.parquet: unreadable parquet")


def test_a_record_id_empty_in_every_row_is_a_problem(world) -> None:
    conf, landing = world
    text = "change_id,crm_id,email,first_name,updated_at\n,C1,ann@x.com,Ann,2026-01-01\n"
    for day in ("2026-01-01", "2026-01-02"):
        _write(landing / "crm" / day / "part-0.csv", text)
    report = check_source(landing, _definition(conf, "crm.yaml"), conf / "sources" / "crm.yaml")
    assert report.problems == ["column 'change_id' (the record id) is empty in all 2 sampled rows: every row "
                               "would be skipped"]


def test_an_unknown_identifier_type_fails_naming_the_known_types(world) -> None:
    conf, landing = world
    (conf / "sources" / "crm.yaml").write_text(SOURCES["crm.yaml"].replace("type: email", "type: e_mail"))
    known = ", ".join(sorted(load_policy(conf / "rules.yaml").types))
    result = _check("--local", str(landing))
    assert result.exit_code == 1
    assert "field 'identifiers.email.type': unknown identifier type 'e_mail'" in result.output
    assert f"(known: {known})" in result.output
    assert str(conf / "sources" / "crm.yaml") in result.output


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (("priority: 1", "priority: 0"), "priority", "greater than or equal to 1"),
        (("record_id: change_id\n", "record_id: change_id\nrecord_key: x\n"), "record_key", "Extra inputs"),
        (("format: csv", "format: xls"), "format", "'csv', 'jsonl', 'parquet' or 'delta'"),
    ],
)
def test_a_bad_field_fails_naming_the_file_and_the_field(world, change, field, problem) -> None:
    conf, landing = world
    path = conf / "sources" / "crm.yaml"
    path.write_text(SOURCES["crm.yaml"].replace(*change))
    result = _check("--local", str(landing))
    assert result.exit_code == 1
    assert f"{path}: field '{field}': " in result.output and problem in result.output
    assert "2/3 sources ok" in result.output  # the other sources are still checked
    # a definition that does not load is reported even when other sources are asked for
    only = _check("--local", str(landing), "--source", "billing")
    assert only.exit_code == 1 and f"field '{field}'" in only.output and "1/2 sources ok" in only.output


def test_source_option_checks_only_the_named_sources(world) -> None:
    _, landing = world
    shutil.rmtree(landing / "loyalty")
    result = _check("--local", str(landing), "--source", "crm", "--source", "billing")
    assert result.exit_code == 0, result.output
    assert "2/2 sources ok" in result.output and "loyalty" not in result.output
    unknown = _check("--local", str(landing), "--source", "crmx")
    assert unknown.exit_code == 2 and "no source named crmx" in unknown.output


def test_duplicate_source_names_are_a_problem(world) -> None:
    conf, landing = world
    (conf / "sources" / "crm2.yaml").write_text(SOURCES["crm.yaml"])
    result = _check("--local", str(landing))
    assert result.exit_code == 1
    assert f"field 'name': duplicate source name 'crm' (also in {conf / 'sources' / 'crm.yaml'})" in result.output


def _delta_table(folder: Path, columns: list[str]) -> None:
    schema = {"type": "struct", "fields": [{"name": c, "type": "string", "nullable": True, "metadata": {}}
                                           for c in columns]}
    log = folder / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json").write_text(
        json.dumps({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}) + "\n"
        + json.dumps({"metaData": {"id": "x", "schemaString": json.dumps(schema), "partitionColumns": []}}) + "\n")
    (log / "00000000000000000001.json").write_text(json.dumps({"add": {"path": "part-1.parquet"}}) + "\n")


def test_delta_sources_check_the_table_and_its_schema(world) -> None:
    conf, landing = world
    partners = SourceDefinition(name="partners", location="partners/customers", format="delta", record_id="pid",
                                priority=5, identifiers=[IdentifierColumn(column="email", type="email")],
                                attributes={"city": "city"})
    missing = check_source(landing, partners, conf / "sources" / "partners.yaml")
    assert missing.problems == [f"location 'partners/customers' is not a Delta table under {landing} (no _delta_log)"]
    _delta_table(landing / "partners" / "customers", ["pid", "email"])
    report = check_source(landing, partners, conf / "sources" / "partners.yaml")
    assert report.problems == ["column 'city' is missing from partners/customers"] and report.rows is None
    local = check_source(landing, partners, conf / "sources" / "partners.yaml", local=True)
    assert any("not by `ucid resolve --local`" in p for p in local.problems)
    (landing / "partners" / "customers" / "_delta_log" / "00000000000000000000.json").unlink()  # checkpointed away
    unchecked = check_source(landing, partners, conf / "sources" / "partners.yaml")
    assert unchecked.ok and unchecked.notes == ["schema not checked: no JSON commit in _delta_log carries the "
                                                "table's metaData"]


def _resolve(data: Path, out: Path, *more: str):
    return CliRunner().invoke(app, ["resolve", "--local", str(data), "--out", str(out), *more])


def test_resolve_local_refuses_a_run_that_read_no_record(world, tmp_path: Path) -> None:
    _, landing = world
    out = tmp_path / "a.csv"
    assert _resolve(landing, out).exit_code == 0  # the good folder resolves
    empty = tmp_path / "empty"
    (empty / "crm").mkdir(parents=True)
    out.unlink()
    result = _resolve(empty, out)
    assert result.exit_code == 1
    assert f"no records read from {empty}" in result.output
    assert f"ucid sources check --local {empty}" in result.output
    assert not out.exists()


def test_resolve_local_refuses_when_every_row_is_skipped(world, tmp_path: Path) -> None:
    _, landing = world
    data = tmp_path / "blank"
    _write(data / "crm" / "d1" / "part-0.csv",
           "change_id,crm_id,email,first_name,updated_at\n,C1,a@b.org,A,2026-01-01\n")
    state = tmp_path / "state.json"
    result = _resolve(data, tmp_path / "a.csv", "--state", str(state))
    assert result.exit_code == 1
    assert f"no records read from {data}" in result.output and "1 rows skipped" in result.output
    assert not state.exists()  # the state is not rewritten by a run that read nothing


def test_docs_field_reference_is_generated_from_the_models() -> None:
    doc = sources_doc.DOC.read_text(encoding="utf-8")
    assert sources_doc.render(doc) == doc, "docs/sources.md is out of date: run python -m ucid.sources_doc"
    for model in (SourceDefinition, IdentifierColumn):
        for name, info in model.model_fields.items():
            assert f"\n| `{name}` |" in doc, f"{model.__name__}.{name} is not in docs/sources.md"
            assert info.description and info.examples, f"{model.__name__}.{name} needs a description and an example"


def test_the_reference_renders_types_defaults_and_constraints() -> None:
    rows = {row[0]: row for row in sources_doc.field_rows(SourceDefinition)}
    assert rows["`priority`"][1:4] == ("integer (>= 1, <= 1000)", "yes", "")
    assert rows["`kind`"][1:4] == ("one of `profile`, `event`", "no", "`profile`")
    assert rows["`event_types`"][1:5] == ("map of text to text", "no", "`{}`", "`{voice: call, chat: chat}`")
    assert rows["`event_time`"][1:4] == ("text or null", "no", "`null`")
    changed = sources_doc.render(sources_doc.DOC.read_text(encoding="utf-8").replace("| `priority` |", "| `prio` |"))
    assert "| `priority` |" in changed and "| `prio` |" not in changed
