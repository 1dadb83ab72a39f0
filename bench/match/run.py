"""bench/match: scoring throughput of the match model, DuckDB against Spark, on the same pairs.

    .venv/bin/python -m bench.match.run --customers 20000 [--seed 7] [--out FILE]

Generates a data set with the hard cases (cached under ``.ucid/bench/match``), trains the model
on it with DuckDB (``ucid model train --local``'s code) unless ``--model`` is given, reads the
person rows once, then scores every blocked pair:

* **DuckDB** (``ucid resolve --local --model``'s scorer, :func:`infra.match.predict.score`);
* **Spark** (the batch's scorer, :func:`infra.match.spark_predict.predictions`), on a frame of the
  same rows, once cold (the session's first scoring: JIT, UDF registration) and once warm.

Reports pairs scored per second for each and their ratio, and checks that both backends scored
the same pairs with the same probabilities (the largest difference is printed). Spark runs where
the settings say: in process, or on the stack's Spark Connect server (``UCID_SPARK_SERVER``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.results import REPO, provenance, write_results


def data_set(customers: int, seed: int, root: Path, console: Console) -> Path:
    from ucid.generate import GenerateConfig, generate_dataset

    out = root / f"{customers}-{seed}"
    if not (out / "truth").exists():
        console.print(f"generating {customers:,} customers (seed {seed}, hard cases) -> {out}")
        generate_dataset(GenerateConfig(customers=customers, seed=seed, out=out, hard_cases=True))
    return out


def person_rows(settings, root: Path):
    from identity.match import load_spec
    from identity.rules import load_policy
    from identity.sources import load_sources
    from ucid.local_match import read_person_rows

    policy = load_policy(settings.conf_dir / "rules.yaml")
    sources = load_sources(settings.conf_dir / "sources", known_types=set(policy.types))
    spec = load_spec(settings.match.spec_path(settings.conf_dir))
    people = read_person_rows(root, sources, policy, spec)
    return people, spec.restricted_to(people.columns_with_values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", type=Path, default=None, help="a trained model (default: train one here)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "match" / "results.json")
    args = parser.parse_args()
    run_info = provenance("match", args)
    console = Console()

    from batch.spark import spark_session
    from infra.match.model import load_model
    from infra.match.predict import score, scored_rows
    from infra.match.spark_predict import predictions
    from infra.match.train import train
    from infra.settings import get_settings

    settings = get_settings()
    root = data_set(args.customers, args.seed, settings.home / "bench" / "match", console)
    people, spec = person_rows(settings, root)
    console.print(f"{people.table.num_rows:,} person rows")
    if args.model is not None:
        model = load_model(args.model)
    else:
        started = time.perf_counter()
        model = train(people.table, spec)
        console.print(f"model {model.version} trained in {time.perf_counter() - started:.1f} s (DuckDB)")

    started = time.perf_counter()
    duck = score(people.table, model, 0.0, args.threads)
    duck_s = time.perf_counter() - started
    console.print(f"DuckDB: {len(duck):,} pairs in {duck_s:.1f} s")

    spark = spark_session(settings, app_name="ucid-bench-match")
    frame = spark.createDataFrame(people.table.to_pandas()).localCheckpoint()
    frame.count()
    spark_runs, spark_rows = [], None
    for _ in ("cold", "warm"):
        started = time.perf_counter()
        with predictions(spark, frame, model) as predicted:
            data = predicted.toArrow().to_pydict()
        spark_runs.append(time.perf_counter() - started)
        spark_rows = scored_rows(data, model.splink)
        console.print(f"Spark: {len(spark_rows):,} pairs in {spark_runs[-1]:.1f} s")

    duck_by = {(s.left, s.right): s.probability for s in duck}
    spark_by = {(s.left, s.right): s.probability for s in spark_rows}
    same_pairs = duck_by.keys() == spark_by.keys()
    max_diff = max((abs(duck_by[k] - spark_by[k]) for k in duck_by.keys() & spark_by.keys()), default=0.0)
    pairs = len(duck)
    figures = {
        "person_rows": people.table.num_rows, "pairs_scored": pairs, "model": model.version,
        "duckdb_seconds": round(duck_s, 2), "duckdb_pairs_per_s": round(pairs / duck_s),
        "spark_cold_seconds": round(spark_runs[0], 2), "spark_warm_seconds": round(spark_runs[1], 2),
        "spark_warm_pairs_per_s": round(len(spark_rows) / spark_runs[1]),
        "spark_server": bool(settings.spark.remote_url),
        "same_pairs": same_pairs, "max_probability_difference": max_diff,
    }
    ratios = {"spark_warm_over_duckdb_pairs_per_s": round(figures["spark_warm_pairs_per_s"] / figures["duckdb_pairs_per_s"], 3)}
    table = Table(title=f"match scoring, {args.customers:,} customers (seed {args.seed})")
    for key in ("figure", "value"):
        table.add_column(key)
    for key, value in {**figures, **ratios}.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value))
    console.print(table)
    write_results(args.out, run_info, figures, ratios)
    if not same_pairs or max_diff > 1e-9:
        raise SystemExit("DuckDB and Spark disagree on the pairs or their probabilities")


if __name__ == "__main__":
    main()
