"""bench/batch: the batch layer end to end on generated data, and its CC step against scipy.

    .venv/bin/python -m bench.batch.run --records 1000000 [--records 10000000] [--out FILE]

For each size: generates a landing zone of about that many source records (cached under
``.ucid/bench/batch``), runs ingest -> normalize -> resolve -> profiles on a fresh lake, and
reports seconds, records/s and peak memory (RSS of this process tree: driver JVM + Python
workers, sampled every 0.2 s) per stage. Then, on the same edges in the same run, times the
distributed connected components (forced, as resolve runs them above
``UCID_BATCH_LOCAL_CC_MAX_EDGES``: scipy in Spark tasks on chunks of ``UCID_BATCH_CC_CHUNK_EDGES``,
then large-star/small-star across chunks) against ``scipy.sparse.csgraph.connected_components``
on the driver, and prints the ratio (goal <= 10x). For comparison it also times the distributed
path with the graph cut into four chunks (star rounds across them) and with star rounds only.
Then publish, against a raw ``execute_concurrent`` writer of the same rows in the same run
(:mod:`bench.batch.publish`, goal >= 0.5x; ``--no-publish`` skips it).

``--cc-only``: only the CC comparison, on the lake an earlier run at that size left.

``--model``: the same with the match model on. The landing zone is generated with the hard cases,
a model is trained on it with DuckDB (``ucid model train --local``'s code, not timed) and
``resolve`` links with it (``UCID_MATCH_MODEL_FILE``), so records/s is the model's end to end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

RECORDS_PER_CUSTOMER = 21.2  # measured on the generator's defaults (20,000 customers -> 423,978 records)
STAGES = ("ingest", "normalize", "resolve", "profiles")


class PeakRss:
    """Samples the RSS of this process and its children until stopped; ``peak`` in bytes."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def landing_for(records: int, root: Path, console: Console, hard_cases: bool = False) -> tuple[Path, int]:
    from ucid.generate import GenerateConfig, generate_dataset

    customers = max(100, round(records / RECORDS_PER_CUSTOMER))
    out = root / (f"landing-{customers}" + ("-hard" if hard_cases else ""))
    if not (out / "manifest.json").exists():
        console.print(f"generating {customers:,} customers (~{records:,} records) -> {out}")
        generate_dataset(GenerateConfig(customers=customers, seed=2026, out=out, overwrite=True, hard_cases=hard_cases))
    return out, customers


def trained_model(landing: Path, settings, console: Console) -> Path:
    """A model trained with DuckDB on ``landing`` (cached beside it): what ``ucid model train
    --local`` writes."""
    from infra.match.model import save_model
    from infra.match.train import train
    from bench.match.run import person_rows

    path = landing.with_name(landing.name + ".model.json")
    if not path.exists():
        console.print(f"training the match model on {landing} (DuckDB, not timed)")
        people, spec = person_rows(settings, landing)
        save_model(path, train(people.table, spec))
    return path


