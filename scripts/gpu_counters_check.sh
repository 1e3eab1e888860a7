#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with the bundle carried (CONTRIBUTING.md):
# checks the hardware counters of issue 20 end to end and compares them with ncu.
#   1. where CUPTI and ncu are; `kevo doctor` (its counters line);
#   2. the counters test suite (copy kernel of known traffic, dense seed vs its K+V size);
#   3. bench_counters on every seed (the default suite): added time per evaluation, timings
#      before and after counters (two seeds), counters of every seed;
#   4. `kevo eval` of two seeds with counters (what a user sees);
#   5. ncu (--clock-control none) on the decode kernels of each seed on one workload, beside
#      bench_counters on the same workload: scripts/counters_vs_ncu.py prints the comparison.
# Outputs go to /tmp/kevo-counters, and as kevo-counters.tgz to $OUT when it is set. Usage: KEVO_BUNDLE=bundle scripts/gpu_counters_check.sh
# (KEVO_BUNDLE=. when the bundle folder also holds seeds/, configs/, prompts/ and scripts/).
set -uo pipefail
cd "$(dirname "$0")/.."
out=/tmp/kevo-counters
rm -rf "$out" && mkdir -p "$out"
# The device tool returns at most 8 files from $OUT: everything goes back as one archive.
trap '[ -n "${OUT:-}" ] && tar czf "$OUT/kevo-counters.tgz" -C /tmp kevo-counters' EXIT
b="${KEVO_BUNDLE:-bundle}"
export KEVO_HOME="$PWD" KEVO_SOURCE_DIR="$PWD" KEVO_BINARY="$PWD/$b/bin/kevo"
kevo="$b/bin/kevo"
ncu_bin="$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)"
step() { echo; echo "== $* ($(date +%T), ${SECONDS}s)"; }
# One budget for the whole script (KEVO_CHECK_BUDGET_S, default 280 s): each step gets at most
# its own limit and never more than what is left, so the later steps still run.
budget="${KEVO_CHECK_BUDGET_S:-280}"
limit() { local left=$((budget - SECONDS - 5)); [ "$left" -lt 1 ] && left=1; echo $(($1 < left ? $1 : left)); }

step environment
{
  nvidia-smi -L
  nvidia-smi --query-gpu=driver_version,clocks.sm,clocks.max.sm --format=csv
  ls /usr/local/cuda/extras/CUPTI/lib64/ /usr/local/cuda/lib64/ 2>/dev/null | grep -E "cupti|nvperf" | sort -u
  ldconfig -p | grep -E "cupti|nvperf"
  timeout 10 find /usr/local /usr/lib /opt -name 'libcupti.so*' 2>/dev/null | head
  echo "ncu: ${ncu_bin:-none}"; [ -n "$ncu_bin" ] && "$ncu_bin" --version | tail -1
} 2>&1 | tee "$out/env.txt"

step kevo doctor
timeout "$(limit 60)" "$kevo" doctor 2>&1 | tee "$out/doctor.txt"
if grep -q "CUPTI (libcupti" "$out/doctor.txt"; then
  # Not found where kevo looks: try the folder find saw, and say so in the report.
  dir=$(dirname "$(grep -m1 'libcupti.so' "$out/env.txt" | grep '^/')" 2>/dev/null)
  if [ -n "$dir" ]; then
    export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "retrying with LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    timeout "$(limit 60)" "$kevo" doctor 2>&1 | tee -a "$out/doctor.txt"
  fi
fi

# KEVO_COUNTERS_NCU_ONLY=1: only the environment, doctor and the ncu comparison (step 5), for a
# short device call after a full check has run.
ncu_only="${KEVO_COUNTERS_NCU_ONLY:-0}"
if [ "$ncu_only" != 1 ]; then
step counters tests
timeout "$(limit 100)" "$b/tests/evaluator_counters_test" 2>&1 | tee "$out/counters_test.txt" |
  grep -E "^\[ +(OK|FAILED|SKIPPED) |copy of|dense |rror|ailure"
