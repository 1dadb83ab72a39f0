"""SIGKILL one Spark executor (a separate JVM of the ``local-cluster`` master) during the batch
``resolve``: the run finishes, with the same assignments as an undisturbed run of the same data."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from infra import proc, spark_server

from .conftest import REPO, UCID, record

NOW = 1_770_000_000


def executors(settings) -> list[int]:
    """Pids of the executor JVMs of the stack's Spark server (its children)."""
    server = proc.running_pid(spark_server.managed(settings))
    assert server is not None, "no Spark server of the stack runs (UCID_SPARK_SERVER)"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == server and b"CoarseGrainedExecutorBackend" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _assignments(path: Path) -> list[tuple[str, str, str]]:
    with path.open() as fh:
        return [tuple(row) for row in csv.reader(fh)][1:]


def test_an_executor_killed_during_resolve(base_settings, tmp_path) -> None:
    settings = base_settings
    if not settings.spark.master.startswith("local-cluster") or not settings.spark.server:
        pytest.fail(f"needs the stack's Spark server on a local-cluster master, not {settings.spark.master}")
    landing = tmp_path / "landing"
    subprocess.run([*UCID, "generate", "--customers", "150", "--seed", "7", "--days", "3", "--out", str(landing),
                    "--quiet"], cwd=REPO, check=True, capture_output=True, timeout=300)

    def env(lake: str) -> dict[str, str]:
        return {**os.environ, "UCID_LAKE_DIR": str(tmp_path / lake), "UCID_LANDING_DIR": str(landing),
                "UCID_BATCH_SPEED_STATE": "false", "PYTHONUNBUFFERED": "1"}

    def batch(lake: str, stages: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*UCID, "batch", "run", "--stages", stages, "--now", str(NOW)], env=env(lake),
                              cwd=REPO, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-4000:]
        return done

    def export(lake: str) -> list[tuple[str, str, str]]:
        out = tmp_path / f"{lake}.csv"
        subprocess.run([*UCID, "export", "assignments", "--out", str(out)], env=env(lake), cwd=REPO,
                       check=True, capture_output=True, timeout=600)
        return _assignments(out)

    stages = "ingest,normalize,resolve"  # one run: a resolve of its own would be skipped (nothing new)
    done = batch("clean", stages)
    clean_out = done.stdout + done.stderr
    clean_s = float(re.search(r"seconds=([\d.]+) stage=resolve", clean_out).group(1))
    clean = export("clean")

    before = executors(settings)
    assert len(before) == 2, f"expected 2 executor JVMs, found {before}"
    log_path = tmp_path / "fault-run.log"
    log = open(log_path, "w")
    resolve = subprocess.Popen([*UCID, "batch", "run", "--stages", stages, "--now", str(NOW)], env=env("fault"),
                               cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 1200
    while "stage=resolve" not in log_path.read_text(errors="replace"):
        assert resolve.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    started = time.monotonic()
    time.sleep(clean_s * 0.4)
    assert resolve.poll() is None, "the run finished before the kill: nothing tested"
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic() - started
    code = resolve.wait(1800)
    output = log_path.read_text(errors="replace")
    assert code == 0, f"the run failed after the executor was killed:\n{output[-4000:]}"
    fault_s = float(re.search(r"seconds=([\d.]+) stage=resolve", output).group(1))
    fault = export("fault")
    deadline = time.monotonic() + 120
    while len(executors(settings)) < 2 and time.monotonic() < deadline:  # the worker starts a new one
        time.sleep(1)
    after = executors(settings)

    record("spark_executor_kill", settings, {
        "assignments": len(clean), "equal_to_clean_run": fault == clean, "clean_resolve_s": clean_s,
        "killed_at_s": round(killed_at, 1), "faulted_resolve_s": fault_s,
        "executors_before": len(before), "executors_after": len(after),
    })
    assert clean, "the clean run assigned nothing"
    assert fault == clean, (f"{len(set(fault) ^ set(clean))} assignments differ from the clean run, e.g. "
                            f"{sorted(set(fault) ^ set(clean))[:5]}")
    assert victim not in after
