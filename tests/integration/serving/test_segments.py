"""Computed traits and segments on the published data set of ``serving_data`` (the real batch,
profiles stage included, published; the real speed layer running): the API's segment list and
member pages, a customer's segments, and ``ucid segments export`` against them.

* every page of ``/v1/segments/{name}/members`` (small pages) returns each member once, and the
  pages hold exactly the segment's members (read straight from Cassandra) and as many as the
  listed count;
* ``ucid segments export`` writes the same UCIDs (CSV and Parquet), with the chosen traits as the
  customers' ``/v1/profiles/{ucid}/segments`` show them;
* an unknown segment is 404, a cursor the API did not issue 422, a key without
  ``segments:read`` 403.
"""

from __future__ import annotations

import csv
import subprocess

import pytest

pytestmark = pytest.mark.integration


def _pages(client, name: str, limit: int) -> list[str]:
    out, cursor = [], None
    for _ in range(10_000):
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = client.get(f"/v1/segments/{name}/members", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["segment"] == name and len(body["members"]) <= limit
        out += [m["ucid"] for m in body["members"]]
        cursor = body.get("nextCursor")
        if not cursor:
            return out
    raise AssertionError("the pages never ended")


@pytest.fixture(scope="module")
def listed(client) -> dict[str, int]:
    r = client.get("/v1/segments")
    assert r.status_code == 200, r.text
    return {s["name"]: s["members"] for s in r.json()["segments"]}


def test_segments_are_listed_with_counts(client, listed, serving_data) -> None:
    from identity.segments import load_definitions

    defs = load_definitions(serving_data.settings.conf_dir / "segments.yaml")
    assert set(listed) == set(defs.segments)
    populated = [n for n, c in listed.items() if c > 0]
    assert len(populated) >= 2, f"segments with members on the test data: {listed}"
    everyone = len(serving_data.published.minted)
    assert all(c < everyone for c in listed.values()), f"a segment holds everyone: {listed} of {everyone}"


def test_member_pages_return_every_member_once(client, listed, serving_data, cql_session) -> None:
    ks = serving_data.keyspace
    for name, count in listed.items():
        paged = _pages(client, name, limit=7)
        assert len(paged) == len(set(paged)), f"{name}: a member returned twice"
        stored = {r.ucid for r in cql_session.execute(
            f"SELECT ucid, member FROM {ks}.segment_members WHERE segment = %s", (name,)) if r.member}
        assert set(paged) == stored, f"{name}: pages {len(paged)}, stored {len(stored)}"
        assert len(paged) == count == len(_pages(client, name, limit=200))  # 200: the page maximum


def test_export_writes_every_member_with_traits(client, listed, serving_data, tmp_path) -> None:
    import pyarrow.parquet as pq

    from .conftest import REPO, UCID, suite_env

    name = max(listed, key=lambda n: listed[n])
    paged = _pages(client, name, limit=50)
    env = suite_env(serving_data.settings)
    out = tmp_path / "members.csv"
    done = subprocess.run([*UCID, "segments", "export", name, "--out", str(out), "--traits",
                           "lifetime_spend,preferred_channel"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["ucid"] for r in rows] == paged  # every member once, in the API's order
    for row in rows[:5]:  # the traits as the customer's own view has them
        mine = client.get(f"/v1/profiles/{row['ucid']}/segments").json()
        assert name in {s["name"] for s in mine["segments"]}
        assert row["preferred_channel"] == (mine["traits"]["preferred_channel"] or "")
        assert float(row["lifetime_spend"]) == mine["traits"]["lifetime_spend"]
    parquet = tmp_path / "members.parquet"
    done = subprocess.run([*UCID, "segments", "export", name, "--out", str(parquet), "--traits", "orders"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    table = pq.read_table(parquet)
    assert table.column_names == ["ucid", "orders"] and table.column("ucid").to_pylist() == paged
    listing = subprocess.run([*UCID, "segments", "list"], env=env, cwd=REPO, capture_output=True, text=True,
                             timeout=120)
    assert listing.returncode == 0 and name in listing.stdout, listing.stdout + listing.stderr


def test_the_profile_carries_traits_and_segments(client, listed) -> None:
    name = max(listed, key=lambda n: listed[n])
    ucid = _pages(client, name, limit=1)[0]
    doc = client.get(f"/v1/profiles/{ucid}").json()
    assert name in {s["name"] for s in doc["segments"]}
    assert "lifetime_spend" in doc["computedTraits"] and "lifetime_spend" in doc["traits"]


def test_errors(client, api_keys) -> None:
    r = client.get("/v1/segments/no_such_segment/members")
    assert r.status_code == 404 and "no segment" in r.json()["detail"]
    for bad in ("garbage", "bTF8", "bTF8VTAwMA", "é"):
        r = client.get("/v1/segments/high_value/members", params={"cursor": bad})
        assert r.status_code == 422, (bad, r.status_code, r.text)
    for limit in (0, 201):  # 200: UCID_SERVING_EVENTS_PAGE_MAX
        r = client.get("/v1/segments/high_value/members", params={"limit": limit})
        assert r.status_code == 422, (limit, r.text)
    r = client.get("/v1/segments", headers={"X-API-Key": api_keys["resolve"]})
    assert r.status_code == 403
    r = client.get("/v1/profiles/U00000000000000000000/segments")
    assert r.status_code == 404
