#!/usr/bin/env bash
# On the GPU machine (bundle carried): the LLM loop against a bad model, and the tuner alone.
#   1. the scripted server (bench/scripted_llm_server.py) answering 50% garbage (prose or blocks
#      that match nothing), 1-4 s per reply, for N evaluations of the quickstart config: the
#      summary (requests, children, rejections, accept rate, GPU busy), `kevo status`, `kevo calls`;
#   2. a tuner-only quickstart run of M evaluations, as before.
#   KEVO_BUNDLE=bundle scripts/gpu_llm_demo.sh [N=100] [M=40]
set -uo pipefail
cd "$(dirname "$0")/.."
b="${KEVO_BUNDLE:-bundle}"
out="${OUT:-/tmp/kevo-llm-demo}"
mkdir -p "$out"
export KEVO_HOME="$PWD"
kevo="$b/bin/kevo"
n="${1:-100}"
m="${2:-40}"
runs="$(mktemp -d)"

echo "== scripted LLM, 50% garbage, 1-4 s replies, $n evaluations"
python3 bench/scripted_llm_server.py --port 8765 --min-delay 1 --max-delay 4 --seconds 500 \
  --garbage-share 0.5 &
srv=$!
sleep 1
start=$(date +%s)
"$kevo" run configs/quickstart.yaml --runs-dir "$runs" --name garbage --evaluations "$n" \
  --llm-url http://127.0.0.1:8765/v1 --llm-model scripted --llm-key-env "" --llm-price 0,0 \
  --json >"$out/garbage.json" 2>"$out/garbage.log"
echo "rc=$? wall $(( $(date +%s) - start )) s"
kill "$srv" 2>/dev/null
cat "$out/garbage.json"
"$kevo" status --db "$runs/garbage/kevo.db" | tee "$out/garbage_status.txt" | head -30
"$kevo" calls --db "$runs/garbage/kevo.db" -n 12 | tee "$out/garbage_calls.txt"
grep -E "paused|no more LLM|rests" "$out/garbage.log" | head -5

echo "== tuner only, $m evaluations"
start=$(date +%s)
"$kevo" run configs/quickstart.yaml --runs-dir "$runs" --name tuner --evaluations "$m" --no-llm \
  --json >"$out/tuner.json" 2>"$out/tuner.log"
echo "rc=$? wall $(( $(date +%s) - start )) s"
cat "$out/tuner.json"
cp "$runs"/garbage/kevo.log "$out/garbage_kevo.log" 2>/dev/null
