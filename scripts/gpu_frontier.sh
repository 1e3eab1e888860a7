#!/usr/bin/env bash
# seeds/README.md's figures, on the GPU machine from the repository root with a bundle carried
# (scripts/bundle.sh; it holds bench_seed_table). Builds nothing.
#   KEVO_BUNDLE=bundle scripts/gpu_frontier.sh
# runs kevo doctor, every seed EVALS times on the default suite and once on the holdout suite in
# one warm session (bench_seed_table), torch SDPA on both suites' shapes, and ncu on the kernels
# named in NCU; then renders the table (scripts/seeds_table.py). Environment:
#   EVALS=5                      evaluations per seed on the default suite
#   SEEDS="seeds/x.cu ..."       what to evaluate (default: every seed; FILE.cu:P=V,... overrides)
#   NCU="seeds/x.cu:kernel ..."  profile that kernel at B1-N131072 (ncu --clock-control none)
#   TORCH=0                      skip torch SDPA
# Exit status: bench_seed_table's (0 ok, 1 failed, 3 no GPU).
# Writes $OUT (default /tmp/kevo-frontier), at most 8 files (what the GPU machine hands back):
# doctor.txt, steps.log, table.json, table.log, torch.json, torch.log, table.md, ncu.tgz.
set -u
cd "$(dirname "$0")/.."
b="${KEVO_BUNDLE:-bundle}"
out="${OUT:-/tmp/kevo-frontier}"
mkdir -p "$out"
export KEVO_HOME="${KEVO_HOME:-$PWD}"
t0=$(date +%s)
log() { echo "[$(($(date +%s) - t0)) s] $*" | tee -a "$out/steps.log"; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw --format=csv >"$out/doctor.txt" 2>&1
"$b/bin/kevo" doctor >>"$out/doctor.txt" 2>&1
log "doctor: $(grep -i -m1 "GB/s" "$out/doctor.txt")"
seeds=${SEEDS:-"seeds/dense_flashdecode.cu seeds/dsa_indexer.cu seeds/hash_topk.cu seeds/quest_pages.cu seeds/socket_soft.cu seeds/vattention.cu seeds/magicpig_lsh.cu"}
# shellcheck disable=SC2086
timeout 540 "$b/bin/bench_seed_table" --evals "${EVALS:-5}" --json "$out/table.json" $seeds \
  >"$out/table.log" 2>&1
brc=$?
log "bench_seed_table rc=$brc"
if [ "${TORCH:-1}" != 0 ]; then
  timeout 150 python3 -W ignore bench/torch_sdpa_decode.py --holdout --json "$out/torch.json" \
    >"$out/torch.log" 2>&1
  log "torch rc=$?"
fi
if [ -n "${NCU:-}" ]; then
  nd=$(mktemp -d)
  suite="$nd/b1-n128k.yaml"  # the default suite's generator, one workload
  sed -e 's/^name: .*/name: llama3-8b-b1-n131072/' -e '/^  - {B:/d' configs/suites/llama3-8b.yaml >"$suite"
  echo "  - {B: 1, N: 131072}" >>"$suite"
  for spec in $NCU; do
    file="${spec%:*}"
    kernel="${spec##*:}"
    name="$(basename "${file%%.cu*}")_$kernel"
    timeout 120 ncu --clock-control none --kernel-name "$kernel" --launch-skip 4 --launch-count 1 \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy \
      --section LaunchStats --section SchedulerStats --section WarpStateStats \
      "$b/bin/bench_seed_table" --evals 1 --holdout none --suite "$suite" \
      --json "$nd/ncu_$name.json" "$file" >"$nd/ncu_$name.txt" 2>&1
    log "ncu $name rc=$?"
  done
  tar czf "$out/ncu.tgz" -C "$nd" .
fi
python3 scripts/seeds_table.py "$out" >"$out/table.md" 2>>"$out/steps.log"
log "table rc=$?"
tail -n 40 "$out/table.md"
exit $brc  # 0 when every evaluation ran, 3 without a GPU, 1 otherwise
