"""Erasure that survives replay (issue 16, part 1), on the real stack: Kafka, Cassandra, Spark + Delta.

A small generated data set goes through the batch (every source), the speed layer (the stream) and
the batch again (the stream's landing files); a customer present in every source and in the
stream is erased with ``ucid privacy erase --vacuum-now``. Then no Cassandra table, no Delta file
(every Parquet file on disk: the current versions and whatever time travel could still read), no
landing file and no API answer holds any of their identifiers, in any spelling the sources used.
Then the Kafka topic is replayed from offset 0 (the speed layer drops and counts their events) and
``batch run --full`` runs over the landing zone, plus an old copy of a source file (a re-delivered
extract): still nothing, and no UCID is minted that was not there before.

The suite has its own keyspace (``<base>_erase``), topics, lake and landing zone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .conftest import suite_env, suite_settings, truncate_keyspace, with_world

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UCID = [sys.executable, "-m", "ucid.cli"]
NOW = 1_770_000_000  # the first batch snapshot: after the generated days


def _values(cell, out: set[str]) -> None:
    """Every scalar of a cell (collections, structs and maps opened), as lower-case text."""
    if cell is None:
        return
    if isinstance(cell, dict):
        for k, v in cell.items():
            _values(k, out)
            _values(v, out)
    elif isinstance(cell, (list, tuple, set, frozenset)) or type(cell).__name__ in ("SortedSet", "OrderedMapSerializedKey"):
        for v in (cell.items() if hasattr(cell, "items") else cell):
            _values(v, out)
    else:
        out.add(str(cell).strip().lower())


def _cassandra_values(session, ks: str) -> dict[str, set[str]]:
    tables = [r.table_name for r in session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (ks,))]
    found = {}
    for table in tables:
        seen: set[str] = set()
        for row in session.execute(f"SELECT * FROM {ks}.{table}", timeout=120):
            for cell in row:
                _values(cell, seen)
        found[table] = seen
    return found


def _lake_values(lake: Path) -> dict[str, set[str]]:
    """Every Parquet file under the lake, by path: the current versions and all history left."""
    import pyarrow.parquet as pq

    found = {}
    for path in lake.rglob("*.parquet"):
        if "_delta_log" in path.parts:
            continue
        seen: set[str] = set()
        for row in pq.read_table(path).to_pylist():
            _values(row, seen)
        found[str(path.relative_to(lake))] = seen
    return found


def _landing_values(landing: Path) -> dict[str, set[str]]:
    """Every file of the landing zone but ``truth/``: the generator's answer key, which no source
    reads (a test artifact, not data ucid holds)."""
    return {str(p.relative_to(landing)): _file_values(p) for p in landing.rglob("*")
            if p.is_file() and p.relative_to(landing).parts[0] != "truth"}


def _file_values(path: Path) -> set[str]:
    import csv

    import pyarrow.parquet as pq

    if True:
        seen: set[str] = set()
        if path.suffix == ".parquet":
            for row in pq.read_table(path).to_pylist():
                _values(row, seen)
        elif path.suffix == ".csv":
            with path.open(newline="") as fh:
                for row in csv.reader(fh):
                    _values(row, seen)
        else:
            for line in path.read_text(errors="replace").splitlines():
                try:
                    _values(json.loads(line), seen)
                except ValueError:
                    _values(line, seen)
    return seen


def _holding(where: dict[str, set[str]], wanted: set[str]) -> dict[str, list[str]]:
    return {name: sorted(seen & wanted)[:5] for name, seen in where.items() if seen & wanted}


class World:
    """The suite's settings, lake, landing, Cassandra session and the helpers of the test."""

    def __init__(self, stack, spark, tmp: Path) -> None:
        from infra.cql import cluster

        prefix = f"{stack.kafka.topic_prefix}erase{uuid.uuid4().hex[:6]}."
        base = suite_settings(stack, "erase")
        self.settings = with_world(base, base.cassandra.keyspace, prefix).model_copy(
            update={"lake_dir": tmp / "lake", "landing_dir": tmp / "landing"})
        self.ks = self.settings.cassandra.keyspace
        self.tmp, self.spark, self.prefix = tmp, spark, prefix
        self.cluster = cluster(self.settings.cassandra, request_timeout_s=120)
        self.session = self.cluster.connect()
        truncate_keyspace(self.session, self.ks)
        self.env = suite_env(self.settings, UCID_LANDING_DIR=str(tmp / "landing"), UCID_LAKE_DIR=str(tmp / "lake"),
                             UCID_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")

    def ucid(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        done = subprocess.run([*UCID, *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"ucid {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr[-4000:]}"
        print(f"TIMING ucid {args[0]} {args[1]}: {time.monotonic()-t0:.1f}s", flush=True)
        return done

    def batch(self, now: int, full: bool = False, speed_state: bool = True) -> dict:
        from batch import run

        ctx = run.context(self.settings, now=now, full=full, run_id=f"erase-{uuid.uuid4().hex[:6]}",
                          report=lambda _m: None)
        ctx._spark = self.spark
        ctx.batch = self.settings.batch.model_copy(update={"speed_state": speed_state})
        for stage in ("ingest", "normalize", "resolve", "profiles", "publish"):
            t0 = time.monotonic()
            run.run_stage(ctx, stage)
            print(f"TIMING batch {stage}: {time.monotonic()-t0:.1f}s", flush=True)
        return ctx.stats

    def speed(self, group: str) -> str:
        """``ucid speed run`` from offset 0 until idle; its log (JSON lines)."""
        t0 = time.monotonic()
        done = subprocess.run([*UCID, "speed", "run", "--from-beginning", "--idle-exit", "8", "--group", group],
                              env={**self.env, "UCID_LOG_FORMAT": "json"}, cwd=REPO, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, f"ucid speed run exited {done.returncode}:\n{done.stderr[-4000:]}"
        print(f"TIMING speed: {time.monotonic()-t0:.1f}s", flush=True)
        return done.stdout + done.stderr

    def ucids(self) -> set[str]:
        return {r.ucid for r in self.session.execute(f"SELECT ucid FROM {self.ks}.ucids", timeout=60)}

    def close(self) -> None:
        self.cluster.shutdown()
        from tests.integration.speed.conftest import delete_topics

        delete_topics(self.settings, self.prefix)


@pytest.fixture(scope="module")
def world(stack, spark, tmp_path_factory):
    from tests.integration.speed.conftest import create_topics

    w = World(stack, spark, tmp_path_factory.mktemp("erase"))
    create_topics(w.settings, w.prefix)
    yield w
    w.close()


def _person(w: World) -> tuple[str, set[tuple[str, str]]]:
    """The live UCID with the most sources among those with stream records, and its identifiers
    (the serving store's and the lake's)."""
    from pyspark.sql import functions as F

    assignments = w.spark.read.format("delta").load(str(w.tmp / "lake" / "gold" / "assignments"))
    by_ucid = {r.ucid: set(r.sources) for r in assignments.groupBy("ucid").agg(
        F.collect_set("source").alias("sources")).collect()}
    live = {r.ucid for r in w.session.execute(f"SELECT ucid, status FROM {w.ks}.ucids") if r.status == "live"}
    candidates = sorted((u for u, s in by_ucid.items() if "stream" in s and u in live),
                        key=lambda u: (-len(by_ucid[u]), u))
    assert candidates, "no customer with stream records"
    ucid = candidates[0]
    assert len(by_ucid[ucid]) >= 5, (ucid, by_ucid[ucid])
    ids = {(r.id_type, r.id_value) for r in w.session.execute(
        f"SELECT id_type, id_value FROM {w.ks}.identifiers_by_ucid WHERE ucid = %s", (ucid,))}
    state = w.spark.read.format("delta").load(str(w.tmp / "lake" / "gold" / "identity_state"))
    ids |= {(r.id_type, r.id_value) for r in state.where(F.col("ucid") == ucid).collect()}
    return ucid, ids


def _spellings(w: World, ids: set[tuple[str, str]]) -> set[str]:
    """Every value to look for: the normalized identifiers and each raw spelling the landing
    files hold of them (lower-cased)."""
    from identity.rules import load_policy
    from identity.sources import load_sources
    from ucid.local_resolve import ReadStats, read_records

    policy = load_policy(w.settings.conf_dir / "rules.yaml")
    sources = load_sources(w.settings.conf_dir / "sources", known_types=set(policy.types))
    out = {v.lower() for _, v in ids}
    for record in read_records(w.tmp / "landing", sources, ReadStats()):
        for t, raw in record.identifiers:
            if raw is not None and (t, policy.types[t].accept(raw)[0]) in ids:
                out.add(str(raw).strip().lower())
    return out


def _api_answers(w: World, ucid: str, ids: set[tuple[str, str]]) -> list[tuple[str, int]]:
    """(what, status) of the API's answers about the person: every identifier resolved, the
    profile by UCID and by identifier."""
    from fastapi.testclient import TestClient

    from infra.settings import ServingSettings
    from infra.store import Store
    from serving import keys
    from serving.app import create_app

    _, token = keys.create(Store(w.session, w.settings.cassandra), "erase-it", ["resolve", "profile:read"])
    app = create_app(ServingSettings(key_cache_ttl_s=0), cassandra=w.settings.cassandra)
    out = []
    with TestClient(app, headers={"X-API-Key": token}) as client:
        out.append((f"profile {ucid}", client.get(f"/v1/profiles/{ucid}").status_code))
        for t, v in sorted(ids):
            out.append((f"resolve {t}", client.get("/v1/resolve", params={"type": t, "value": v}).status_code))
            out.append((f"by-identifier {t}", client.get("/v1/profiles/by-identifier",
                                                         params={"type": t, "value": v}).status_code))
    return out


def _assert_gone(w: World, ucid: str, ids: set[tuple[str, str]], wanted: set[str], when: str) -> None:
    assert not _holding(_cassandra_values(w.session, w.ks), wanted), f"{when}: Cassandra still holds them"
    assert not _holding(_lake_values(w.tmp / "lake"), wanted), f"{when}: a Delta file still holds them"
    assert not _holding(_landing_values(w.tmp / "landing"), wanted), f"{when}: a landing file still holds them"
    answers = _api_answers(w, ucid, ids)
    assert all(status == 404 for _, status in answers), f"{when}: {[a for a in answers if a[1] != 404]}"


def test_an_erased_customer_is_gone_everywhere_and_stays_gone_after_replay(world: World) -> None:
    w = world
    landing = w.tmp / "landing"
    w.ucid("generate", "--customers", "50", "--seed", "23", "--days", "3", "--out", str(landing),
           "--stream", str(w.tmp / "stream.jsonl"), "--quiet")
    # the speed layer first (it mints the stream's people), then one batch over every source and
    # the stream's landing files, the speed state taken over: the person is in every store
    w.ucid("produce", str(w.tmp / "stream.jsonl"), "--quiet")
    w.speed(f"erase-{uuid.uuid4().hex[:6]}")
    assert list((landing / "stream").rglob("*.jsonl")), "the speed layer landed nothing"
    w.batch(NOW)

    ucid, ids = _person(w)
    wanted = _spellings(w, ids)
    assert _holding(_cassandra_values(w.session, w.ks), wanted), "the person is not in Cassandra to begin with"
    assert _holding(_lake_values(w.tmp / "lake"), wanted), "the person is not in the lake to begin with"
    # an extract as delivered before the erasure: delivered again afterwards under a new name
    old_extract = next(p for p in sorted(landing.glob("crm/**/*")) if p.is_file() and _file_values(p) & wanted)
    saved = w.tmp / "old-extract"
    shutil.copy(old_extract, saved)
    before = w.ucids()

    # DELETE, REORG and VACUUM of every table holding them: ~90 s on the shared 2-core machine
    w.ucid("privacy", "erase", "--ucid", ucid, "--vacuum-now", "--out", str(w.tmp / "receipt.json"), timeout=900)
    receipt = json.loads((w.tmp / "receipt.json").read_text())
    assert receipt["ucids"][0] == ucid and receipt["identifiers"] >= len(ids) - 1, receipt
    assert receipt["lake"].get("delta.silver/records", 0) > 0, receipt
    assert receipt["lake"].get("landing.rows", 0) > 0, receipt
    assert not {str(v).lower() for v in _flatten_json(receipt)} & wanted, "the receipt holds an identifier"
    _assert_gone(w, ucid, ids, wanted, "after the erasure")

    log = w.speed(f"erase-replay-{uuid.uuid4().hex[:6]}")  # the topic from offset 0, a new group
    dropped = [int(n) for n in re.findall(r'"suppressed": (\d+)', log)]
    assert dropped and max(dropped) > 0, f"the replay dropped none of their events:\n{log[-3000:]}"

    redelivered = old_extract.with_name("redelivered-" + old_extract.name)
    shutil.copy(saved, redelivered)
    stats = w.batch(int(time.time()) + 300, full=True)  # written after the erasure's tombstones
    assert stats["ingest"]["result"]["crm"]["rows_suppressed"] > 0, stats["ingest"]
    _assert_gone_after_replay(w, ucid, ids, wanted, str(redelivered.relative_to(landing)))
    assert w.ucids() <= before - set(receipt["ucids"]), "a UCID was minted or brought back"


def _assert_gone_after_replay(w: World, ucid: str, ids, wanted, redelivered: str) -> None:
    """After the replay and the full run: nowhere, but in the re-delivered extract itself."""
    assert set(_holding(_landing_values(w.tmp / "landing"), wanted)) == {redelivered}
    assert not _holding(_cassandra_values(w.session, w.ks), wanted), "after the replay: Cassandra holds them"
    lake = _holding(_lake_values(w.tmp / "lake"), wanted)
    assert not lake, f"after the replay: Delta files hold them: {lake}"
    answers = _api_answers(w, ucid, ids)
    assert all(status == 404 for _, status in answers), [a for a in answers if a[1] != 404]


def _flatten_json(doc) -> list:
    if isinstance(doc, dict):
        return [x for k, v in doc.items() for x in (k, *_flatten_json(v))]
    if isinstance(doc, list):
        return [x for v in doc for x in _flatten_json(v)]
    return [doc]


def test_the_api_erases_with_privacy_write_only_and_answers_the_receipt(world: World) -> None:
    """``DELETE /v1/profiles/{ucid}``: 403 without ``privacy:write``; with it 202 and the receipt,
    the suppression rows of that erasure, an ``erasure`` audit row, then 404 everywhere."""
    from fastapi.testclient import TestClient

    from infra.settings import ServingSettings
    from infra.store import Store
    from serving import keys
    from serving.app import create_app

    w = world
    members: dict[str, set] = {}
    for r in w.session.execute(f"SELECT ucid, id_type, id_value FROM {w.ks}.identifiers_by_ucid"):
        members.setdefault(r.ucid, set()).add((r.id_type, r.id_value))
    live = {r.ucid for r in w.session.execute(f"SELECT ucid, status FROM {w.ks}.ucids") if r.status == "live"}
    ucid = min(u for u in live if len(members.get(u, ())) >= 2)
    store = Store(w.session, w.settings.cassandra)
    _, reader = keys.create(store, "erase-it-reader", ["resolve", "profile:read", "privacy:read"])
    _, eraser = keys.create(store, "erase-it-eraser", ["privacy:write"])
    app = create_app(ServingSettings(key_cache_ttl_s=0), cassandra=w.settings.cassandra)
    with TestClient(app) as client:
        assert client.delete(f"/v1/profiles/{ucid}", headers={"X-API-Key": reader}).status_code == 403
        answer = client.delete(f"/v1/profiles/{ucid}", headers={"X-API-Key": eraser})
        assert answer.status_code == 202, answer.text
        receipt = answer.json()
        assert receipt["ucids"][0] == ucid and receipt["identifiers"] == len(members[ucid])
        assert "delta" in receipt["pending"] and receipt["via"] == "ucid"
        rows = [r for r in w.session.execute(f"SELECT hash, erasure_id FROM {w.ks}.suppression")
                if r.erasure_id == receipt["erasureId"]]
        assert len(rows) == receipt["removed"]["suppression"] == len(members[ucid]) + len(receipt["ucids"])
        audit = [r.action for r in w.session.execute(f"SELECT action FROM {w.ks}.audit_by_ucid WHERE ucid = %s", (ucid,))]
        assert "erasure" in audit
        for t, v in sorted(members[ucid]):
            got = client.get("/v1/resolve", params={"type": t, "value": v}, headers={"X-API-Key": reader})
            assert got.status_code == 404, (t, got.text)
        assert client.get(f"/v1/profiles/{ucid}", headers={"X-API-Key": reader}).status_code == 404
        assert client.delete(f"/v1/profiles/{ucid}", headers={"X-API-Key": eraser}).status_code == 404
