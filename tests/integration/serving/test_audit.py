"""The audit trail (issue 16) against the published data set: every answered profile, timeline
and explain read is a row of ``audit_by_ucid`` (real Cassandra), refused calls are none, and
``ucid audit`` prints the same rows."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
BAD_KEY = "ucid_0123456789abcdef_" + "x" * 43
VIA = re.compile(r"ucid|identifier:[a-z_]+(,[a-z_]+)?")


@pytest.fixture(scope="module")
def audit_key(cql_session, serving_data, stack) -> tuple[str, str, str]:
    """A key of this module's own, ``(key id, name, token)``: its rows are exactly this module's reads
    (the other serving tests read some of the same customers with the suite's keys)."""
    from infra.store import Store
    from serving import keys

    store = Store(cql_session, stack.cassandra.model_copy(update={"keyspace": serving_data.keyspace}))
    record, token = keys.create(store, "it-audit", ["profile:read", "explain"])
    return record.key_id, record.name, token


def _rows(cql_session, ks: str, ucid: str) -> list:
    """The audit rows of ``ucid`` as Cassandra keeps them (newest first by the clustering order)."""
    return list(cql_session.execute(
        f"SELECT ucid, at, action, key_id, key_name, via, requested_ucid FROM {ks}.audit_by_ucid WHERE ucid = %s",
        (ucid,)))


def _all_rows(cql_session, ks: str) -> list:
    return list(cql_session.execute(f"SELECT ucid, at, key_id, via FROM {ks}.audit_by_ucid", timeout=60))


def _two_customers(serving_data):
    """Two sampled identifiers of two different customers (no test changes sampled customers)."""
    first = serving_data.sample[0]
    second = next(s for s in serving_data.sample if s[3] != first[3])
    return first, second


def test_answered_reads_are_audited_newest_first_and_refused_ones_not(client, serving_data, cql_session, audit_key,
                                                                      api_keys):
    from cassandra.util import unix_time_from_uuid1

    ks = serving_data.keyspace
    key_id, key_name, token = audit_key
    headers = {"X-API-Key": token}
    (t1, raw1, v1, u1), (t2, raw2, v2, u2) = _two_customers(serving_data)
    (at, av), (bt, bv), _ = serving_data.explain_pair
    u3 = client.get("/v1/resolve", params={"type": at, "value": av}).json()["ucid"]  # resolve: no row
    before = {u: len(_rows(cql_session, ks, u)) for u in (u1, u2, u3)}

    expected = []  # (ucid, action, via) in request order
    r = client.get(f"/v1/profiles/{u1}", headers=headers)
    assert r.status_code == 200, r.text
    expected.append((u1, "profile.read", "ucid"))
    r = client.get("/v1/profiles/by-identifier", params={"type": t2, "value": raw2}, headers=headers)
    assert r.status_code == 200, r.text
    expected.append((u2, "profile.read", f"identifier:{t2}"))
    r = client.get(f"/v1/profiles/{u1}/events", params={"limit": 3}, headers=headers)
    assert r.status_code == 200, r.text
    expected.append((u1, "profile.events", "ucid"))
    r = client.get("/v1/explain", params={"a_type": t1, "a_value": raw1, "b_type": t2, "b_value": raw2},
                   headers=headers)
    assert r.status_code == 200 and r.json()["same_customer"] is False, r.text
    expected += [(u1, "explain", f"identifier:{t1}"), (u2, "explain", f"identifier:{t2}")]
    r = client.get("/v1/explain", params={"a_type": at, "a_value": av, "b_type": bt, "b_value": bv}, headers=headers)
    assert r.status_code == 200 and r.json()["same_customer"] is True, r.text
    expected.append((u3, "explain", "identifier:" + ",".join(dict.fromkeys((at, bt)))))  # one customer: one row

    # refused calls: 404 (unknown UCID, unknown identifier), 401 (bad key), 403 (no scope), 422
    unknown = "U" + "0" * 20
    assert client.get(f"/v1/profiles/{unknown}", headers=headers).status_code == 404
    assert client.get(f"/v1/profiles/{unknown}/events", headers=headers).status_code == 404
    assert client.get("/v1/profiles/by-identifier", params={"type": "crm_id", "value": "C000000000"},
                      headers=headers).status_code == 404
    assert client.get(f"/v1/profiles/{u1}", headers={"X-API-Key": BAD_KEY}).status_code == 401
    assert client.get(f"/v1/profiles/{u1}", headers={"X-API-Key": api_keys["resolve"]}).status_code == 403
    assert client.get(f"/v1/profiles/{u1}/events", params={"cursor": "!!nope"}, headers=headers).status_code == 422
    one_unknown = {"a_type": t1, "a_value": raw1, "b_type": "crm_id", "b_value": "C000000000"}
    assert client.get("/v1/explain", params=one_unknown, headers=headers).status_code == 404

    mine = [r for r in _all_rows(cql_session, ks) if r.key_id == key_id]
    assert len(mine) == len(expected)  # nothing for the refused calls, nothing for the resolve
    assert not _rows(cql_session, ks, unknown)
    for ucid in {u for u, _, _ in expected}:
        rows = _rows(cql_session, ks, ucid)
        assert len(rows) == before[ucid] + sum(1 for u, _, _ in expected if u == ucid)  # no other key's row
        own = [r for r in rows if r.key_id == key_id]
        assert [(r.ucid, r.action, r.via) for r in own] == [e for e in reversed(expected) if e[0] == ucid]
        assert all(r.key_name == key_name and r.requested_ucid is None for r in own)
        times = [unix_time_from_uuid1(r.at) for r in rows]
        assert times == sorted(times, reverse=True)  # newest first
    # the trail holds no identifier value, raw or normalized: its text columns are a UCID, an
    # action, a key, and `via` naming at most identifier types
    rows = [r for u in {u for u, _, _ in expected} for r in _rows(cql_session, ks, u)]
    assert all(VIA.fullmatch(r.via) for r in rows), {r.via for r in rows}
    text = " ".join(f"{r.ucid} {r.action} {r.key_name} {r.via} {r.requested_ucid}" for r in rows).lower()
    for value in (raw1, v1, raw2, v2, av, bv):
        assert value.lower() not in text, value

    # `ucid audit --ucid U --json` prints the same rows, newest first
    printed = _cli(serving_data, "--ucid", u1, "--json")
    rows = _rows(cql_session, ks, u1)
    assert [(p["ucid"], p["id"], p["action"], p["key_id"], p["key_name"], p["via"], p["requested_ucid"])
            for p in printed] == [(r.ucid, str(r.at), r.action, r.key_id, r.key_name, r.via, r.requested_ucid)
                                  for r in rows]
    assert all(p["at"].endswith("Z") for p in printed)
    assert _cli(serving_data, "--ucid", u1, "--json", "--limit", "1") == printed[:1]


def _suite_env(world) -> dict[str, str]:
    """``suite_env`` of the root integration conftest (loaded already; not importable by name)."""
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if path.endswith("tests/integration/conftest.py") and hasattr(module, "suite_env"):
            return module.suite_env(world)
    raise RuntimeError("tests/integration/conftest.py is not loaded")


def _cli(serving_data, *args: str) -> list[dict]:
    """``ucid audit ARGS`` in a subprocess, in the suite's keyspace; its JSON output."""
    done = subprocess.run([sys.executable, "-m", "ucid.cli", "audit", *args], env=_suite_env(serving_data.settings),
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_merged_away_ucid_is_audited_as_its_survivor_with_the_ucid_asked_for(client, serving_data, cql_session,
                                                                                audit_key):
    ks = serving_data.keyspace
    key_id, key_name, token = audit_key
    alias, survivor = serving_data.alias, serving_data.survivor
    for path, action in ((f"/v1/profiles/{alias}", "profile.read"), (f"/v1/profiles/{alias}/events", "profile.events")):
        r = client.get(path, headers={"X-API-Key": token})
        assert r.status_code == 200, r.text
        newest = next(row for row in _rows(cql_session, ks, survivor) if row.key_id == key_id)
        assert (newest.ucid, newest.action, newest.via, newest.requested_ucid, newest.key_name) == (
            survivor, action, "ucid", alias, key_name)
    assert not [row for row in _rows(cql_session, ks, alias) if row.key_id == key_id]  # under the survivor only


def test_a_keyspace_without_the_audit_table_refuses_the_audit_write(stack, cql_session, serving_data, tmp_path):
    """Migrations 001..006 only: the store prepares its reads, not the audit write, and the write
    raises ``MissingTable`` (the API's 503), never succeeds silently."""
    from infra import schema
    from infra.settings import ServingSettings
    from infra.store.aio import AsyncStore, MissingTable

    folder = tmp_path / "cql"
    folder.mkdir()
    for migration in schema.migrations()[:6]:
        shutil.copy(migration.path, folder / migration.path.name)
    settings = stack.cassandra.model_copy(update={"keyspace": f"{serving_data.keyspace}_noaudit"})
    cql_session.execute(f"DROP KEYSPACE IF EXISTS {settings.keyspace}", timeout=120)
    try:
        schema.apply(cql_session, settings, folder)
        store = AsyncStore.connect(settings, ServingSettings())
        try:
            assert "get_profile" in store.prepared and "put_audit" not in store.prepared
            with pytest.raises(MissingTable, match="put_audit"):
                asyncio.run(store.record_access("U" + "0" * 20, "profile.read", "k", "n", "ucid", None))
        finally:
            store.close()
    finally:
        cql_session.execute(f"DROP KEYSPACE IF EXISTS {settings.keyspace}", timeout=120)