def bench_size(records: int, root: Path, console: Console, publish: bool = True, model: bool = False,
               cc_only: bool = False) -> dict:
    from batch import run
    from batch.components import components_spark, label_components
    from batch.resolve import edges_frame
    from infra.settings import get_settings

    landing, customers = landing_for(records, root, console, hard_cases=model)
    lake = root / f"lake-{customers}"
    if cc_only and not (lake / "silver" / "records").exists():
        raise SystemExit(f"--cc-only needs the lake of an earlier run at this size: {lake}")
    if not cc_only:
        shutil.rmtree(lake, ignore_errors=True)
    settings = get_settings().model_copy(update={"lake_dir": lake, "landing_dir": landing})
    if model:
        settings = settings.model_copy(update={"match": settings.match.model_copy(
            update={"model_file": trained_model(landing, settings, console)})})
    if publish and not cc_only:
        from bench.batch.publish import bench_keyspace

        settings = bench_keyspace(settings)  # resolve reads the speed layer's rows there: none
    ctx = run.context(settings, now=1_790_000_000, run_id=f"bench-{customers}", report=lambda m: None)
    stages = {}
    for stage in () if cc_only else STAGES:
        with PeakRss() as mem:
            started = time.perf_counter()
            run.run_stage(ctx, stage)
            seconds = time.perf_counter() - started
        stages[stage] = {"seconds": round(seconds, 1), "peak_rss_mb": round(mem.peak / 2**20)}
        console.print(f"  {stage}: {seconds:.1f} s, peak {mem.peak / 2**20:,.0f} MB")
    spark = ctx.spark
    n_records = spark.read.format("delta").load(ctx.lake.gold("assignments")).count()
    total = sum(s["seconds"] for s in stages.values())

    # the CC step, both ways, on the same edges
    edges = edges_frame(spark.read.format("delta").load(ctx.lake.silver("records"))).select("u", "v").localCheckpoint()
    n_edges = edges.count()

    def distributed(chunk_edges: int) -> tuple[float, int, int]:
        rounds = []
        started = time.perf_counter()
        comps = components_spark(edges, on_round=lambda n, m: rounds.append(m), chunk_edges=chunk_edges)
        n_nodes = comps.localCheckpoint().count()
        return time.perf_counter() - started, n_nodes, len(rounds)

    if cc_only:  # no stage ran before: a first, untimed pass warms the JVM and the Python workers
        distributed(settings.batch.cc_chunk_edges)
    spark_s, n_nodes, spark_rounds = distributed(settings.batch.cc_chunk_edges)
    four_s, four_nodes, four_rounds = distributed(-(-n_edges // 4))
    stars_s, stars_nodes, stars_rounds = distributed(0)
    assert n_nodes == four_nodes == stars_nodes, "the distributed CC variants disagree on the node count"
    pdf = edges.toPandas()
    started = time.perf_counter()
    ids, _ = label_components(pdf["u"].to_numpy(), pdf["v"].to_numpy())
    scipy_s = time.perf_counter() - started
    assert len(ids) == n_nodes, "the two CC paths disagree on the node count"
    published = None
    if publish and not cc_only:
        from bench.batch.publish import bench_publish

        published = bench_publish(ctx, console)
    return {
        "customers": customers, "records": n_records, "model": str(settings.match.model_file) if model else None, "end_to_end_seconds": round(total, 1),
        "records_per_second": round(n_records / total) if total else None, "stages": stages,
        "cc": {"edges": n_edges, "nodes": n_nodes, "chunk_edges": settings.batch.cc_chunk_edges,
               "spark_seconds": round(spark_s, 2), "spark_rounds": spark_rounds,
               "scipy_seconds": round(scipy_s, 3), "ratio": round(spark_s / scipy_s, 1),
               "four_chunks": {"seconds": round(four_s, 2), "rounds": four_rounds,
                               "ratio": round(four_s / scipy_s, 1)},
               "stars_only": {"seconds": round(stars_s, 2), "rounds": stars_rounds,
                              "ratio": round(stars_s / scipy_s, 1)}},
        "publish": published,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, action="append", help="source records (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("bench/batch/results.json"))
    parser.add_argument("--root", type=Path, default=None, help="work folder (default: UCID_HOME/bench/batch)")
    parser.add_argument("--no-publish", action="store_true", help="skip publish and its raw-writer reference")
    parser.add_argument("--model", action="store_true", help="hard-case data, resolve with a trained match model")
    parser.add_argument("--cc-only", action="store_true",
                        help="only the CC comparison, on the lake an earlier run left at this size")
    args = parser.parse_args()
    from infra.log import configure
    from infra.settings import get_settings

    configure("WARNING")
    console = Console()
    root = args.root or get_settings().home / "bench" / "batch"
    root.mkdir(parents=True, exist_ok=True)
    results = {"machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30)},
               "sizes": []}
    for records in args.records or [1_000_000]:
        console.print(f"[bold]batch benchmark: ~{records:,} records[/bold]")
        results["sizes"].append(bench_size(records, root, console, publish=not args.no_publish, model=args.model,
                                               cc_only=args.cc_only))
    table = Table(title="bench/batch")
    for col in ("records", "end-to-end s", "records/s", "CC edges", "Spark CC s", "scipy s", "ratio",
                "4 chunks", "stars only",
                "publish rows/s", "raw rows/s", "publish/raw"):
        table.add_column(col, justify="right")
    for r in results["sizes"]:
        cc = r["cc"]
        table.add_row(f"{r['records']:,}", str(r["end_to_end_seconds"]), f"{r['records_per_second'] or 0:,}",
                      f"{cc['edges']:,}", str(cc["spark_seconds"]), str(cc["scipy_seconds"]), f"{cc['ratio']}x",
                      f"{cc['four_chunks']['ratio']}x", f"{cc['stars_only']['ratio']}x",
                      *((f"{pub['rows_per_second']:,}", f"{pub['raw']['rows_per_second']:,}", str(pub["ratio"]))
                        if (pub := r.get("publish")) else ("-", "-", "-")))
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"results -> {args.out}")


if __name__ == "__main__":
    main()
