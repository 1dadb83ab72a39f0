"""The main job (``make demo`` / ``ucid demo``): the whole platform on one machine, end to end.

1. the local stack (Kafka, Cassandra) comes up;
2. a data set is generated (``--customers``, ``--seed``): eight sources plus the event stream;
3. the landing zone receives every source except the last ``--live-days`` days of the event
   sources -- those days are the "live" part, replayed later through Kafka;
4. Airflow runs the ``ucid_batch`` DAG once (``airflow dags test``): ingest .. publish, gated by
   the Great Expectations suites;
5. the speed layer (``ucid speed run``) starts, and ``ucid produce`` replays the live days as a
   stream at ``--rate`` events/s: identifiers seen there for the first time get UCIDs in real time;
6. the API (``ucid serve``) starts, a key is created (with the agent console's scopes too), and the
   demo prints curl lines that work on this data (also written to ``<demo dir>/try.sh``) and the
   agent console's URL with that key.

Then it waits until Ctrl-C (or SIGTERM) and stops everything it started, the stack included if it
was not already up. Each step's output goes to ``<log dir>/demo/<step>.log``; a failure names the
step and its log and shows the log's last lines.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console

from infra.settings import REPO_ROOT, Settings

STREAM_SOURCES = ("web", "app", "email_campaigns", "contact_center", "consents")  # what the stream carries
DAG_ID = "ucid_batch"


class StepFailed(RuntimeError):
    def __init__(self, step: str, detail: str, log: Path | None = None) -> None:
        self.step, self.detail, self.log = step, detail, log
        super().__init__(f"step '{step}' failed: {detail}" + (f" (log: {log})" if log else ""))


@dataclass(frozen=True)
class DemoConfig:
    customers: int = 5000
    seed: int = 7
    days: int = 30
    start_date: date = date(2026, 1, 1)
    live_days: int = 2
    rate: float = 20.0
    api_port: int = 8000
    speed_metrics_port: int = 9464
    wait: bool = True  # False: stop everything as soon as the demo is ready
    work_dir: Path | None = None  # generated data, live stream, Airflow home, try.sh; default HOME/demo

    @property
    def cutoff(self) -> date:
        """The first live day: events from here on come through Kafka, not the landing zone."""
        return self.start_date + timedelta(days=self.days - self.live_days)


@dataclass
class Demo:
    settings: Settings
    config: DemoConfig
    console: Console = field(default_factory=Console)
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_stack: bool = False

    # -- paths --------------------------------------------------------------------------------
    @property
    def dir(self) -> Path:
        return self.config.work_dir or self.settings.home / "demo"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    def log(self, step: str) -> Path:
        return self.logs / f"{step}.log"

    @property
    def generated(self) -> Path:
        return self.dir / f"generated-{self.config.customers}-{self.config.seed}-{self.config.days}"

    @property
    def live_file(self) -> Path:
        return self.dir / f"live-from-{self.config.cutoff}.jsonl"

    @property
    def airflow_home(self) -> Path:
        return self.dir / "airflow"

    def env(self, **extra: str) -> dict[str, str]:
        """The children's environment: the settings in force, the demo's landing and lake."""
        return {**os.environ, "UCID_HOME": str(self.settings.home), "UCID_LANDING_DIR": str(self.settings.landing),
                "UCID_LAKE_DIR": str(self.settings.lake), "UCID_LOG_FORMAT": "json", **extra}

    def airflow_env(self) -> dict[str, str]:
        home = self.airflow_home
        return self.env(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
                        AIRFLOW__CORE__LOAD_EXAMPLES="False",
                        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db")

    # -- running children ---------------------------------------------------------------------
    def run(self, step: str, argv: list[str], env: dict[str, str] | None = None, show=None,
            timeout_s: float = 3600) -> str:
        """Run ``argv`` to completion, its output into the step's log; lines for which ``show``
        returns text are shown as progress. Return the output; raise :class:`StepFailed`."""
        log = self.log(step)
        log.parent.mkdir(parents=True, exist_ok=True)
        out: list[str] = []
        started = time.monotonic()
        with open(log, "a", encoding="utf-8") as fh, self.console.status(f"{step} ...") as status:
            fh.write(f"\n$ {' '.join(argv)}\n")
            child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env or self.env(), cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
            self.children[step] = child
            timer = threading.Timer(timeout_s, child.kill)
            timer.start()
            try:
                for line in child.stdout:
                    fh.write(line)
                    out.append(line)
                    text = show(line) if show else None
                    if text:
                        self.console.print(f"  [dim]{time.monotonic() - started:6.0f}s[/dim] {text}")
                    status.update(f"{step} ... {time.monotonic() - started:.0f}s")
                code = child.wait()
            finally:
                timer.cancel()
                self.children.pop(step, None)
        if code != 0:
            raise StepFailed(step, f"exit code {code}", log)
        return "".join(out)

    def start(self, step: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a long-running child (its own session: Ctrl-C reaches the demo, which stops it)."""
        log = self.log(step)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"\n$ {' '.join(argv)}\n")
            fh.flush()
            child = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env or self.env(),
                                     cwd=REPO_ROOT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.children[step] = child
        return child

    def check_alive(self, step: str) -> None:
        child = self.children.get(step)
        if child is not None and child.poll() is not None:
            raise StepFailed(step, f"exited with code {child.returncode}", self.log(step))

    def stop_children(self) -> None:
        """SIGTERM every child (API first, the speed layer last: it drains), SIGKILL after 30 s."""
        order = [n for n in ("api", "produce", "speed") if n in self.children]
        order += [n for n in self.children if n not in order]
        for name in order:
            child = self.children.pop(name)
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                self.console.print(f"stopped {name}")


