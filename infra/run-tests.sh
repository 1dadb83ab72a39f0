#!/usr/bin/env bash
# The test command behind `make test`: the import contract, the unit tests (no JVM, no network),
# then the integration tests against the real stack (started once for the session).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
start=$(date +%s)
echo "== import contract (identity/ stays pure)"
$BIN/lint-imports
echo "== unit tests"
$BIN/pytest tests/unit -q -p no:cacheprovider
echo "== integration tests (real Kafka, Cassandra, Spark + Delta)"
$BIN/pytest tests/integration -q -p no:cacheprovider
echo "== all tests passed in $(( $(date +%s) - start )) s"
