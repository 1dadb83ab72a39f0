#!/usr/bin/env bash
# The main job behind `make demo`, as far as the platform reaches today: bring the stack up,
# generate an omni-channel data set with ground truth, resolve it to UCIDs with the identity core,
# and score the result against the truth. Re-running it reuses what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
UCID=.venv/bin/ucid
DEMO=${UCID_DEMO_DIR:-.ucid/demo}
CUSTOMERS=${UCID_DEMO_CUSTOMERS:-20000}
SEED=${UCID_DEMO_SEED:-7}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo failed at step: $1 (see the output above; server logs: .ucid/logs/)" >&2; exit 1; }

step "1/4 stack up (Kafka + Cassandra from Maven Central jars)"
$UCID stack up || fail "stack up"

step "2/4 generate $CUSTOMERS customers (seed $SEED) into $DEMO/data"
if [ -f "$DEMO/data/truth/truth.csv" ]; then
  echo "already generated: $DEMO/data"
else
  rm -rf "$DEMO/data"
  $UCID generate --customers "$CUSTOMERS" --seed "$SEED" --out "$DEMO/data" --stream "$DEMO/stream.jsonl" || fail "generate"
fi

step "3/4 resolve every record to a UCID (pure-Python reference resolver)"
$UCID resolve --local "$DEMO/data" --out "$DEMO/assignments.csv" || fail "resolve"

step "4/4 evaluate against the ground truth"
$UCID evaluate --assignments "$DEMO/assignments.csv" --truth "$DEMO/data/truth/truth.csv" || fail "evaluate"

cat <<TRY

Done. Things to try:
  .venv/bin/ucid stack status
  .venv/bin/cqlsh 127.0.0.1 -e "DESCRIBE KEYSPACE ucid"
  kcat -L -b 127.0.0.1:9092
  head $DEMO/assignments.csv
  .venv/bin/ucid stack down        # stops the servers; data stays in .ucid/data
TRY