def ucid(*args: str) -> list[str]:
    return [sys.executable, "-m", "ucid.cli", *args]


def airflow(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("airflow")), *args]


# -- the steps --------------------------------------------------------------------------------

def stack_up(demo: Demo) -> None:
    from infra import stack

    demo.started_stack = not all(s.answering for s in stack.status(demo.settings))
    demo.run("stack", ucid("stack", "up"), env=demo.env(COLUMNS="160", UCID_LOG_FORMAT="console"), show=_stack_line)


def _stack_line(line: str) -> str | None:
    text = line.strip()
    keep = ("fetch", " up ", " up(", "already", "schema", "topics", "stack up", "started", "starting")
    noise = ("Bootstrap", '{"', "Connection")
    return text[:120] if text and any(k in text for k in keep) and not any(n in text for n in noise) else None


def generate(demo: Demo) -> None:
    cfg = demo.config
    if (demo.generated / "landing" / "manifest.json").exists() and (demo.generated / "stream.jsonl").exists():
        demo.console.print(f"  already generated: {demo.generated}")
        return
    shutil.rmtree(demo.generated, ignore_errors=True)
    demo.run("generate", ucid("generate", "--customers", str(cfg.customers), "--seed", str(cfg.seed), "--days",
                              str(cfg.days), "--start-date", cfg.start_date.isoformat(), "--out",
                              str(demo.generated / "landing"), "--stream", str(demo.generated / "stream.jsonl"),
                              "--quiet"))


