#!/usr/bin/env bash
# On the GPU machine (bundle carried): the main job end to end. A tuner-only quickstart run, a
# run killed with SIGKILL and resumed, and a run against the scripted LLM server (2-10 s replies,
# 16 in flight) that measures how busy the GPU stays. Prints a summary; logs go to $OUT.
#   KEVO_BUNDLE=bundle scripts/gpu_run_demo.sh [evaluations] [llm-evaluations]
set -uo pipefail
cd "$(dirname "$0")/.."
b="${KEVO_BUNDLE:-bundle}"
out="${OUT:-/tmp/kevo-demo}"
mkdir -p "$out"
export KEVO_HOME="$PWD"
kevo="$b/bin/kevo"
n="${1:-40}"
nl="${2:-60}"
runs="$(mktemp -d)"

kill_after="${KILL_AFTER:-8}"
if [ -z "${SKIP_TUNER:-}" ]; then
echo "== quickstart, tuner only, $n evaluations"
/usr/bin/time -f "wall %e s" "$kevo" run configs/quickstart.yaml --runs-dir "$runs" --name tuner \
  --evaluations "$n" --no-llm --json >"$out/tuner.json" 2>"$out/tuner.log"
echo "rc=$?"; tail -1 "$out/tuner.log"; cat "$out/tuner.json"
"$kevo" top --db "$runs/tuner/kevo.db" -n 8 | tee "$out/tuner_top.txt"
"$kevo" status --db "$runs/tuner/kevo.db" | tee "$out/tuner_status.txt" | head -40
fi

echo "== kill -9 mid-run, then resume"
"$kevo" run configs/quickstart.yaml --runs-dir "$runs" --name crash --evaluations 100 --no-llm \
  >"$out/crash.log" 2>&1 &
pid=$!
sleep "$kill_after"
kill -9 "$pid"; wait "$pid" 2>/dev/null
sqlite_count() { python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"select count(*), sum(status!='pending') from programs\").fetchone(), c.execute('pragma integrity_check').fetchone()[0])" "$1"; }
echo "after kill -9: (programs, evaluated) integrity: $(sqlite_count "$runs/crash/kevo.db")"
"$kevo" resume crash --runs-dir "$runs" --json >"$out/resume.json" 2>"$out/resume.log"
echo "resume rc=$?"; cat "$out/resume.json"
echo "after resume: (programs, evaluated) integrity: $(sqlite_count "$runs/crash/kevo.db")"

echo "== scripted LLM, 2-10 s replies, 16 in flight, $nl evaluations"
python3 bench/scripted_llm_server.py --port 8765 --min-delay 2 --max-delay 10 --seconds 400 &
srv=$!
sleep 1
OPENAI_API_KEY=scripted-server-ignores-it "$kevo" run configs/quickstart.yaml --runs-dir "$runs" --name llm --evaluations "$nl" \
  --llm-url http://127.0.0.1:8765/v1 --llm-model scripted --json \
  >"$out/llm.json" 2>"$out/llm.log"
echo "rc=$?"; cat "$out/llm.json"
kill "$srv" 2>/dev/null
cp "$runs"/*/kevo.log "$out/" 2>/dev/null
