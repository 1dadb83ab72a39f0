"""Fixtures of the serving integration tests: data written by the real writers in the suite's own
keyspace, API keys, and the app under test.

``serving_data`` (once per session), in the keyspace and topics of ``suite_settings(stack,
"serving")``:

1. ``ucid generate --customers 200 --seed 11 --days 3`` (and its ``--stream``);
2. the real batch pipeline in-process (ingest, normalize, resolve, profiles, publish) with a
   fixed ``now``, publishing into the suite's keyspace;
3. the real speed consumer (``ucid speed run`` in the background for the whole session, see
   ``speed_layer``) applies an event carrying an identifier of one batch customer and one of
   another: the speed layer merges the two UCIDs after the snapshot.

Every expected value (``sample``, ``explain_pair``, ``alias``, ``survivor``...) is read back from
what those writers wrote (Cassandra), never computed in parallel. Nothing here writes a serving
table itself: the only writes are the real writers', the keys of ``serving.keys`` and TRUNCATE.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
UCID = [sys.executable, "-m", "ucid.cli"]

CUSTOMERS = 200
DAYS = 3
SEED = 11
NOW = 1_770_000_000  # the batch snapshot, 2026-02-02T02:40:00Z: after the generated days, before any speed write
SPEED_GROUP = "ucid-speed-serving-it"
MERGE_EVENT = "evt-merge-serving"


def _load_suite_helpers():
    """``suite_settings`` / ``suite_env`` / ``truncate_keyspace`` of the root integration conftest (a pytest conftest is
    not importable by name; it is already loaded, find it in ``sys.modules``)."""
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if path.endswith("tests/integration/conftest.py") and hasattr(module, "suite_settings"):
            return module.suite_settings, module.suite_env, module.truncate_keyspace
    raise RuntimeError("tests/integration/conftest.py is not loaded")


suite_settings, suite_env, truncate_keyspace = _load_suite_helpers()


@dataclass
class Published:
    """What the real batch publish wrote, read back from Cassandra before any speed write."""

    snapshot: datetime  # profiles.batch_snapshot (naive UTC, as the driver returns it)
    members: dict[str, list[tuple[str, str]]]  # UCID -> its identifiers (identifiers_by_ucid)
    minted: dict[str, datetime]  # UCID -> minted_at (live UCIDs)
    events: Counter = field(default_factory=Counter)  # UCID -> rows of its events_by_ucid timeline
    contacts: Counter = field(default_factory=Counter)  # UCID -> sum of its profile's channel_counts


@dataclass
class SpeedLayer:
    """The real speed consumer (``ucid speed run``) running in the background on the suite's
    topics; ``send`` produces events the way ``ucid produce`` does, ``wait`` until applied."""

    settings: Any
    session: Any
    proc: subprocess.Popen
    log: Path
    policy: Any

    def send(self, *events: dict) -> None:
        from kafka import KafkaProducer

        from speed.produce import produce_lines

        producer = KafkaProducer(bootstrap_servers=self.settings.kafka.bootstrap_servers, acks="all")
        try:
            produce_lines(producer, self.settings.kafka.topic_prefix + self.settings.speed.topic,
                          [json.dumps(e).encode() for e in events], self.policy)
        finally:
            producer.close()

    def applied(self, event_id: str) -> Any:
        ks = self.settings.cassandra.keyspace
        return self.session.execute(f"SELECT event_id, ucid, outcome, applied_at FROM {ks}.applied_events "
                                    "WHERE event_id = %s", (event_id,)).one()

    def wait(self, *event_ids: str, timeout: float = 120) -> dict[str, Any]:
        """The ``applied_events`` rows of ``event_ids`` once the consumer applied them all."""
        deadline = time.monotonic() + timeout
        while True:
            rows = {e: self.applied(e) for e in event_ids}
            if all(rows.values()):
                return rows
            if self.proc.poll() is not None:
                pytest.fail(f"ucid speed run exited {self.proc.returncode}:\n{self._tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"events {sorted(e for e, r in rows.items() if not r)} not applied in {timeout}s:\n"
                            f"{self._tail()}")
            time.sleep(0.2)

    def apply(self, *events: dict) -> dict[str, Any]:
        self.send(*events)
        return self.wait(*(e["event_id"] for e in events))

    def drain(self, timeout: float = 120) -> None:
        """Wait until the consumer group committed every message of the events topic (each was
        applied, or dropped as a duplicate): a sync point for messages that change nothing."""
        from kafka import KafkaConsumer, TopicPartition

        topic = self.settings.kafka.topic_prefix + self.settings.speed.topic
        watcher = KafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap_servers, group_id=SPEED_GROUP,
                                enable_auto_commit=False)
        try:
            tps = [TopicPartition(topic, p) for p in sorted(watcher.partitions_for_topic(topic))]
            ends = watcher.end_offsets(tps)
            deadline = time.monotonic() + timeout
            while any((watcher.committed(tp) or 0) < ends[tp] for tp in tps):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the consumer did not commit up to {ends} in {timeout}s:\n{self._tail()}")
                time.sleep(0.2)
        finally:
            watcher.close()

    event = staticmethod(lambda *a, **k: event(*a, **k))

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def event(event_id: str, identifiers: dict[str, str], attributes: dict | None = None, type_: str = "page_view",
          channel: str = "web", at: datetime | None = None) -> dict:
    """One event of the contract (``conf/events/event.schema.json``), by default now on the web."""
    at = at or datetime.now(UTC)
    return {"event_id": event_id, "schema_version": 1, "type": type_,
            "event_time": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "channel": channel, "source": channel,
            "identifiers": identifiers, "attributes": attributes or {}}


@dataclass
class ServingData:
    """What the tests need to know: identifiers and their UCIDs, a pair linked through another
    identifier, a UCID the real speed consumer merged away after the snapshot and its survivor,
    UCIDs the tests may change, and the handles to make the real writers write again."""

    keyspace: str
    settings: Any  # the suite's Settings (keyspace, topic prefix)
    published: Published
    sample: list[tuple[str, str, str, str]]  # (type, raw value, normalized value, UCID)
    explain_pair: tuple[tuple[str, str], tuple[str, str], int]  # a, b, shortest chain length
    alias: str  # UCID merged away by the speed layer after the snapshot
    survivor: str
    alias_identifier: tuple[str, str]  # an identifier the batch wrote pointing at ``alias`` (not in the merge event)
    merge_link: tuple[tuple[str, str], tuple[str, str]]  # the merge event's identifiers: alias's, survivor's
    merge_event: str  # its event id
    spare: list[str]  # live UCIDs (2+ identifiers) outside sample / alias / survivor: tests may change them
    limits: dict[str, int]
    max_identifiers: int | None
    republish: Callable[[], dict]  # the real batch publish again, same snapshot
    base: Path | None = None  # landing/ (with truth/truth.csv), lake/, stream.jsonl of the data set

    def mergeable(self, a: str, b: str) -> bool:
        """Whether the speed layer may merge ``a`` and ``b`` (no type limit, no size guard broken)."""
        return _mergeable(self.published.members[a], self.published.members[b], self.limits, self.max_identifiers)

    def merge_pair(self, candidates: list[str]) -> tuple[str, str, tuple[str, str], tuple[str, str]]:
        """``(survivor, loser, x, y)`` among ``candidates``: x of the survivor, y of the loser, of
        different types, and the speed layer keeps ``survivor`` (older ``minted_at``, then smaller UCID)."""
        return _merge_pair(candidates, self.published, self.limits, self.max_identifiers)


def _mergeable(a: list, b: list, limits: dict[str, int], max_identifiers: int | None) -> bool:
    counts = Counter(t for t, _ in a) + Counter(t for t, _ in b)
    if max_identifiers is not None and sum(counts.values()) > max_identifiers:
        return False
    return all(n <= limits[t] for t, n in counts.items() if t in limits)


def _merge_pair(candidates: list[str], published: Published, limits, max_identifiers):
    members = published.members
    for i, first in enumerate(candidates):
        for second in candidates[i + 1:]:
            survivor, loser = sorted((first, second), key=lambda u: (published.minted[u], u))
            if len(members[loser]) < 2 or not _mergeable(members[survivor], members[loser], limits, max_identifiers):
                continue
            for x in members[survivor]:
                y = next((y for y in members[loser] if y[0] != x[0]), None)
                if y is not None:
                    return survivor, loser, x, y
    raise AssertionError("no two mergeable customers among the candidates")


@pytest.fixture(scope="session")
def cql_session(stack):
    from infra import cql

    cluster = cql.cluster(stack.cassandra)
    session = cluster.connect()
    yield session
    cluster.shutdown()


@pytest.fixture(scope="session")
def serving_settings(stack, cql_session):
    """The suite's own keyspace (migrated, every table truncated so reruns start clean) and topics."""
    world = suite_settings(stack, "serving")
    truncate_keyspace(cql_session, world.cassandra.keyspace)
    return world


