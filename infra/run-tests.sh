#!/usr/bin/env bash
# The test command behind `make test`: the import contract, the unit tests (no JVM, no network),
# then the integration tests against the real stack (started once for the session).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
start=$(date +%s)
echo "== import contracts (layers; identity/ stays pure)"
$BIN/lint-imports
echo "== unit tests"
$BIN/pytest tests/unit -q -p no:cacheprovider
echo "== integration tests (real Kafka, Cassandra, Spark + Delta)"
# two xdist workers, each with its own Spark session, keyspaces and topics; the stack is started
# once for both. --dist loadfile: a file is one unit (its module fixtures built once), the serving
# suite one unit too (its data set loaded once; tests/integration/conftest.py); --no-loadscope-reorder
# keeps the conftest's order, longest files first. `pytest ... -p randomly` shuffles them instead.
# --durations=15: where the time goes, printed by every run (CI included)
# UCID_SPARK_SERVER=true: the stack includes one Spark Connect server (infra/spark_server.py) that
# every Spark user of the run connects to -- the test processes, the CLI subprocesses, Airflow's
# tasks, the notebook kernels -- so the JIT warm-up of a Spark JVM is paid once, not per process
UCID_SPARK_SERVER=true $BIN/pytest tests/integration -q -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder --durations=15
echo "== all tests passed in $(( $(date +%s) - start )) s"
