#!/usr/bin/env bash
# On the GPU machine (bundle carried, run from the repository root): kevo beyond one runner.
#   (a) the quickstart, tuner only, with one runner on GPU 0, then with two runners sharing GPU 0
#       (KEVO_ALLOW_SHARED_GPU=1 --gpus 0,0: the testing switch for the multi-runner path):
#       evaluations per minute and each runner's jobs;
#   (b) when PostgreSQL is carried (scripts/pg_bundle.sh pgbundle -> pgbundle/pg.tar.xz): a
#       throwaway server, an orchestrator (`kevo run --db postgresql://...`) and two
#       `kevo worker --gpus 0` processes as separate processes; one worker is killed with SIGKILL
#       mid-run, the other finishes the run; evaluations per minute, each worker's evaluations,
#       the tasks claimed twice.
# Writes logs and $OUT/summary.txt (default OUT=/tmp/kevo-multi-demo). About 4 minutes.
#   KEVO_BUNDLE=bundle KEVO_PG_BUNDLE=pgbundle/pg.tar.xz scripts/gpu_multi_demo.sh [evaluations]
set -uo pipefail
cd "$(dirname "$0")/.."
b="${KEVO_BUNDLE:-bundle}"
pgtar="${KEVO_PG_BUNDLE:-pgbundle/pg.tar.xz}"
out="${OUT:-/tmp/kevo-multi-demo}"
n="${1:-40}"
mkdir -p "$out"
export KEVO_HOME="$PWD"
kevo="$PWD/$b/bin/kevo"
runs="$(mktemp -d /tmp/kevo-multi-runs.XXXXXX)"
summary="$out/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
# A field of a kevo run --json summary: run_field FILE
run_fields() {
  python3 - "$1" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no summary ({e})"); sys.exit(0)
print(f"{j['evaluations']} evaluations ({j['ok']} ok) in {j['elapsed_s']:.0f} s, "
      f"{j['evals_per_minute']:.1f} evaluations/minute, GPU busy {100 * j['gpu_busy']:.0f}%, "
      f"jobs per runner {j.get('gpu_jobs')}, stop: {j['stop_reason']}")
EOF
}
status_field() {  # status_field URL_OR_DB KEY: a top-level number of kevo status --json
  "$kevo" status --db "$1" --json 2>/dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', 0))" 2>/dev/null || echo 0
}

say "== kevo gpu_multi_demo $(date -u +%FT%TZ), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"

# ---- (a) two runners on one GPU
say "-- (a) one runner on GPU 0, $n evaluations"
timeout 150 "$kevo" run configs/quickstart.yaml --runs-dir "$runs" --name one --gpus 0 --no-llm \
  --evaluations "$n" --json >"$out/one.json" 2>"$out/one.log"
say "rc=$?: $(run_fields "$out/one.json")"
say "-- (a) two runners sharing GPU 0 (KEVO_ALLOW_SHARED_GPU=1 --gpus 0,0), $n evaluations"
KEVO_ALLOW_SHARED_GPU=1 timeout 150 "$kevo" run configs/quickstart.yaml --runs-dir "$runs" \
  --name two --gpus 0,0 --no-llm --evaluations "$n" --json >"$out/two.json" 2>"$out/two.log"
say "rc=$?: $(run_fields "$out/two.json")"
grep -m1 "kevo run 'two'" "$out/two.log" | tee -a "$summary"

# ---- (b) orchestrator and two workers through PostgreSQL
if [ ! -f "$pgtar" ]; then
  say "-- (b) skipped: no $pgtar (make it with scripts/pg_bundle.sh pgbundle on Debian 12)"
  rm -rf "$runs"
  exit 0
fi
say "-- (b) orchestrator + 2 kevo worker processes on GPU 0 through PostgreSQL, $n evaluations"
pgroot="$(mktemp -d /tmp/kevo-pgroot.XXXXXX)"
chmod 755 "$pgroot"
tar -C "$pgroot" -xJf "$pgtar" && chmod -R a+rX "$pgroot"
pgdir="/tmp/kevo-pg-demo.$$"
url="$(KEVO_PG_ROOT="$pgroot/pg" scripts/pg_test_server.sh start "$pgdir" 2>"$out/pg_start.log")"
if [ -z "$url" ]; then
  say "(b) failed: the carried PostgreSQL did not start:"; tail -5 "$out/pg_start.log" | tee -a "$summary"
  rm -rf "$runs" "$pgroot"
  exit 1
fi
say "PostgreSQL up at $url"
pids=()
for w in 1 2; do
  "$kevo" worker --db "$url" --gpus 0 --lease-s 5 --cache-dir "$runs/cache$w" \
    >"$out/worker$w.log" 2>&1 &
  pids+=($!)
done
t0=$(date +%s)
# The run's own wall limit bounds this part even when no worker ever claims a task.
"$kevo" run configs/quickstart.yaml --db "$url" --runs-dir "$runs" --name shared --no-llm \
  --evaluations "$n" --wall-minutes 3 --json >"$out/shared.json" 2>"$out/shared.log" &
orch=$!
alive() { kill -0 "$1" 2>/dev/null; }
# Kill worker 1 once a third of the budget is recorded. Stop waiting when the run ends, and stop
# the run (SIGINT: it stops like Ctrl-C, archive intact) when both workers have exited.
killed=""
while alive "$orch"; do
  sleep 0.5
  if ! alive "${pids[0]}" && ! alive "${pids[1]}"; then
    say "both workers exited before the run ended; worker 1: $(tail -1 "$out/worker1.log")"
    kill -INT "$orch"
    break
  fi
  e=$(status_field "$url" evaluations)
  if [ "${e:-0}" -ge $((n / 3)) ]; then
    kill -9 "${pids[0]}" && killed="at $e evaluations, $(( $(date +%s) - t0 )) s in"
    break
  fi
done
say "worker 1 (pid ${pids[0]}) killed with SIGKILL ${killed:-never}"
timeout 200 tail --pid="$orch" -f /dev/null
alive "$orch" && { say "the run outlived its 3 wall minutes: SIGKILL"; kill -9 "$orch"; }
wait "$orch"; rc=$?
say "orchestrator rc=$rc: $(run_fields "$out/shared.json")"
"$kevo" status --db "$url" >"$out/shared_status.txt" 2>&1
grep -A4 "^workers" "$out/shared_status.txt" | tee -a "$summary"
grep -m1 "^evaluations" "$out/shared_status.txt" | tee -a "$summary"
kill -TERM "${pids[1]}" 2>/dev/null
timeout 30 tail --pid="${pids[1]}" -f /dev/null
wait "${pids[1]}" 2>/dev/null
say "worker 2: $(tail -1 "$out/worker2.log")"
cp "$runs/shared/kevo.log" "$out/shared_kevo.log" 2>/dev/null
scripts/pg_test_server.sh stop "$pgdir"
rm -rf "$runs" "$pgroot"
say "== done; logs in $out"