def _skip_backlog(world, group: str) -> None:
    """Commit the group's offsets at the end of the events topic: messages left by an earlier
    session (the topics outlive it) are not replayed into this one's clean keyspace."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    topic = world.kafka.topic_prefix + world.speed.topic
    consumer = KafkaConsumer(bootstrap_servers=world.kafka.bootstrap_servers, group_id=group,
                             enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
        assert partitions, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in ends.items()})
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def speed_layer(serving_settings, cql_session, tmp_path_factory) -> Iterator[SpeedLayer]:
    """``ucid speed run`` on the suite's topics and keyspace for the whole session."""
    from identity.rules import load_policy

    world = serving_settings
    _skip_backlog(world, SPEED_GROUP)
    base = tmp_path_factory.mktemp("serving-speed")
    log = base / "speed.log"
    env = suite_env(world, UCID_SPEED_GROUP_ID=SPEED_GROUP, UCID_LANDING_DIR=str(base / "landing"),
                    UCID_LOG_LEVEL="INFO", UCID_SPEED_PROGRESS_S="10", PYTHONUNBUFFERED="1")
    with log.open("w") as out:
        proc = subprocess.Popen([*UCID, "speed", "run"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    layer = SpeedLayer(world, cql_session, proc, log, load_policy(world.conf_dir / "rules.yaml"))
    try:
        yield layer
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _raw_spellings(landing: Path, conf_dir: Path) -> dict[tuple[str, str], str]:
    """Normalized identifier -> one raw spelling of it in the landing files (the API's input)."""
    from identity.rules import load_policy
    from identity.sources import load_sources
    from ucid.local_resolve import ReadStats, read_records

    policy = load_policy(conf_dir / "rules.yaml")
    sources = load_sources(conf_dir / "sources", known_types=set(policy.types))
    raw_of: dict[tuple[str, str], str] = {}
    for record in read_records(landing, sources, ReadStats()):
        for t, raw in record.identifiers:
            value, _ = policy.types[t].accept(raw)
            if value is not None:
                raw_of.setdefault((t, value), raw)
    return raw_of


def _read_published(session, ks: str) -> Published:
    members: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in session.execute(f"SELECT ucid, id_type, id_value FROM {ks}.identifiers_by_ucid", timeout=60):
        members[r.ucid].append((r.id_type, r.id_value))
    minted = {r.ucid: r.minted_at for r in session.execute(f"SELECT ucid, minted_at, status FROM {ks}.ucids",
                                                           timeout=60) if r.status == "live"}
    events = Counter(r.ucid for r in session.execute(f"SELECT ucid FROM {ks}.events_by_ucid", timeout=60))
    contacts, snapshots = Counter(), set()
    for r in session.execute(f"SELECT ucid, channel_counts, batch_snapshot FROM {ks}.profiles", timeout=60):
        contacts[r.ucid] = sum((r.channel_counts or {}).values())
        snapshots.add(r.batch_snapshot)
    assert len(snapshots) == 1, f"profiles of several snapshots: {snapshots}"
    return Published(snapshots.pop(), {u: sorted(ids) for u, ids in members.items()}, minted, events, contacts)


def _links(session, ks: str, ucid: str) -> dict[tuple[str, str], set[tuple[str, str]]]:
    graph: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for r in session.execute(f"SELECT from_type, from_value, to_type, to_value FROM {ks}.links_by_ucid "
                             "WHERE ucid = %s", (ucid,)):
        a, b = (r.from_type, r.from_value), (r.to_type, r.to_value)
        if a != b:
            graph[a].add(b)
            graph[b].add(a)
    return graph


def _distance(graph, a, b) -> int | None:
    seen, todo = {a: 0}, deque([a])
    while todo:
        node = todo.popleft()
        for nxt in sorted(graph[node]):
            if nxt not in seen:
                seen[nxt] = seen[node] + 1
                todo.append(nxt)
    return seen.get(b)


def _pick_explain_pair(session, ks: str, ucids: list[str]):
    """Two identifiers of one customer joined only through a third (shortest chain >= 2 links),
    from the links the publish wrote."""
    for ucid in sorted(ucids):
        graph = _links(session, ks, ucid)
        nodes = sorted(graph)
        for a in nodes:
            for b in nodes:
                if a < b and (_distance(graph, a, b) or 0) >= 2:
                    return a, b, _distance(graph, a, b)
    raise AssertionError("no customer with a two-link chain in the data set")


@pytest.fixture(scope="session")
def serving_data(serving_settings, speed_layer, spark, cql_session, tmp_path_factory) -> ServingData:
    """Generate, run the real batch pipeline and publish, then a real speed-layer merge."""
    from batch import publish as batch_publish
    from batch import run
    from identity.rules import load_policy

    world = serving_settings
    ks = world.cassandra.keyspace
    started = time.monotonic()
    base = tmp_path_factory.mktemp("serving-data")
    landing = base / "landing"
    subprocess.run([*UCID, "generate", "--customers", str(CUSTOMERS), "--seed", str(SEED), "--days", str(DAYS),
                    "--out", str(landing), "--stream", str(base / "stream.jsonl"), "--quiet"],
                   cwd=REPO, check=True, capture_output=True, timeout=300)

    batch_world = world.model_copy(update={"lake_dir": base / "lake", "landing_dir": landing})
    ctx = run.context(batch_world, now=NOW, run_id="serving-it", report=lambda _m: None)
    ctx._spark = spark
    # the keyspace was just truncated: no speed-layer state to take over (skips that Cassandra scan)
    ctx.batch = batch_world.batch.model_copy(update={"speed_state": False})
    generated = time.monotonic()
    for stage in ("ingest", "normalize", "resolve", "profiles", "segments", "publish"):
        run.run_stage(ctx, stage)
    print(f"[serving_data] generate {generated - started:.0f}s, "
          + ", ".join(f"{k} {v['seconds']:.0f}s" for k, v in ctx.stats.items()))

    def republish(every_row: bool = True) -> dict:
        """The snapshot published again: every row (as a retry after a publish that died half-way
        does: the keyspace's record and the lake's then disagree -- the most a publish rewrites),
        or only what changed since, with the speed layer's rows read back (``every_row=False``)."""
        settings = ctx.batch.model_copy(update={"publish_all": every_row, "speed_state": not every_row})
        return batch_publish.publish(spark, ctx.lake, batch_world, settings, NOW, "serving-it-again")

    published = _read_published(cql_session, ks)
    assert published.snapshot == datetime.fromtimestamp(NOW, UTC).replace(tzinfo=None)
    raw_of = _raw_spellings(landing, world.conf_dir)
    policy = load_policy(world.conf_dir / "rules.yaml")
    limits, max_ids = policy.limits(), policy.max_cluster_identifiers

    multi = sorted(u for u in published.minted if len(published.members.get(u, ())) >= 2)
    assert len(multi) >= 60, f"only {len(multi)} customers with 2+ identifiers"
    sample = []
    for ucid in multi[:40]:
        for ident in published.members[ucid][:3]:
            sample.append((ident[0], raw_of.get(ident, ident[1]), ident[1], ucid))
    explain_pair = _pick_explain_pair(cql_session, ks, multi[:40])

    # the speed layer merges two batch customers after the snapshot: one event with an identifier of each
    rest = multi[40:]
    survivor, alias, (st, sv), (at, av) = _merge_pair(rest[::-1], published, limits, max_ids)
    speed_layer.apply(event(MERGE_EVENT, {at: av, st: sv}, {"page": "/login"}, type_="login"))
    row = cql_session.execute(f"SELECT ucid, change_id FROM {ks}.ucid_aliases WHERE alias = %s", (alias,)).one()
    assert row is not None, f"the speed layer did not merge {alias} (see {speed_layer.log})"
    survivor = row.ucid  # what the consumer decided
    print(f"[serving_data] ready in {time.monotonic() - started:.0f}s")
    alias_identifier = next(i for i in published.members[alias] if i != (at, av))
    spare = [u for u in rest if u not in (alias, survivor)]
    return ServingData(ks, world, published, sample, explain_pair, alias, survivor, alias_identifier,
                       ((at, av), (st, sv)), MERGE_EVENT, spare, limits, max_ids, republish, base)


@pytest.fixture(scope="session")
def api_keys(cql_session, serving_data, stack) -> dict[str, str]:
    """Keys by role: ``all`` (every scope but ``privacy:write``: schemathesis and the other tests
    call with it, and must not erase the data set's customers), ``resolve`` (resolve only),
    ``revoked``."""
    from infra.store import Store
    from serving import keys

    store = Store(cql_session, stack.cassandra.model_copy(update={"keyspace": serving_data.keyspace}))
    out = {
        "all": keys.create(store, "it-all", [s for s in keys.SCOPES if s != "privacy:write"])[1],
        "resolve": keys.create(store, "it-resolve", ["resolve"])[1],
    }
    record, out["revoked"] = keys.create(store, "it-revoked", ["resolve"])
    keys.revoke(store, record.key_id)
    return out


@pytest.fixture(scope="session")
def app(serving_data):
    from infra.settings import ServingSettings
    from serving.app import create_app

    # key cache off: revocation and the lambda tests see every write at once
    return create_app(ServingSettings(key_cache_ttl_s=0), cassandra=serving_data.settings.cassandra)


@pytest.fixture(scope="session")
def client(app, api_keys) -> Iterator:
    """A client of the app (lifespan run: one real Cassandra session), sending the all-scopes key."""
    from fastapi.testclient import TestClient

    with TestClient(app, headers={"X-API-Key": api_keys["all"]}, raise_server_exceptions=False) as c:
        yield c
