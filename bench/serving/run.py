"""Serving benchmark: lookup throughput against a no-op endpoint, and lookup p99 against the raw
driver's p99 for the same rows, on a table of at least 1 M identifiers.

    .venv/bin/python -m bench.serving.run [--identifiers 1000000] [--workers 2] [--duration 20]

Steps: load the ``ucid_bench`` keyspace (``UCID_BENCH_KEYSPACE``) once (``load.py``), create an
API key, start ``ucid serve`` (uvicorn, ``--workers``) on loopback, then with ``wrk``:

1. throughput: ``GET /v1/noop`` and ``GET /v1/resolve`` (random identifiers of the table), same
   app, same workers, same connections; figure = resolve req/s / no-op req/s (goal >= 0.5);
2. latency: the same resolves over one connection (no queueing), wrk's p99, against the p99 of
   the raw driver reading the same rows one at a time (goal: within +3 ms). The raw driver is
   timed for the identifiers read alone and for the two reads a resolve makes
   (identifiers, then ucids).

Everything runs on one machine shared with Cassandra: the figures are ratios of one run. They go
to ``bench/serving/results.json`` (``--out``) with the command line, date, commit and machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from bench.serving.load import identifier, load

from bench.results import provenance, write_results  # noqa: E402

KEYSPACE = os.environ.get("UCID_BENCH_KEYSPACE", "ucid_bench")  # another keyspace for trial runs
REPO = Path(__file__).resolve().parents[2]


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _wrk_lua(paths: list[str], token: str, out: Path) -> Path:
    lines = ",\n".join(json.dumps(p) for p in paths)
    out.write_text(
        f'wrk.headers["X-API-Key"] = "{token}"\n'
        f"local paths = {{\n{lines}\n}}\n"
        "local n = #paths\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i + 1\n"
        "  return wrk.format('GET', paths[(i * 7919) % n + 1])\n"
        "end\n"
        "local errors = 0\n"
        "response = function(status, headers, body)\n"
        "  if status ~= 200 then errors = errors + 1 end\n"
        "end\n"
        "done = function(summary, latency, requests)\n"
        "  io.write(string.format('P99_US %d\\nP50_US %d\\nNON2XX %d\\n', latency:percentile(99), latency:percentile(50), summary.errors.status))\n"
        "end\n"
    )
    return out


def _wrk(url: str, lua: Path, connections: int, threads: int, seconds: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = int(re.search(r"P99_US (\d+)", out).group(1)) / 1000
    p50 = int(re.search(r"P50_US (\d+)", out).group(1)) / 1000
    non2xx = int(re.search(r"NON2XX (\d+)", out).group(1))
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non_2xx": non2xx,
            "socket_errors": errors.group(0) if errors else None}


def _raw_driver(store, rows: list[tuple[str, str]]) -> dict:
    """p50 / p99 of the driver reading the same ``identifiers`` rows one at a time (blocking
    execute of the data-access store's prepared statement), and of the two dependent reads a
    resolve made before the identifiers row carried the live status (identifiers, then ucids)."""
    ident, ucid = store.statement("get_identifier"), store.statement("get_ucid")
    one, two = [], []
    for t, v in rows:
        started = time.perf_counter()
        row = store.session.execute(ident, (t, v)).one()
        middle = time.perf_counter()
        store.session.execute(ucid, (row.ucid,)).one()
        ended = time.perf_counter()
        one.append((middle - started) * 1000)
        two.append((ended - started) * 1000)
    return {"one_read_p50_ms": _percentile(one, 0.5), "one_read_p99_ms": _percentile(one, 0.99),
            "two_reads_p50_ms": _percentile(two, 0.5), "two_reads_p99_ms": _percentile(two, 0.99)}


def _identifier_reads(base: str) -> float | None:
    """Mean identifiers per Cassandra read so far (every worker; the API coalesces the resolves
    of one event-loop turn into ``IN`` reads), from ``/metrics``."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    sums = re.findall(r"^ucid_serving_identifier_read_keys_(sum|count)\s+([\d.e+]+)$", text, re.M)
    values = {k: float(v) for k, v in sums}
    return round(values["sum"] / values["count"], 2) if values.get("count") else None


def _start_server(port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "UCID_CASSANDRA_KEYSPACE": KEYSPACE, "UCID_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "ucid.cli", "serve", "--port", str(port), "--workers", str(workers)],
                            env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("ucid serve exited")
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)  # else it is left running (and becomes ready later)
    proc.wait(timeout=30)
    raise SystemExit("ucid serve not ready in 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identifiers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (both endpoints)")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk phase")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections in the throughput phases")
    parser.add_argument("--sample", type=int, default=20_000, help="distinct identifiers requested")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--out", "--json", dest="out", type=Path, default=REPO / "bench" / "serving" / "results.json",
                        help="results file (default: %(default)s)")
    args = parser.parse_args()
    run = provenance("serving", args)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH")

    from infra import schema
    from infra.log import configure
    from infra.settings import CassandraSettings
    from infra.store import Store
    from serving import keys

    configure("WARNING")
    settings = CassandraSettings(keyspace=KEYSPACE)
    store = Store.connect(settings, concurrency=256)
    schema.apply(store.session, settings)
    load(store, args.identifiers)
    _, token = keys.create(store, "bench", list(keys.SCOPES))

    rng = random.Random(7)
    rows = [identifier(rng.randrange(args.identifiers)) for _ in range(args.sample)]
    paths = [f"/v1/resolve?type={t}&value={quote(v)}" for t, v in rows]
    tmp = Path(tempfile.mkdtemp(prefix="ucid-bench-"))
    resolve_lua = _wrk_lua(paths, token, tmp / "resolve.lua")
    noop_lua = _wrk_lua(["/v1/noop"], token, tmp / "noop.lua")

    proc = _start_server(args.port, args.workers)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for lua in (noop_lua, resolve_lua):  # warm up: connections, caches, JIT-free but page cache
            _wrk(base, lua, args.connections, 2, 3)
        noop = _wrk(base, noop_lua, args.connections, 2, args.duration)
        lookup = _wrk(base, resolve_lua, args.connections, 2, args.duration)
        coalesced = _identifier_reads(base)
        lookup_serial = _wrk(base, resolve_lua, 1, 1, args.duration)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    raw = _raw_driver(store, rows[:10_000])
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)

    figures = {
        "identifiers": args.identifiers, "workers": args.workers, "duration_s": args.duration,
        "connections": args.connections,
        "noop": noop, "lookup": lookup, "lookup_one_connection": lookup_serial, "raw_driver": raw,
        "identifiers_per_read": coalesced,
        "throughput_ratio": round(lookup["rps"] / noop["rps"], 3),
        "p99_gap_vs_one_read_ms": round(lookup_serial["p99_ms"] - raw["one_read_p99_ms"], 2),
        "p99_gap_vs_two_reads_ms": round(lookup_serial["p99_ms"] - raw["two_reads_p99_ms"], 2),
    }
    print(json.dumps(figures, indent=2))
    print(f"\nlookup {lookup['rps']:,.0f} req/s vs no-op {noop['rps']:,.0f} req/s: ratio {figures['throughput_ratio']} (goal >= 0.4)")
    print(f"lookup p99 {lookup_serial['p99_ms']:.2f} ms (1 connection) vs raw driver p99 "
          f"{raw['one_read_p99_ms']:.2f} ms (one read) / {raw['two_reads_p99_ms']:.2f} ms (two reads): "
          f"+{figures['p99_gap_vs_one_read_ms']} ms / +{figures['p99_gap_vs_two_reads_ms']} ms (goal <= +2 ms)")
    write_results(args.out, run, figures, {"throughput": figures["throughput_ratio"],
                                           "p99_gap_vs_one_read_ms": figures["p99_gap_vs_one_read_ms"],
                                           "p99_gap_vs_two_reads_ms": figures["p99_gap_vs_two_reads_ms"]})


if __name__ == "__main__":
    main()
