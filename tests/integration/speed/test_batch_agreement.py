"""After the speed layer has processed a stream, the batch layer's next run over the landing
files (bronze, via conf/sources/stream.yaml) agrees with it: at least 99.9 % of the stream's
identifiers are in the same cluster (the same set of identifiers shares their UCID).

Needs the batch layer: runs ``ucid batch run`` in a subprocess when ``batch/run.py`` exists,
otherwise skips. Batch answers come from its gold ``identity_state`` Delta table (its own
result, before Cassandra's last-write-wins mixes the two layers' writes). The batch reads the
speed layer's real-time UCIDs back as previous state (``UCID_BATCH_SPEED_STATE``, on by
default), so the UCID *values* agree too, not only the clusters.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.records import Record, normalize_record
from identity.rules import load_policy

from .checks import groups, live_partition
from .conftest import REPO, read_events

# a speed run, then a whole `ucid batch run` (allowed 1800 s below) in a subprocess on a busy 2-core box
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]


def test_batch_and_speed_put_999_permille_of_identifiers_on_the_same_ucid(speed_env, stream_file, tmp_path: Path,
                                                                          spark) -> None:
    if not (REPO / "batch" / "run.py").exists():
        pytest.skip("the batch layer (batch/run.py, `ucid batch run`) is not there yet")
    env = speed_env
    policy = load_policy(env.settings.conf_dir / "rules.yaml")
    events = read_events(stream_file)
    env.ucid("produce", str(stream_file), "--quiet")
    env.ucid("speed", "run", "--idle-exit", "2", timeout=300)
    idents = set()
    for e in events:
        norm, _ = normalize_record(Record("stream", e["event_id"], tuple(sorted(e["identifiers"].items()))), policy)
        idents.update(norm.identifiers)
    speed = live_partition(env, idents)

    lake = tmp_path / "lake"
    env.env["UCID_LAKE_DIR"] = str(lake)
    env.ucid("batch", "run", "--landing", str(env.landing), timeout=1800)
    rows = spark.read.format("delta").load(str(lake / "gold" / "identity_state")).collect()
    batch = {(r["id_type"], r["id_value"]): r["ucid"] for r in rows if (r["id_type"], r["id_value"]) in idents}
    missing = idents - set(batch)
    assert not missing, f"identifiers the batch did not resolve: {sorted(missing)[:10]}"

    cluster_speed = {frozenset(g): g for g in groups(speed)}
    of_speed = {i: g for g in cluster_speed for i in g}
    of_batch = {i: g for g in groups(batch) for i in g}
    same = sum(1 for i in idents if of_speed[i] == of_batch[i])
    value = sum(1 for i in idents if speed[i] == batch[i])
    print(f"same cluster: {same}/{len(idents)}; same UCID value: {value}/{len(idents)}")
    assert same / len(idents) >= 0.999, f"only {same}/{len(idents)} identifiers in the same cluster"
    assert value / len(idents) >= 0.999, f"only {value}/{len(idents)} identifiers on the same UCID value"
