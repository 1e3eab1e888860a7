#!/usr/bin/env bash
# The session's GPU check in one call, each step time-boxed so that whatever finished comes back:
# doctor, the GPU test suites (GPU tests included), the LLM loop against a bad model and the tuner
# alone (gpu_llm_demo.sh), the seeds' table beside torch SDPA (gpu_frontier.sh), the hardware
# counters beside ncu (gpu_counters_check.sh), the exported packages built and checked
# (gpu_export_check.sh), the KV capture demo. Builds nothing: run from the repository root with
# the bundle carried. A session's 30 device minutes fit three calls, for example:
#   KEVO_BUNDLE=bundle STEPS="doctor tests llm" BUDGET=290 scripts/gpu_check.sh
#   KEVO_BUNDLE=bundle STEPS="frontier counters" scripts/gpu_check.sh
#   KEVO_BUNDLE=bundle STEPS="capture export" scripts/gpu_check.sh
#   KEVO_BUNDLE=bundle KEVO_PG_BUNDLE=pgbundle/pg.tar.xz STEPS="multi" scripts/gpu_check.sh
#   KEVO_BUNDLE=bundle STEPS="tune" scripts/gpu_check.sh   (the tuner on each seed: better defaults)
# Without a GPU it stops after doctor with status 2; KEVO_CHECK_DRY=1 runs the steps anyway.
# Bundles that fit the 64 MiB carry: KEVO_BUNDLE_TESTS=gpu scripts/bundle.sh build bundle (48 MB,
# for "tests"); with the PostgreSQL of "multi" (20 MB), KEVO_BUNDLE_TESTS=none (36 MB).
# ("multi": two runners on one GPU, and an orchestrator with two workers through a carried
# PostgreSQL made by scripts/pg_bundle.sh pgbundle; see docs/cluster.md.)
# Writes $OUT/summary.txt and $OUT/logs.tgz (everything else).
set -u
cd "$(dirname "$0")/.."
b="${KEVO_BUNDLE:-bundle}"
final="${OUT:-/tmp/kevo-gpu-check}"
work="$(mktemp -d)"
mkdir -p "$final"
export KEVO_HOME="$PWD" KEVO_SOURCE_DIR="$PWD" KEVO_BINARY="$PWD/$b/bin/kevo"
steps="${STEPS:-doctor llm frontier tests}"
budget="${BUDGET:-560}"  # seconds for the whole call: the test suites stop starting past it
t0=$(date +%s)
say() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$final/summary.txt"; }
has() { [[ " $steps " == *" $1 "* ]]; }

# doctor always runs: without a GPU every step below would "finish" having timed nothing, so the
# call stops here and says so (KEVO_CHECK_DRY=1 goes on, to try the script's plumbing on a CPU
# machine).
"$b/bin/kevo" doctor >"$work/doctor.txt" 2>&1
say "doctor: $(grep -E '^ *(GPU|counters|CUDA driver)' "$work/doctor.txt" | sed 's/  */ /g' | tr '\n' ';')"
if grep -qE '^ *GPU +none' "$work/doctor.txt"; then
  if [ "${KEVO_CHECK_DRY:-0}" != 1 ]; then
    say "no GPU on this machine: no step run (KEVO_CHECK_DRY=1 runs them anyway, to test the script)"
    tar czf "$final/logs.tgz" -C "$work" . 2>/dev/null
    exit 2
  fi
  say "no GPU on this machine: a dry run (KEVO_CHECK_DRY=1); the GPU steps below fail or skip"
fi
if has tests; then
  # The suites with GPU tests first; the 200-candidate soak is left out (previous sessions ran
  # it). A suite starts only while the call's budget has room for it.
  gpu_first="evaluator_anticheat_test evaluator_reference_test seeds_compile_test evaluator_counters_test cli_eval_test sandbox_gpu_runner_test"
  ordered="$(for n in $gpu_first; do [ -x "$b/tests/$n" ] && echo "$b/tests/$n"; done; for t in "$b"/tests/*_test; do [[ " $gpu_first " == *" $(basename "$t") "* ]] || echo "$t"; done)"
  for t in $ordered; do
    name=$(basename "$t")
    left=$((budget - ($(date +%s) - t0)))
    if [ "$left" -lt 40 ]; then say "$name not run: the call's budget is spent"; continue; fi
    filter="*"
    [ "$name" = sandbox_gpu_runner_test ] && filter="-*TwoHundred*"
    timeout $((left - 20)) "$t" --gtest_filter="$filter" --gtest_brief=1 >"$work/$name.log" 2>&1
    rc=$?
    res=$(grep -E "^\[  (PASSED|FAILED)  \]|tests? (ran|SKIPPED)" "$work/$name.log" | tr '\n' ' ')
    say "$name rc=$rc $res"
    [ $rc -ne 0 ] && grep -E "^\[  FAILED|Failure$" -A3 "$work/$name.log" | head -12 | tee -a "$final/summary.txt"
  done
fi
if has llm; then
  OUT="$work/llm" timeout 240 scripts/gpu_llm_demo.sh "${LLM_EVALS:-100}" "${TUNER_EVALS:-40}" \
    >"$work/llm.txt" 2>&1
  say "llm demo rc=$?"
  grep -E "^rc=|\"stop_reason\"|\"requests\"|\"children\"|\"rejected\"|accept_rate|gpu_busy|evals_per_minute|\"best\"|\"fitness\"|paused|no more" "$work/llm.txt" | head -40 | tee -a "$final/summary.txt"
fi
if has frontier; then
  OUT="$work/frontier" EVALS="${EVALS:-3}" timeout 240 scripts/gpu_frontier.sh >"$work/frontier.txt" 2>&1
  say "frontier rc=$?"
  tail -n 30 "$work/frontier.txt" | tee -a "$final/summary.txt"
fi
if has counters; then
  OUT="$work" KEVO_CHECK_BUDGET_S="${COUNTERS_BUDGET:-280}" timeout 300 scripts/gpu_counters_check.sh \
    >"$work/counters.txt" 2>&1
  say "counters check rc=$?"
  sed -n '/== ncu vs kevo/,$p' "$work/counters.txt" | tail -n 40 | tee -a "$final/summary.txt"
  grep -E "added|per evaluation" "$work/counters.txt" | head -8 | tee -a "$final/summary.txt"
fi
if has export; then
  OUT="$work/export" timeout 300 scripts/gpu_export_check.sh >"$work/export.txt" 2>&1
  say "export check rc=$?"
  tail -n 25 "$work/export/steps.log" 2>/dev/null | tee -a "$final/summary.txt"
fi
if has multi; then
  OUT="$work/multi" timeout 330 scripts/gpu_multi_demo.sh "${MULTI_EVALS:-40}" >"$work/multi.txt" 2>&1
  say "multi-runner demo rc=$?"
  cat "$work/multi/summary.txt" 2>/dev/null | tail -n 40 | tee -a "$final/summary.txt"
fi
if has tune; then
  OUT="$work/tune" timeout 560 scripts/gpu_tune_seeds.sh >"$work/tune.txt" 2>&1
  say "tune seeds rc=$?"
  cat "$work/tune/summary.txt" 2>/dev/null | tail -n 30 | tee -a "$final/summary.txt"
fi
if has capture; then
  OUT="$work/capture" timeout 240 scripts/gpu_capture_demo.sh "${CAPTURE_N:-16384}" 4 >"$work/capture.txt" 2>&1
  say "capture demo rc=$?"
  tail -n 25 "$work/capture.txt" | tee -a "$final/summary.txt"
fi
tar czf "$final/logs.tgz" -C "$work" . 2>/dev/null
say "done"
