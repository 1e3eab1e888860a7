#!/usr/bin/env bash
# The evaluator's GPU figures in one batch, on the GPU machine with the bundle carried:
#   KEVO_BUNDLE=bundle-gpu bench/gpu_eval_batch.sh
# Runs the evaluator's GPU test suites (reference, anti-cheat), bench_eval_cost (dense seed
# compile time, warm evaluation wall time, two-run spread, dense bandwidth share, param sweep),
# the torch SDPA comparison and `kevo eval` when the binary has it. Logs and JSON go to $OUT.
set -u
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/kevo-eval-batch}"
mkdir -p "$out"
b="${KEVO_BUNDLE:-bundle}"
export KEVO_HOME="$PWD" KEVO_SOURCE_DIR="$PWD" KEVO_BINARY="$PWD/$b/bin/kevo"
log="$out/summary.txt"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw --format=csv >>"$log" 2>&1
"$b/bin/kevo" doctor 2>&1 | grep -E "GPU|driver" >>"$log"
step() {  # step NAME SECONDS COMMAND...
  local name=$1 secs=$2
  shift 2
  local t0=$(date +%s)
  timeout "$secs" "$@" >"$out/$name.log" 2>&1
  echo "$name: rc=$? in $(( $(date +%s) - t0 )) s" | tee -a "$log"
}
for t in ${TESTS-evaluator_reference_test evaluator_anticheat_test}; do
  step "$t" 120 "$b/tests/$t" --gtest_output="json:$out/$t.json"
  grep -E "^\[ +(OK|FAILED|SKIPPED) +\]|Failure|Expected|Which is|actual|RESULT" "$out/$t.log" | head -40 | tee -a "$log"
done
step eval_cost 120 "$b/bin/bench_eval_cost" --sweep ${SWEEP_FILE:+--sweep-file "$SWEEP_FILE"} --json "$out/eval_cost.json" ${ALSO:+--also $ALSO}
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
try:
    j = json.load(open(f"{out}/eval_cost.json"))
    json.dump(j["last_result"], open(f"{out}/dense_eval.json", "w"), indent=1)
    open(f"{out}/copy_gbps.txt", "w").write(str(j["copy_gbps"]))
except Exception as e:
    print("no eval_cost.json:", e)
PY
if [ -z "${SKIP_TORCH:-}" ]; then
  step torch_sdpa 90 python3 -W ignore bench/torch_sdpa_decode.py --kevo-json "$out/dense_eval.json" \
    --copy-gbps "$(cat "$out/copy_gbps.txt" 2>/dev/null || echo 0)" --json "$out/torch.json"
fi
rm -f "$out/copy_gbps.txt"
if "$b/bin/kevo" --help 2>/dev/null | grep -qE "^ +eval "; then
  step kevo_eval 60 "$b/bin/kevo" eval seeds/dense_flashdecode.cu --json
fi
{ echo; cat "$out/eval_cost.log"; echo; cat "$out/torch_sdpa.log" 2>/dev/null
  echo; head -c 3000 "$out/kevo_eval.log" 2>/dev/null; } >>"$log"
rm -f "$out"/*_test.json "$out/eval_cost.log" "$out/torch_sdpa.log"
cat "$log"