if grep -q "FAILED  \] CountersGpu" "$out/counters_test.txt"; then
  echo "retrying the GPU counters tests with CUPTI's kernel replay (KEVO_COUNTERS_REPLAY=kernel)"
  KEVO_COUNTERS_REPLAY=kernel timeout "$(limit 60)" "$b/tests/evaluator_counters_test" \
    --gtest_filter='CountersGpu.*' 2>&1 | tee "$out/counters_test_kernel_replay.txt" |
    grep -E "^\[ +(OK|FAILED|SKIPPED) |copy of|dense |rror|ailure"
  grep -q "FAILED  \]" "$out/counters_test_kernel_replay.txt" || export KEVO_COUNTERS_REPLAY=kernel
fi

step "bench_counters, default suite: without, with, without counters (two seeds), with (the rest)"
timeout "$(limit 90)" "$b/bin/bench_counters" --json "$out/bench_default.json" \
  seeds/dense_flashdecode.cu seeds/dsa_indexer.cu 2>&1 | tee "$out/bench_default.txt"
rest=$(ls seeds/*.cu | grep -v -e dense_flashdecode -e dsa_indexer)
timeout "$(limit 90)" "$b/bin/bench_counters" --once --json "$out/bench_default_once.json" $rest 2>&1 |
  tee "$out/bench_default_once.txt"

step kevo eval with counters
for s in dense_flashdecode dsa_indexer; do
  timeout "$(limit 30)" "$kevo" eval "seeds/$s.cu" >"$out/eval_$s.txt" 2>&1
  grep -E "counters|reads|status" "$out/eval_$s.txt" | head -8
done
timeout "$(limit 30)" "$kevo" eval seeds/hash_topk.cu --json >"$out/eval_hash_topk.json" 2>/dev/null
fi  # ncu_only

[ -n "$ncu_bin" ] || { echo "no ncu: comparison skipped"; exit 0; }
step ncu vs kevo on one workload
suite="$out/one.yaml"
printf 'name: one\nHq: 32\nHkv: 8\nD: 128\nseed: 8001\nworkloads:\n  - {B: 8, N: 32768}\n' >"$suite"
timeout "$(limit 60)" "$b/bin/bench_counters" --once --suite "$suite" --json "$out/bench_one.json" seeds/*.cu >"$out/bench_one.txt" 2>&1
metrics="dram__bytes_read.sum,dram__bytes_write.sum,gpu__time_duration.sum,lts__t_sector_hit_rate.pct"
metrics+=",sm__warps_active.avg.per_cycle_active,smsp__issue_active.avg.pct_of_peak_sustained_active"
for r in long_scoreboard wait not_selected barrier short_scoreboard mio_throttle lg_throttle \
         math_pipe_throttle no_instruction branch_resolving membar dispatch_stall; do
  metrics+=",smsp__average_warps_issue_stalled_${r}_per_issue_active.ratio"
done
for f in seeds/*.cu; do
  s=$(basename "$f" .cu)
  names=$(grep -oE '^// kevo:decode +[A-Za-z_0-9]+' "$f" | awk '{print $3}')
  nk=$(echo "$names" | wc -l)
  regex="^($(echo "$names" | paste -sd'|'))\$"
  # Skip the two accuracy calls: the third call is the first timed one (L2 flushed, like ours).
  timeout "$(limit 45)" "$ncu_bin" --clock-control none --metrics "$metrics" --kernel-name "regex:$regex" \
    --launch-skip $((2 * nk)) --launch-count "$nk" --csv --page raw --print-units base \
    "$kevo" eval "$f" --suite "$suite" --counters off --in-process >"$out/ncu_$s.csv" 2>"$out/ncu_$s.err"
  echo "$s: ncu rc $? ($(grep -c '^"' "$out/ncu_$s.csv") csv lines)"
done
python3 scripts/counters_vs_ncu.py "$out" | tee "$out/comparison.txt"

if [ "$ncu_only" != 1 ]; then
  step "cli_eval_test (kevo eval end to end, counters on by default)"
  timeout "$(limit 60)" "$b/tests/cli_eval_test" 2>&1 | tail -3
fi
echo "total ${SECONDS}s"
