"""The main job (`ucid demo`, what `make demo` runs) end to end on the real stack.

A small data set (300 customers) in a keyspace and topics of its own: the demo brings the stack
up (already up here: it must leave it running), generates, lands, runs the Airflow DAG, starts
the speed layer on the live stream and the API, and prints curl lines. The test runs exactly the
printed lines (``try.sh``, checked to be what was printed), including one resolving an identifier
seen only in the live stream, then sends Ctrl-C (SIGINT) and checks that everything the demo
started has stopped and the stack it did not start still runs.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import suite_env, suite_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_demo_runs_end_to_end_and_its_curl_lines_work(stack, settings, tmp_path, airflow_db):
    api_port, metrics_port = _free_port(), _free_port()
    # a keyspace, topics and consumer group of its own (``<base>_demo[_gwN]``)
    env = suite_env(suite_settings(stack, "demo"), UCID_LANDING_DIR=str(tmp_path / "landing"),
                    UCID_LAKE_DIR=str(tmp_path / "lake"), UCID_LOG_LEVEL="WARNING", COLUMNS="200")
    work = tmp_path / "demo"
    # the run's migrated Airflow database (the demo migrates only when it has none: a second
    # `make demo` does the same)
    (work / "airflow").mkdir(parents=True)
    shutil.copyfile(airflow_db, work / "airflow" / "airflow.db")
    demo = subprocess.Popen(
        [sys.executable, "-m", "ucid.cli", "demo", "--customers", "300", "--seed", "3", "--rate", "50", "--port",
         str(api_port), "--metrics-port", str(metrics_port), "--dir", str(work)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(demo.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 3000
        while "Ctrl-C stops everything" not in "".join(output):
            assert demo.poll() is None, "the demo exited before it was ready:\n" + "".join(output)[-5000:]
            assert time.monotonic() < deadline, "the demo was not ready in time:\n" + "".join(output)[-5000:]
            time.sleep(2)
        printed = "".join(output)
        assert "ready in" in printed
        lines = (work / "try.sh").read_text().splitlines()[2:]  # after the shebang and `set -euo pipefail`
        assert lines[0].startswith("export UCID_KEY=ucid_")
        for line in lines:
            assert line in printed, f"try.sh holds a line the demo did not print: {line}"
        assert any(line.endswith("# first seen in the live stream") for line in lines), printed[-3000:]
        results = {}
        for line in lines[1:]:
            run = subprocess.run(["bash", "-c", f"set -euo pipefail; {lines[0]}; {line}"], capture_output=True,
                                 text=True, timeout=60)
            assert run.returncode == 0, f"{line}\n{run.stdout}\n{run.stderr}"
            results[line] = run.stdout
        assert any('"status":"ready"' in out.replace(" ", "") for out in results.values())
        live = next(out for line, out in results.items() if line.endswith("# first seen in the live stream"))
        assert '"ucid":"U' in live.replace(" ", "")
        assert any(out.startswith("ucid_speed_events_total") for out in results.values())
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)  # Ctrl-C
        code = demo.wait(timeout=180)
        reader.join(timeout=10)
    assert code == 0, "".join(output)[-3000:]
    tail = "".join(output)[-2000:]
    for name in ("api", "speed"):  # the producer may have finished the live stream already
        assert f"stopped {name}" in tail, tail
    assert not _listening(api_port) and not _listening(metrics_port), "a process the demo started still runs"
    from infra import stack as stack_mod

    assert all(s.answering for s in stack_mod.status(settings)), "the demo stopped a stack it did not start"
