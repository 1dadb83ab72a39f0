"""SIGKILL one Cassandra node during the batch ``publish``: the publish completes at quorum, or it
fails and a re-run (the node still down) completes; either way the keyspace then holds every row
the publish wrote and the lambda contract holds: every identifier resolves, through its UCID's
row and its aliases, to a live UCID (docs/lambda-contract.md, rules 1 and 2)."""

from __future__ import annotations

import re
import subprocess
import time

from infra import cassandra

from .conftest import KEYSPACE, REPO, UCID, kill, record, restart

NOW = 1_770_000_000
KILLED = 2


def _written(output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2).replace(",", "")) for m in re.finditer(r"publish (\w+): ([\d,]+) rows", output)}


def test_a_cassandra_node_killed_during_publish(faults, tmp_path) -> None:
    from infra.store import Store
    from speed.resolve import live_ucid

    settings = faults.settings
    landing = tmp_path / "landing-batch"
    subprocess.run([*UCID, "generate", "--customers", "300", "--seed", "5", "--days", "3", "--out", str(landing),
                    "--quiet"], cwd=REPO, check=True, capture_output=True, timeout=300)
    env = {**faults.env, "UCID_LAKE_DIR": str(tmp_path / "lake"), "UCID_LANDING_DIR": str(landing),
           "UCID_BATCH_SPEED_STATE": "false", "UCID_BATCH_PUBLISH_CONCURRENCY": "8"}
    args = [*UCID, "batch", "run", "--now", str(NOW)]
    log = tmp_path / "publish.log"
    with log.open("w") as out:
        # one run (a publish run of its own would be skipped: nothing new since the last run)
        publish = subprocess.Popen([*args, "--stages", "ingest,normalize,resolve,profiles,publish"], env=env, cwd=REPO,
                                   stdout=out,
                                   stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 1200
        while not re.search(r"publish \w+ in [\d.]+ s", log.read_text(errors="replace")) and publish.poll() is None:
            assert time.monotonic() < deadline, "publish wrote nothing in 1200 s"
            time.sleep(0.2)  # its first step is written: kill while the others are
        assert publish.poll() is None, "publish finished before the kill: nothing tested"
        kill(cassandra.managed(settings, KILLED))
        first_code = publish.wait(1800)
    output = log.read_text(errors="replace")
    rerun = None
    if first_code != 0:  # failed: a re-run with the node still down must complete
        rerun = subprocess.run([*args, "--stages", "publish"], env=env, cwd=REPO, capture_output=True, text=True,
                               timeout=1800)
        assert rerun.returncode == 0, f"the re-run failed too:\n{rerun.stderr[-4000:]}"
        output = rerun.stderr + rerun.stdout
    written = _written(output)
    back_s = restart(settings, cassandra, KILLED)

    store = Store(faults.session, settings.cassandra)
    identifiers = faults.rows("identifiers", "id_type, id_value, ucid")
    unresolved = [(r.id_type, r.id_value, r.ucid) for r in identifiers if live_ucid(store, r.ucid) is None]
    counts = {t: faults.count(t) for t in ("identifiers", "ucids", "profiles")}
    record("publish_kill", settings, {
        "killed": cassandra.name(KILLED), "first_publish_exit": first_code, "rerun": rerun is not None,
        "written": {t: written.get(t) for t in counts}, "rows": counts, "unresolved": len(unresolved),
        "node_back_s": round(back_s, 1), "keyspace": KEYSPACE,
    })
    assert written.get("identifiers"), f"no identifiers written?\n{output[-3000:]}"
    for table in counts:
        if table in written:
            assert counts[table] == written[table], f"{table}: {counts[table]} rows, publish wrote {written[table]}"
    assert not unresolved, f"{len(unresolved)} identifiers resolve to no live UCID, e.g. {unresolved[:5]}"
