#!/usr/bin/env bash
# The changed-rows publish on the demo's landing: a batch run without the landing's last day, then
# one with it; prints what each publish wrote. Needs the stack up and `ucid demo` (or `ucid
# generate --out .ucid/landing`) run once. Usage: bash bench/batch/two_days.sh [workdir]
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${1:-.ucid/bench/two-days}
rm -rf "$D" && mkdir -p "$D/landing"
LAST=$(ls .ucid/landing/crm | tail -1)
for s in .ucid/landing/*/; do
  n=$(basename "$s"); mkdir -p "$D/landing/$n"
  for d in "$s"*/; do [ "$(basename "$d")" != "$LAST" ] && cp -r "$d" "$D/landing/$n/"; done
done
export UCID_LANDING_DIR=$D/landing UCID_LAKE_DIR=$D/lake
.venv/bin/ucid batch run > "$D/run1.log" 2>&1
for s in .ucid/landing/*/; do n=$(basename "$s"); [ -d "$s$LAST" ] && cp -r "$s$LAST" "$D/landing/$n/"; done
.venv/bin/ucid batch run > "$D/run2.log" 2>&1
for r in 1 2; do echo "run $r:"; grep -E "publish (done|[a-z_]+: )|stage=publish" "$D/run$r.log"; done
