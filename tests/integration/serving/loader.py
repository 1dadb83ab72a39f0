"""A small stand-in for the batch layer's publish: resolve a generated data set with the
pure-Python reference and write it to Cassandra exactly as docs/lambda-contract.md says.

Every write carries ``USING TIMESTAMP S`` (the snapshot, in µs); ``ucids`` and ``ucid_aliases``
are written before the ``identifiers`` that point at them. To be replaced by ``batch.publish``.
Also: :func:`speed_merge` and :func:`speed_new_customer` write what the speed layer would.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cassandra.concurrent import execute_concurrent_with_args

from identity.records import normalize_record
from identity.rules import load_policy
from identity.sources import load_sources
from ucid.local_resolve import ReadStats, _read_table, read_records, resolve_local, source_files
from infra.settings import get_settings


@dataclass
class Published:
    """What the tests need to know about the published data set."""

    snapshot: datetime  # S, naive UTC (as the driver returns timestamps)
    ucid_of: dict[tuple[str, str], str]  # normalized identifier -> UCID
    members: dict[str, list[tuple[str, str]]]  # UCID -> its identifiers
    raw_of: dict[tuple[str, str], str]  # normalized identifier -> one raw spelling seen in a source
    edges: list  # accepted identity.cluster.Edge
    events: Counter = field(default_factory=Counter)  # UCID -> events written


def _micros(at: datetime) -> int:
    return int(at.replace(tzinfo=UTC).timestamp() * 1_000_000)


def _write(session, cql: str, rows: list[tuple]) -> None:
    if not rows:
        return
    prepared = session.prepare(cql)
    for ok, result in execute_concurrent_with_args(session, prepared, rows, concurrency=64, raise_on_first_error=True):
        assert ok, result


def generate(out: Path, customers: int = 2000, seed: int = 11) -> Path:
    subprocess.run(
        [sys.executable, "-m", "ucid.cli", "generate", "--customers", str(customers), "--seed", str(seed),
         "--out", str(out), "--quiet"],
        check=True,
    )
    return out


def publish(session, keyspace: str, data_dir: Path, snapshot: datetime) -> Published:
    """Resolve ``data_dir`` and write ucids, aliases, identifiers, links, profiles and events."""
    settings = get_settings()
    policy = load_policy(settings.conf_dir / "rules.yaml")
    sources = load_sources(settings.conf_dir / "sources", known_types=set(policy.types))
    now = int(snapshot.replace(tzinfo=UTC).timestamp())
    resolution, _ = resolve_local(data_dir, sources, policy, now=now)
    state = resolution.state
    ts = _micros(snapshot)
    ks = keyspace

    # where each identifier was seen: best-priority source, one raw spelling
    priority = {s.name: s.priority for s in sources}
    source_of: dict[tuple[str, str], str] = {}
    raw_of: dict[tuple[str, str], str] = {}
    for record in read_records(data_dir, sources, ReadStats()):
        norm, _ = normalize_record(record, policy)
        for ident in norm.identifiers:
            best = source_of.get(ident)
            if best is None or priority[record.source] < priority[best]:
                source_of[ident] = record.source
        for t, raw in record.identifiers:
            value, _ = policy.types[t].accept(raw)
            if value is not None:
                raw_of.setdefault((t, value), raw)

    # 1. never point at nothing: ucids and aliases first
    rows = []
    for ucid, minted in state.minted_at.items():
        status = "retired" if ucid in state.retired else "merged" if ucid in state.aliases else "live"
        rows.append((ucid, datetime.fromtimestamp(minted, UTC), status, state.aliases.get(ucid), snapshot))
    _write(session, f"INSERT INTO {ks}.ucids (ucid, minted_at, status, merged_into, updated_at, layer) "
                    f"VALUES (?, ?, ?, ?, ?, 'batch') USING TIMESTAMP {ts}", rows)
    _write(session, f"INSERT INTO {ks}.ucid_aliases (alias, ucid, merged_at) VALUES (?, ?, ?) USING TIMESTAMP {ts}",
           [(a, u, snapshot) for a, u in state.aliases.items()])

    # 2. identifiers, both directions
    members: dict[str, list[tuple[str, str]]] = defaultdict(list)
    id_rows = []
    for (t, v), ucid in state.ucid_of.items():
        if t.startswith("_"):
            continue  # a record without identifiers is not an identifier
        seen = datetime.fromtimestamp(state.first_seen.get((t, v), now), UTC)
        members[ucid].append((t, v))
        id_rows.append((t, v, ucid, source_of.get((t, v)), seen, snapshot))
    _write(session, f"INSERT INTO {ks}.identifiers (id_type, id_value, ucid, source, first_seen, last_seen, layer) "
                    f"VALUES (?, ?, ?, ?, ?, ?, 'batch') USING TIMESTAMP {ts}", id_rows)
    _write(session, f"INSERT INTO {ks}.identifiers_by_ucid (id_type, id_value, ucid, source, first_seen, last_seen) "
                    f"VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP {ts}", id_rows)

    # 3. accepted links, one row per evidencing record
    link_rows = []
    for edge in resolution.clustering.accepted:
        ucid = state.ucid_of[edge.a]
        for source, record_id in edge.evidence:
            link_id = hashlib.sha1(f"{edge.a}|{edge.b}|{source}|{record_id}".encode()).hexdigest()[:20]
            link_rows.append((ucid, link_id, *edge.a, *edge.b, edge.rule, source, record_id, snapshot))
    _write(session, f"INSERT INTO {ks}.links_by_ucid (ucid, link_id, from_type, from_value, to_type, to_value, "
                    f"rule, source, record_id, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP {ts}",
           link_rows)

    # 4. events and a small profile per customer
    assignment = resolution.assignment
    event_rows, channels, last_seen = [], defaultdict(Counter), {}
    names: dict[str, dict[str, str]] = {}
    for source in sources:
        if source.kind == "event":
            cols = [source.record_id, source.event_time, *( [source.event_type] if source.event_type else [])]
            for path in source_files(data_dir, source):
                data = _read_table(path, source, list(dict.fromkeys(cols)))
                types = data[source.event_type] if source.event_type else [None] * len(data[source.record_id])
                for record_id, at, kind in zip(data[source.record_id], data[source.event_time], types, strict=True):
                    ucid = assignment.get((source.name, record_id))
                    if ucid is None or not at:
                        continue
                    when = datetime.fromisoformat(at.replace("Z", "+00:00").replace(" ", "T"))
                    event_rows.append((ucid, when, f"{source.name}:{record_id}", kind, source.channel, source.name))
                    channels[ucid][source.channel or source.name] += 1
                    last_seen[ucid] = max(last_seen.get(ucid, when), when)
        elif source.name == "crm":
            cols = [source.record_id, "first_name", "last_name", "city"]
            for path in source_files(data_dir, source):
                data = _read_table(path, source, cols)
                for record_id, first, last, city in zip(*(data[c] for c in cols), strict=True):
                    ucid = assignment.get((source.name, record_id))
                    if ucid is not None:
                        names[ucid] = {"first_name": first or "", "last_name": last or "", "city": city or ""}
    _write(session, f"INSERT INTO {ks}.events_by_ucid (ucid, event_time, event_id, type, channel, source) "
                    f"VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP {ts}", event_rows)
    profile_rows = []
    for ucid in members:
        attrs = names.get(ucid, {})
        profile_rows.append((ucid, attrs, {k: "crm" for k in attrs}, dict(channels[ucid]), last_seen.get(ucid), snapshot, snapshot))
    _write(session, f"INSERT INTO {ks}.profiles (ucid, attributes, attribute_sources, channel_counts, last_seen, "
                    f"batch_snapshot, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP {ts}", profile_rows)

    events = Counter(r[0] for r in event_rows)
    return Published(snapshot, {k: v for k, v in state.ucid_of.items() if not k[0].startswith("_")},
                     dict(members), raw_of, list(resolution.clustering.accepted), events)


def speed_merge(session, keyspace: str, loser: str, survivor: str, link: tuple[tuple[str, str], tuple[str, str]],
                at: datetime | None = None) -> None:
    """Merge ``loser`` into ``survivor`` as the speed layer does after the snapshot: the alias and
    the ``ucids`` status first, then the change log and the link that caused it. Identifiers stay
    pointing at the loser (the contract: they resolve through the alias)."""
    at = at or datetime.now(UTC).replace(tzinfo=None)
    ks = keyspace
    session.execute(f"INSERT INTO {ks}.ucid_aliases (alias, ucid, merged_at, rule, change_id) VALUES (%s, %s, %s, %s, %s)",
                    (loser, survivor, at, f"{link[0][0]}~{link[1][0]}", f"speed-{loser}"))
    session.execute(f"UPDATE {ks}.ucids SET status = 'merged', merged_into = %s, updated_at = %s, layer = 'speed' "
                    "WHERE ucid = %s", (survivor, at, loser))
    session.execute(f"INSERT INTO {ks}.identity_changes (ucid, changed_at, change_id, kind, old_ucids, rule) "
                    "VALUES (%s, %s, %s, 'merge', %s, %s)", (survivor, at, f"speed-{loser}", {loser}, "speed"))
    (a, b) = sorted(link)
    session.execute(f"INSERT INTO {ks}.links_by_ucid (ucid, link_id, from_type, from_value, to_type, to_value, rule, "
                    "source, record_id, seen_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (survivor, f"speed-{loser}", *a, *b, f"{a[0]}~{b[0]}", "stream", f"evt-merge-{loser}", at))


def speed_new_customer(session, keyspace: str, ucid: str, identifier: tuple[str, str], event_id: str,
                       attributes: dict[str, str], amount: float, at: datetime | None = None) -> datetime:
    """A customer created in real time: ucids row, identifier claimed (LWT), identity row,
    one event and its ``profile_updates`` row. Returns the applied time."""
    at = at or datetime.now(UTC).replace(tzinfo=None)
    ks = keyspace
    t, v = identifier
    session.execute(f"INSERT INTO {ks}.ucids (ucid, minted_at, status, updated_at, layer) VALUES (%s, %s, 'live', %s, 'speed')",
                    (ucid, at, at))
    claimed = session.execute(
        f"INSERT INTO {ks}.identifiers (id_type, id_value, ucid, source, first_seen, last_seen, layer) "
        "VALUES (%s, %s, %s, 'stream', %s, %s, 'speed') IF NOT EXISTS", (t, v, ucid, at, at)).one()
    assert claimed[0], f"identifier {identifier} already claimed"
    session.execute(f"INSERT INTO {ks}.identifiers_by_ucid (ucid, id_type, id_value, source, first_seen, last_seen) "
                    "VALUES (%s, %s, %s, 'stream', %s, %s)", (ucid, t, v, at, at))
    add_speed_update(session, keyspace, ucid, event_id, attributes, amount, at)
    return at


def add_speed_update(session, keyspace: str, ucid: str, event_id: str, attributes: dict[str, str],
                     amount: float, at: datetime, channel: str = "web") -> None:
    """One applied event as the speed layer records it: the event and its profile delta."""
    ks = keyspace
    session.execute(f"INSERT INTO {ks}.events_by_ucid (ucid, event_time, event_id, type, channel, source) "
                    "VALUES (%s, %s, %s, 'purchase', %s, 'stream')", (ucid, at, event_id, channel))
    session.execute(f"INSERT INTO {ks}.profile_updates (ucid, event_id, applied_at, event_time, type, channel, source, "
                    "amount, attributes) VALUES (%s, %s, %s, %s, 'purchase', %s, 'stream', %s, %s)",
                    (ucid, event_id, at, at, channel, amount, attributes))


def snapshot_time() -> datetime:
    """S: now minus the publish lag, truncated to the millisecond (Cassandra's precision)."""
    at = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=60)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)