def land(demo: Demo) -> dict[str, int]:
    """Hard-link the batch part into the landing zone; write the live part of the stream.

    Every file of the profile sources, and of the event sources the days before the cutoff, goes
    to the landing zone (a file already there is left alone: the batch ingests a file once). The
    stream's events from the cutoff on become the live file.
    """
    cutoff = demo.config.cutoff.isoformat()
    source_root = demo.generated / "landing"
    landing = demo.settings.landing
    files = held = 0
    for path in sorted(source_root.rglob("*")):
        if not path.is_file() or path.parent == source_root or path.relative_to(source_root).parts[0] == "truth":
            continue
        source, day = path.relative_to(source_root).parts[:2]
        if source in STREAM_SOURCES and day >= cutoff:
            held += 1
            continue
        target = landing / path.relative_to(source_root)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
        files += 1
    live = 0
    tmp = demo.live_file.with_suffix(".tmp")
    with open(demo.generated / "stream.jsonl", encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
        for line in src:
            if json.loads(line)["event_time"][:10] >= cutoff:
                dst.write(line)
                live += 1
    tmp.replace(demo.live_file)
    return {"files": files, "held_back": held, "live_events": live}


def _airflow_line(line: str) -> str | None:
    """The DAG's tasks announce themselves as ``ucid batch <stage>: run ...``: show the stage."""
    text = line.strip()
    return "task " + text.split(":", 1)[0].removeprefix("ucid batch ") if text.startswith("ucid batch ") else None


def batch_dag(demo: Demo) -> None:
    """``airflow db migrate`` (first time only) and one ``airflow dags test`` run at the cutoff."""
    demo.airflow_home.mkdir(parents=True, exist_ok=True)
    env = demo.airflow_env()
    if not (demo.airflow_home / "airflow.db").exists():
        demo.run("airflow-db", airflow("db", "migrate"), env=env)
    demo.run("airflow-dag", airflow("dags", "test", DAG_ID, demo.config.cutoff.isoformat()), env=env,
             show=_airflow_line)
    _check_dag_run(demo)


def _check_dag_run(demo: Demo) -> None:
    """``dags test`` exits 0 even when a task failed: read the run's task states."""
    from infra.airflow import task_states

    states = task_states(demo.airflow_home, DAG_ID, demo.config.cutoff.isoformat())
    bad = sorted(f"{task}={state}" for task, state in states.items() if state != "success")
    if not states or bad:
        raise StepFailed("airflow-dag", "tasks not successful: " + (", ".join(bad) or "no task ran"),
                         demo.log("airflow-dag"))


def speed(demo: Demo) -> None:
    env = demo.env(UCID_SPEED_METRICS_PORT=str(demo.config.speed_metrics_port))
    demo.start("speed", ucid("speed", "run"), env=env)
    time.sleep(5)
    demo.check_alive("speed")
    demo.start("produce", ucid("produce", str(demo.live_file), "--rate", str(demo.config.rate), "--quiet"))


def api(demo: Demo) -> str:
    """Start the API, wait until /ready answers 200; create a key and return it (its scopes open
    the curl lines and the agent console: resolve, profile:read, explain, console)."""
    port = demo.config.api_port
    demo.start("api", ucid("serve", "--port", str(port)))
    deadline = time.monotonic() + 120
    while True:
        demo.check_alive("api")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StepFailed("api", "not ready after 120 s", demo.log("api"))
        time.sleep(1)
    out = demo.run("api-key", ucid("keys", "create", "--name", "demo", "--scope", "resolve", "--scope",
                                   "profile:read", "--scope", "explain", "--scope", "console"))
    return out.strip().splitlines()[-1]


# -- what to try ------------------------------------------------------------------------------

def _sample(demo: Demo) -> dict:
    """A published customer with an e-mail, a phone and a crm id; an identifier first seen live."""
    from infra import cql
    from infra.store import Store

    with cql.quiet_driver():
        store = Store.connect(demo.settings.cassandra)
    with store:
        by_ucid: dict[str, dict[str, str]] = {}
        for row in store.scan("scan_members", 20000):
            by_ucid.setdefault(row.ucid, {})[row.id_type] = row.id_value
        ucid_, ids = next(((u, i) for u, i in sorted(by_ucid.items()) if {"email", "phone", "crm_id"} <= set(i)),
                          (None, {}))
        live = None
        with open(demo.live_file, encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if n > 3000:
                    break
                for id_type in ("cookie_id", "device_id"):
                    value = json.loads(line)["identifiers"].get(id_type)
                    if value and store.one("get_identifier", id_type, value) is None:
                        live = (id_type, value)
                        break
                if live:
                    break
    if ucid_ is None:
        raise StepFailed("try", "no published customer with an e-mail, a phone and a crm id")
    return {"ucid": ucid_, "ids": ids, "live": live}


def _wait_resolvable(demo: Demo, key: str, id_type: str, value: str, timeout_s: float = 180) -> bool:
    url = (f"http://127.0.0.1:{demo.config.api_port}/v1/resolve?"
           + urllib.parse.urlencode({"type": id_type, "value": value}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        demo.check_alive("speed")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"X-API-Key": key}), timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(2)
    return False


def try_lines(demo: Demo, key: str) -> list[str]:
    """The curl lines to print (and to write to try.sh), on real values of this data set."""
    s = _sample(demo)
    base = f"localhost:{demo.config.api_port}"
    h = '-H "X-API-Key: $UCID_KEY"'
    q = urllib.parse.quote
    email, phone, crm = s["ids"]["email"], s["ids"]["phone"], s["ids"]["crm_id"]
    body = json.dumps({"identifiers": [{"type": "phone", "value": phone}, {"type": "crm_id", "value": crm.lower()},
                                       {"type": "email", "value": "test@test.com"}]})
    lines = [
        f"export UCID_KEY={key}",
        f"curl -fsS {base}/ready",
        f'curl -fsS {h} "{base}/v1/resolve?type=email&value={q(email.upper())}"',
        f"curl -fsS {h} -H 'Content-Type: application/json' {base}/v1/resolve/batch -d '{body}'",
        f'curl -fsS {h} "{base}/v1/profiles/{s["ucid"]}?limit=3"',
        f'curl -fsS {h} "{base}/v1/profiles/by-identifier?type=crm_id&value={q(crm)}&limit=3"',
        f'curl -fsS {h} "{base}/v1/explain?a_type=email&a_value={q(email)}&b_type=phone&b_value={q(phone)}"',
    ]
    if s["live"]:
        id_type, value = s["live"]
        if _wait_resolvable(demo, key, id_type, value):
            lines.append(f'curl -fsS {h} "{base}/v1/resolve?type={id_type}&value={q(value)}"'
                         "   # first seen in the live stream")
    lines.append(f"curl -fsS localhost:{demo.config.speed_metrics_port}/metrics | grep -E '^ucid_speed_(events|stitch)'")
    return lines


# -- the whole job ----------------------------------------------------------------------------

def _stop_on_sigterm(signum, frame):  # SIGTERM behaves like Ctrl-C: stop what we started
    raise KeyboardInterrupt


def default_steps(demo: Demo) -> list[tuple[str, str, object]]:
    cfg = demo.config
    return [
        ("stack", "start Kafka and Cassandra (jars from Maven Central, cached)", lambda: stack_up(demo)),
        ("generate", f"generate {cfg.customers:,} customers, {cfg.days} days (seed {cfg.seed})", lambda: generate(demo)),
        ("land", f"land the sources; events from {cfg.cutoff} on are held back as the live stream", lambda: land(demo)),
        ("airflow-dag", f"run the Airflow DAG {DAG_ID} once (batch layer, logical date {cfg.cutoff})",
         lambda: batch_dag(demo)),
        ("speed", f"start the speed layer and replay the live stream at {cfg.rate:g} events/s", lambda: speed(demo)),
        ("api", f"start the API on port {cfg.api_port} and create a key", lambda: api(demo)),
    ]


def main(demo: Demo, steps: list | None = None) -> int:
    """Run every step, print what to try, wait for Ctrl-C; stop everything it started. Exit code.

    ``steps`` (name, title, function) default to :func:`default_steps`; the ``api`` step returns
    the key the curl lines use, and the curl lines are printed only after an ``api`` step.
    """
    console, cfg = demo.console, demo.config
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # Ctrl-C stops the demo even when it was started with SIGINT ignored (a background job of a
    # non-interactive shell inherits that, and Python then installs no KeyboardInterrupt handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    steps = default_steps(demo) if steps is None else steps
    key = None
    try:
        demo.dir.mkdir(parents=True, exist_ok=True)
        for n, (name, title, func) in enumerate(steps, 1):
            console.rule(f"[bold]{n}/{len(steps)} {title}")
            t0 = time.monotonic()
            result = _step(demo, name, func)
            if name == "api":
                key = result
            elif result:
                console.print(f"  {result}")
            where = f" (log: {demo.log(name)})" if demo.log(name).exists() else ""
            console.print(f"  [green]done[/green] in {time.monotonic() - t0:.0f} s{where}", highlight=False)
        if key is None:
            return 0
        console.rule("[bold]what to try")
        lines = _step(demo, "try", lambda: try_lines(demo, key))
        try_file = demo.dir / "try.sh"
        try_file.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + "\n".join(lines) + "\n")
        ready = time.monotonic() - started
        _print_ready(demo, lines, try_file, ready, key)
        if not cfg.wait:
            return 0
        while True:
            for name in ("speed", "api"):
                demo.check_alive(name)
            producer = demo.children.get("produce")
            if producer is not None and producer.poll() is not None:
                demo.children.pop("produce")
                if producer.returncode != 0:  # a producer that failed fails the demo
                    raise StepFailed("produce", f"exited with code {producer.returncode}", demo.log("produce"))
                console.print("the live stream has been replayed; the speed layer keeps consuming")
            time.sleep(2)
    except StepFailed as exc:
        console.print(f"\n[red bold]demo failed at step '{exc.step}':[/red bold] {exc.detail}", highlight=False)
        if exc.log:
            from infra.proc import tail

            console.print(f"log: {exc.log}", highlight=False, soft_wrap=True)
            console.print(tail(exc.log, 25), markup=False, highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("\nstopping ...")
        return 0
    finally:
        demo.stop_children()
        if demo.started_stack:
            subprocess.run(ucid("stack", "down"), env=demo.env(), cwd=REPO_ROOT, check=False)
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _step(demo: Demo, name: str, func):
    """Run one step; any error becomes a :class:`StepFailed` naming the step (and its log)."""
    try:
        return func()
    except (StepFailed, KeyboardInterrupt):
        raise
    except Exception as exc:
        log = demo.log(name)
        raise StepFailed(name, f"{type(exc).__name__}: {exc}", log if log.exists() else None) from exc


def _print_ready(demo: Demo, lines: list[str], try_file: Path, seconds: float, key: str = "") -> None:
    console, home = demo.console, demo.airflow_home
    console.print(f"[green bold]ready in {seconds / 60:.1f} min[/green bold] -- the API on "
                  f"http://127.0.0.1:{demo.config.api_port} (OpenAPI: /docs), the speed layer consuming the "
                  "live stream.\n")
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    console.print(f"\n(all of them: bash {try_file})\n")
    console.print(f"agent console: http://127.0.0.1:{demo.config.api_port}/console   (key: {key or '$UCID_KEY'})",
                  soft_wrap=True, highlight=False, markup=False)
    console.print(f"notebooks:   .venv/bin/jupyter lab notebooks/   (they read the lake at {demo.settings.lake})")
    console.print(f"Airflow UI:  not started; to start it: AIRFLOW_HOME={home} "
                  "AIRFLOW__CORE__DAGS_FOLDER=dags .venv/bin/airflow standalone   (then http://localhost:8080)")
    console.print(f"logs:        {demo.logs}/   servers: {demo.settings.logs}/")
    if demo.config.wait:
        console.print("\n[bold]Ctrl-C stops everything the demo started.[/bold]")
