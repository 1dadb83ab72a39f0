#!/usr/bin/env bash
# The test command behind `make test`: the import contract, the unit tests (no JVM, no network),
# then the integration tests against the real stack (started once for the session).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
start=$(date +%s)
# The integration run's stack includes one Spark Connect server (infra/spark_server.py) that every
# Spark user of the run connects to -- the test processes, the CLI subprocesses, Airflow's tasks,
# the notebook kernels -- so the JIT warm-up of a Spark JVM is paid once, not once per process.
# (Only the integration run and its stack see this; the unit tests read the defaults.)
STACK_ENV=(env UCID_SPARK_SERVER=true)

# The stack comes up in the background while the contract and the unit tests run (on a new
# machine that includes fetching the servers' jars from Maven Central). If it was already up,
# it is left up; if this script started it, this script stops it (UCID_KEEP_STACK=1 keeps it).
mkdir -p .ucid/logs
stack_pid=""
if "${STACK_ENV[@]}" $BIN/python -c \
    'import sys; from infra.settings import get_settings; from infra.stack import status
sys.exit(0 if all(s.answering for s in status(get_settings())) else 1)'; then
  echo "== the stack is already up: using it, leaving it up"
else
  echo "== starting the stack in the background (.ucid/logs/stack-up.log)"
  "${STACK_ENV[@]}" $BIN/ucid stack up >.ucid/logs/stack-up.log 2>&1 &
  stack_pid=$!
  stop_stack() {
    if [[ -z "${UCID_KEEP_STACK:-}" ]]; then "${STACK_ENV[@]}" $BIN/ucid stack down >/dev/null 2>&1 || true; fi
  }
  trap stop_stack EXIT
fi

echo "== import contracts (layers; identity/ stays pure)"
$BIN/lint-imports
echo "== unit tests"
$BIN/pytest tests/unit -q -p no:cacheprovider
if [[ -n "$stack_pid" ]]; then
  echo "== waiting for the stack"
  wait "$stack_pid" || { tail -40 .ucid/logs/stack-up.log; exit 1; }
  tail -1 .ucid/logs/stack-up.log
fi
echo "== integration tests (real Kafka, Cassandra, Spark + Delta)"
# two xdist workers, each with its own Spark session, keyspaces and topics; the stack is started
# once for both. --dist loadfile: a file is one unit (its module fixtures built once), the serving
# suite one unit too (its data set loaded once; tests/integration/conftest.py); --no-loadscope-reorder
# keeps the conftest's order, longest files first. `pytest ... -p randomly` shuffles them instead.
# --durations=15: where the time goes, printed by every run (CI included)
"${STACK_ENV[@]}" UCID_KEEP_STACK=1 $BIN/pytest tests/integration -q -p no:cacheprovider -n 2 --dist loadfile \
  --no-loadscope-reorder --durations=15
echo "== all tests passed in $(( $(date +%s) - start )) s"
