"""The main job's plumbing without the stack: which files land and which events go live, and how a
failing step is reported (named, with its log) while what was started is stopped."""

from __future__ import annotations

import json
from datetime import date

import pytest
from rich.console import Console

from infra.settings import Settings
from ucid.demo import Demo, DemoConfig, StepFailed, land, main


@pytest.fixture
def demo(tmp_path):
    settings = Settings(home=tmp_path / "home", landing_dir=tmp_path / "landing")
    config = DemoConfig(customers=100, seed=1, days=5, start_date=date(2026, 1, 1), live_days=2,
                        work_dir=tmp_path / "demo")
    console = Console(record=True, width=200, force_terminal=False)
    return Demo(settings, config, console=console)


def _write(path, text="x\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_land_holds_back_the_live_days_of_the_stream_sources(demo):
    gen = demo.generated / "landing"
    for day in ("2026-01-03", "2026-01-04", "2026-01-05"):
        _write(gen / "web" / day / "part-00000.jsonl")
        _write(gen / "crm" / day / "part-00000.csv")
    _write(gen / "manifest.json", "{}")
    _write(gen / "truth" / "truth.csv", "source,record_id,person_id\n")
    events = [{"event_id": str(i), "event_time": f"2026-01-0{d}T10:00:00Z"} for i, d in enumerate((3, 4, 4, 5))]
    _write(demo.generated / "stream.jsonl", "".join(json.dumps(e) + "\n" for e in events))

    assert demo.config.cutoff == date(2026, 1, 4)
    got = land(demo)

    landed = sorted(str(p.relative_to(demo.settings.landing)) for p in demo.settings.landing.rglob("*") if p.is_file())
    assert landed == ["crm/2026-01-03/part-00000.csv", "crm/2026-01-04/part-00000.csv",
                      "crm/2026-01-05/part-00000.csv", "web/2026-01-03/part-00000.jsonl"]
    assert got == {"files": 4, "held_back": 2, "live_events": 3}
    live = [json.loads(line)["event_id"] for line in demo.live_file.read_text().splitlines()]
    assert live == ["1", "2", "3"]
    assert land(demo) == got  # landing again changes nothing


def test_a_failing_step_is_named_with_its_log_and_started_children_are_stopped(demo):
    sleeper = {}

    def start_sleeper():
        sleeper["p"] = demo.start("speed", ["sleep", "120"])

    steps = [
        ("speed", "a long-running child", start_sleeper),
        ("batch", "a job that fails", lambda: demo.run("batch", ["sh", "-c", "echo 'boom: table missing'; exit 3"])),
        ("api", "never reached", lambda: pytest.fail("a step after a failure ran")),
    ]
    assert main(demo, steps) == 1
    out = demo.console.export_text()
    assert "demo failed at step 'batch': exit code 3" in out
    assert f"log: {demo.log('batch')}" in out
    assert "boom: table missing" in out  # the log's last lines are shown
    assert sleeper["p"].poll() is not None, "the child the demo started still runs"


def test_an_unexpected_error_names_the_step(demo):
    def broken():
        raise FileNotFoundError("no such file: stream.jsonl")

    assert main(demo, [("land", "land the sources", broken)]) == 1
    assert "demo failed at step 'land': FileNotFoundError: no such file: stream.jsonl" in demo.console.export_text()


def test_run_raises_with_the_log_and_keeps_the_output(demo):
    with pytest.raises(StepFailed) as err:
        demo.run("x", ["sh", "-c", "echo out; echo err >&2; exit 2"])
    assert err.value.step == "x" and err.value.log == demo.log("x")
    assert "out\nerr\n" in demo.log("x").read_text()
    assert demo.run("y", ["sh", "-c", "echo fine"]) == "fine\n"


_WAITING_DEMO = """
import sys, time
from datetime import date
from pathlib import Path
from rich.console import Console
from infra.settings import Settings
from ucid.demo import Demo, DemoConfig, main

tmp = Path(sys.argv[1])
demo = Demo(Settings(home=tmp / "home", landing_dir=tmp / "landing"),
            DemoConfig(customers=100, seed=1, days=5, start_date=date(2026, 1, 1), live_days=2, work_dir=tmp / "demo"),
            console=Console(width=200))

def wait():
    print("waiting", flush=True)
    time.sleep(60)

sys.exit(main(demo, steps=[("wait", "a step that waits", wait)]))
"""


def test_ctrl_c_stops_the_demo_even_when_started_with_sigint_ignored(tmp_path):
    """A background job of a non-interactive shell starts with SIGINT ignored, and Python then
    installs no KeyboardInterrupt handler: the demo installs its own, so Ctrl-C still stops it."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        ["sh", "-c", 'trap "" INT; exec "$0" "$@"', sys.executable, "-c", _WAITING_DEMO, str(tmp_path)],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "waiting" not in line:
            assert time.monotonic() < deadline and child.poll() is None, line
            line = child.stdout.readline()
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=20) == 0
        assert "stopping" in child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
