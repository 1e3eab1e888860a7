#!/usr/bin/env bash
# On the GPU machine, with a bundle carried (scripts/bundle.sh): the built-in tuner on each seed
# alone, to find better defaults for seeds/ (issue 13). Per seed, a tuner-only run of EVALS
# evaluations on the default suite (one island, the seed's file alone), then its best program's
# params; then bench_seed_table evaluates the default and the best params side by side, CONFIRM
# times each, so a winner is read over repeated timings, not one; scripts/tune_table.py says which
# rows keep the accuracy margin a default needs. Builds nothing.
#   KEVO_BUNDLE=bundle scripts/gpu_tune_seeds.sh
# Environment:
#   SEEDS="dsa_indexer hash_topk ..."  seeds to tune (default: the six sparse seeds)
#   EVALS=45                          evaluations per seed's run
#   MINUTES=1.2                       wall limit per seed's run
#   CONFIRM=3                         evaluations of default and best in the confirmation
#   MAX_ERR=0.15                      the runs' error gate (evaluator.max_mean_rel_err: every
#                                     call's mean error under it), and the confirmation's bound
#                                     on the worst call: a default keeps a margin below the 0.2
#                                     of a normal run (issue 13); scripts/tune_table.py also
#                                     flags holdout errors above 1.5x the suite's
# Writes $OUT (default /tmp/kevo-tune): summary.txt (the table), confirm.json, runs.tgz.
# Exit status: 3 without a GPU, else 0 (read the table: a seed whose run failed says so).
set -u
cd "$(dirname "$0")/.."
b="${KEVO_BUNDLE:-bundle}"
out="${OUT:-/tmp/kevo-tune}"
mkdir -p "$out"
export KEVO_HOME="${KEVO_HOME:-$PWD}"
kevo="$PWD/$b/bin/kevo"
runs="$(mktemp -d /tmp/kevo-tune-runs.XXXXXX)"
seeds=${SEEDS:-"dsa_indexer hash_topk quest_pages socket_soft vattention magicpig_lsh"}
t0=$(date +%s)
say() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$out/summary.txt"; }
if "$kevo" doctor 2>&1 | grep -qE '^ *GPU +none'; then
  say "no GPU on this machine: nothing tuned"
  exit 3
fi

confirm=()
for s in $seeds; do
  cat >"$runs/$s.yaml" <<EOF
run:
  name: tune-$s
  seed: 1
  seeds: [$s]
  max_evaluations: ${EVALS:-45}
  max_wall_minutes: ${MINUTES:-1.2}
evaluator:
  suite: llama3-8b
  max_mean_rel_err: ${MAX_ERR:-0.15}
archive:
  islands: 1
EOF
  "$kevo" run "$runs/$s.yaml" --runs-dir "$runs" --no-llm --json >"$runs/$s.run.json" \
    2>"$runs/$s.run.log"
  rc=$?
  best=$("$kevo" top --runs-dir "$runs" --run "tune-$s" -n 1 --json 2>/dev/null |
    python3 -c "import json,sys; p=json.load(sys.stdin)['programs']; print(p[0]['id'] if p else '')" 2>/dev/null)
  if [ -z "$best" ]; then
    say "$s: run rc=$rc, no ok program ($(tail -1 "$runs/$s.run.log"))"
    continue
  fi
  # The best program's params, as overrides bench_seed_table takes (FILE.cu:P=V,...).
  over=$("$kevo" show "$best" --runs-dir "$runs" --run "tune-$s" --json |
    python3 -c "import json,sys; j=json.load(sys.stdin); print(','.join(f'{k}={v}' for k,v in sorted(j['params'].items())))")
  say "$s: run rc=$rc, best #$best: $over"
  confirm+=("seeds/$s.cu" "seeds/$s.cu:$over")
done

if [ ${#confirm[@]} -gt 0 ]; then
  timeout 300 "$b/bin/bench_seed_table" --evals "${CONFIRM:-3}" --json "$out/confirm.json" \
    "${confirm[@]}" >"$out/confirm.log" 2>&1
  say "bench_seed_table rc=$?"
  # Each row against the accuracy rules a default keeps (worst call, holdout against suite).
  python3 scripts/tune_table.py "$out/confirm.json" --max-worst "${MAX_ERR:-0.15}" |
    tee -a "$out/summary.txt"
fi
tar czf "$out/runs.tgz" -C "$runs" . 2>/dev/null
rm -rf "$runs"
say "done"
