#!/usr/bin/env bash
# The session's GPU check in one call, each step time-boxed so that whatever finished comes back:
# doctor, the GPU test suites (GPU tests included), the LLM loop against a bad model and the tuner
# alone (gpu_llm_demo.sh), the seeds' table beside torch SDPA (gpu_frontier.sh), the hardware
# counters beside ncu (gpu_counters_check.sh), the exported packages built and checked
# (gpu_export_check.sh), the KV capture demo. Builds nothing: run from the repository root with
# the bundle carried. The steps run in the order STEPS gives; BUDGET (default 560) is the call's
# seconds: each step is cut to what is left and a step that would get under 30 s is skipped with a
# line, so a device call's own limit (set it above BUDGET) never loses what finished; the logs are
# packed after every step. A session's 30 device minutes fit three calls, for example:
#   KEVO_BUNDLE=bundle STEPS="tests llm" TESTS_BUDGET=290 scripts/gpu_check.sh
#   KEVO_BUNDLE=bundle STEPS="frontier" scripts/gpu_check.sh   (seeds/README.md's table: 5
#     evaluations per seed and torch SDPA, up to 420 s; EVALS=2 TORCH=0 takes ~75 s)
#   KEVO_BUNDLE=bundle STEPS="counters capture export" scripts/gpu_check.sh
#   KEVO_BUNDLE=bundle-one KEVO_PG_BUNDLE=pgbundle/pg.tar.xz STEPS="multi" scripts/gpu_check.sh
#   KEVO_BUNDLE=bundle STEPS="tune" scripts/gpu_check.sh   (the tuner on each seed: better defaults;
#     TUNE_EVALS, TUNE_SEEDS, MINUTES and CONFIRM as gpu_tune_seeds.sh's EVALS, SEEDS, ...)
# Without a GPU it stops after doctor with status 2; KEVO_CHECK_DRY=1 runs the steps anyway.
# Bundles that fit the 64 MiB carry: KEVO_BUNDLE_TESTS=gpu scripts/bundle.sh build bundle (48 MB,
# for "tests"); with the PostgreSQL of "multi" (20 MB), only the suites a step needs, e.g.
# KEVO_BUNDLE_TESTS="evaluator_counters_test cli_eval_test" scripts/bundle.sh build bundle-one
# (39 MB; counters runs the first). Everything in one call, carrying bundle-one and pgbundle:
#   KEVO_BUNDLE=bundle-one KEVO_PG_BUNDLE=pgbundle/pg.tar.xz BUDGET=575 \
#     STEPS="llm counters multi capture" LLM_EVALS=60 TUNER_EVALS=20 MULTI_EVALS=24 \
#     COUNTERS_BUDGET=150 CAPTURE_N=8192 scripts/gpu_check.sh
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
budget="${BUDGET:-560}"  # seconds for the whole call: no step runs past it
t0=$(date +%s)
say() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$final/summary.txt"; }
# limit SECONDS: a step's time limit, its own default cut to what is left of the call's budget
# (15 s kept for packing the logs), so that a device call's time limit never kills the script
# before it has written what finished. Prints nothing and fails when under 30 s are left.
limit() {
  local left=$((budget - ($(date +%s) - t0) - 15))
  [ "$left" -lt 30 ] && return 1
  echo $(($1 < left ? $1 : left))
}
# pack: the logs so far, after every step (a later step may be cut off by the caller's limit).
pack() { tar czf "$final/logs.tgz" -C "$work" . 2>/dev/null; }
# skipped NAME: says that a step did not run for lack of time.
skipped() { say "$1 not run: the call's budget (BUDGET=$budget s) is spent"; }

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
step_tests() {
  local t name left filter rc res gpu_first ordered
  # The suites with GPU tests first; the 200-candidate soak is left out (previous sessions ran
  # it). A suite starts only while the call's budget (or TESTS_BUDGET, when given: the seconds
  # from the call's start after which no suite starts) has room for it.
  gpu_first="evaluator_anticheat_test evaluator_reference_test seeds_compile_test evaluator_counters_test cli_eval_test sandbox_gpu_runner_test"
  ordered="$(for n in $gpu_first; do [ -x "$b/tests/$n" ] && echo "$b/tests/$n"; done; for t in "$b"/tests/*_test; do [[ " $gpu_first " == *" $(basename "$t") "* ]] || echo "$t"; done)"
  for t in $ordered; do
    name=$(basename "$t")
    left=$((${TESTS_BUDGET:-$budget} - ($(date +%s) - t0)))
    if [ "$left" -lt 40 ]; then say "$name not run: the call's budget is spent"; continue; fi
    filter="*"
    [ "$name" = sandbox_gpu_runner_test ] && filter="-*TwoHundred*"
    timeout $((left - 20)) "$t" --gtest_filter="$filter" --gtest_brief=1 >"$work/$name.log" 2>&1
    rc=$?
    res=$(grep -E "^\[  (PASSED|FAILED)  \]|tests? (ran|SKIPPED)" "$work/$name.log" | tr '\n' ' ')
    say "$name rc=$rc $res"
    [ $rc -ne 0 ] && grep -E "^\[  FAILED|Failure$" -A3 "$work/$name.log" | head -12 | tee -a "$final/summary.txt"
  done
  pack
}
step_llm() {
  local t
  t=$(limit 240) || { skipped llm; return; }
  OUT="$work/llm" timeout "$t" scripts/gpu_llm_demo.sh "${LLM_EVALS:-100}" "${TUNER_EVALS:-40}" \
    >"$work/llm.txt" 2>&1
  say "llm demo rc=$?"
  grep -E "^rc=|\"stop_reason\"|\"requests\"|\"children\"|\"rejected\"|accept_rate|gpu_busy|evals_per_minute|\"best\"|\"fitness\"|paused|no more" "$work/llm.txt" | head -40 | tee -a "$final/summary.txt"
  pack
}
step_frontier() {
  local t
  t=$(limit 420) || { skipped frontier; return; }  # 5 evaluations of 7 seeds, then torch SDPA
  OUT="$work/frontier" EVALS="${EVALS:-3}" timeout "$t" scripts/gpu_frontier.sh >"$work/frontier.txt" 2>&1
  say "frontier rc=$?"
  tail -n 30 "$work/frontier.txt" | tee -a "$final/summary.txt"
  pack
}
step_counters() {
  local t
  t=$(limit 300) || { skipped counters; return; }
  cb="${COUNTERS_BUDGET:-280}"
  OUT="$work" KEVO_CHECK_BUDGET_S=$((cb < t - 20 ? cb : t - 20)) timeout "$t" scripts/gpu_counters_check.sh \
    >"$work/counters.txt" 2>&1
  say "counters check rc=$?"
  sed -n '/== ncu vs kevo/,$p' "$work/counters.txt" | tail -n 40 | tee -a "$final/summary.txt"
  grep -E "added|per evaluation" "$work/counters.txt" | head -8 | tee -a "$final/summary.txt"
  pack
}
step_export() {
  local t
  t=$(limit 300) || { skipped export; return; }
  OUT="$work/export" timeout "$t" scripts/gpu_export_check.sh >"$work/export.txt" 2>&1
  say "export check rc=$?"
  tail -n 25 "$work/export/steps.log" 2>/dev/null | tee -a "$final/summary.txt"
  pack
}
step_multi() {
  local t
  t=$(limit 330) || { skipped multi; return; }
  OUT="$work/multi" timeout "$t" scripts/gpu_multi_demo.sh "${MULTI_EVALS:-40}" >"$work/multi.txt" 2>&1
  say "multi-runner demo rc=$?"
  cat "$work/multi/summary.txt" 2>/dev/null | tail -n 40 | tee -a "$final/summary.txt"
  pack
}
step_tune() {
  local t
  t=$(limit 560) || { skipped tune; return; }
  # EVALS is the frontier's; the tuner's evaluations per seed are TUNE_EVALS.
  OUT="$work/tune" EVALS="${TUNE_EVALS:-45}" SEEDS="${TUNE_SEEDS:-}" timeout "$t" \
    scripts/gpu_tune_seeds.sh >"$work/tune.txt" 2>&1
  say "tune seeds rc=$?"
  cat "$work/tune/summary.txt" 2>/dev/null | tail -n 30 | tee -a "$final/summary.txt"
  pack
}
step_capture() {
  local t
  t=$(limit 240) || { skipped capture; return; }
  OUT="$work/capture" timeout "$t" scripts/gpu_capture_demo.sh "${CAPTURE_N:-16384}" 4 >"$work/capture.txt" 2>&1
  say "capture demo rc=$?"
  tail -n 25 "$work/capture.txt" | tee -a "$final/summary.txt"
  pack
}
# The steps run in the order STEPS names them, so that what matters most to a call goes first.
for name in $steps; do
  case "$name" in
    doctor) ;;  # always run, above
    tests | llm | frontier | counters | export | multi | tune | capture) "step_$name" ;;
    *) say "unknown step '$name' (tests llm frontier counters export multi tune capture)" ;;
  esac
done
pack
say "done"
