"""The audit trail's pure parts: ``via``, the migration and statements, the CLI's argument check
and row format (no server needed; the API's audit writes are tested in test_app.py)."""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime

import pytest
from cassandra.util import uuid_from_time
from typer.testing import CliRunner

from infra import schema
from infra.store.aio import API_WRITES
from infra.store.statements import STATEMENTS, table_of
from serving import audit
from ucid.cli import app
from ucid.commands.audit import check_ucid, entry


def test_via_names_the_identifier_type_only():
    assert audit.VIA_UCID == "ucid"
    assert audit.via_identifier("email") == "identifier:email"
    assert audit.via_identifier("crm_id", "phone") == "identifier:crm_id,phone"
    assert audit.via_identifier("email", "email") == "identifier:email"  # one type, once
    with pytest.raises(ValueError):
        audit.via_identifier()


def test_the_audit_table_is_partitioned_by_ucid_newest_first():
    migration = next(m for m in schema.migrations() if m.name == "audit")
    (create,) = migration.statements("ks_x")
    assert create.startswith("CREATE TABLE IF NOT EXISTS ks_x.audit_by_ucid (")
    assert "PRIMARY KEY ((ucid), at)" in create and "CLUSTERING ORDER BY (at DESC)" in create
    for column in ("at              timeuuid", "action", "key_id", "key_name", "via", "requested_ucid"):
        assert column in create


def test_the_code_only_inserts_into_the_audit_table():
    touching = {n: s for n, s in STATEMENTS.items() if table_of(n) == "audit_by_ucid"}
    assert set(touching) == {"put_audit", "get_audit"}
    assert touching["put_audit"].startswith("INSERT INTO") and "IF " not in touching["put_audit"]
    assert touching["get_audit"].startswith("SELECT") and touching["get_audit"].endswith("LIMIT ?")
    assert API_WRITES == ("put_audit",)  # the API's one write


@pytest.mark.parametrize("bad", ["nope", "u000Q14HAKJC65G9M758H", "U000Q14HAKJC65G9M758", "U000Q14HAKJC65G9M758HX",
                                 "U000Q14HAKJC65G9M75IL", "email:ann@x.org", ""])
def test_the_cli_refuses_a_malformed_ucid_with_exit_2_before_connecting(bad, monkeypatch):
    # a refused argument never reaches Cassandra: no server is needed for the answer
    monkeypatch.setenv("UCID_CASSANDRA_CONTACT_POINTS", '["192.0.2.1"]')
    result = CliRunner().invoke(app, ["audit", "--ucid", bad])
    assert result.exit_code == 2, result.output
    assert "is not a UCID" in result.output


def test_check_ucid_keeps_a_well_formed_one():
    assert check_ucid(" U000Q14HAKJC65G9M758H ") == "U000Q14HAKJC65G9M758H"


def test_an_audit_row_prints_its_time_in_utc():
    Row = namedtuple("Row", "ucid at action key_id key_name via requested_ucid")
    at = uuid_from_time(datetime(2026, 11, 30, 17, 5, 1, 250_000, tzinfo=UTC).timestamp())
    row = Row("U" + "B" * 20, at, "profile.read", "0123456789abcdef", "web", "ucid", "U" + "A" * 20)
    assert entry(row) == {"ucid": "U" + "B" * 20, "at": "2026-11-30T17:05:01.250Z", "id": str(at),
                          "action": "profile.read", "key_id": "0123456789abcdef", "key_name": "web",
                          "via": "ucid", "requested_ucid": "U" + "A" * 20}
