#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with the bundle carried (see CONTRIBUTING.md).
# Builds nothing: runs kevo doctor, every test suite of the bundle (GPU tests included), and any
# extra command given, then prints a table. Logs and JSON go to $OUT when set.
#   KEVO_BUNDLE=bundle scripts/gpu_suite.sh [extra shell command...]
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/kevo-gpu-suite}"
mkdir -p "$out"
b="${KEVO_BUNDLE:-bundle}"
export KEVO_HOME="$PWD" KEVO_SOURCE_DIR="$PWD" KEVO_BINARY="$PWD/$b/bin/kevo"
kevo="$b/bin/kevo"
"$kevo" doctor | tee "$out/doctor.txt"
"$kevo" doctor --json >"$out/doctor.json" 2>/dev/null
printf '\n%-40s %8s %8s %8s %8s\n' suite passed failed skipped seconds | tee "$out/summary.txt"
total_fail=0
for t in "$b"/tests/*_test; do
  name=$(basename "$t")
  start=$(date +%s%N)
  "$t" --gtest_output="json:$out/$name.json" >"$out/$name.log" 2>&1
  rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}')
  read -r p f s < <(python3 - "$out/$name.json" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    print(0, 1, 0); sys.exit()
p = f = s = 0
for suite in j.get("testsuites", []):
    for t in suite.get("testsuite", []):
        if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN": s += 1
        elif t.get("failures"): f += 1
        else: p += 1
print(p, f, s)
PY
)
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  total_fail=$((total_fail + f))
  printf '%-40s %8s %8s %8s %8.1f\n' "$name" "$p" "$f" "$s" "$secs" | tee -a "$out/summary.txt"
  [ "$f" -gt 0 ] && grep -E "^\[  FAILED|Failure|error" "$out/$name.log" | head -20
done
if [ $# -gt 0 ]; then
  echo; echo "+ $*"; bash -c "$*"
fi
echo "failed tests: $total_fail"
exit $((total_fail > 0))
