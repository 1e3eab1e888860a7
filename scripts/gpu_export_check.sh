#!/usr/bin/env bash
# Export on the GPU machine (KEVO_BUNDLE=bundle-x scripts/gpu_export_check.sh): kevo eval of
# every seed, export of dense_flashdecode and the best sparse seed in both formats, builds (nvcc; torch load for dense, setup.py for sparse), the
# packages' own checks, and their decode times next to kevo's. Logs and JSON under $OUT.
set -u
cd "$(dirname "$0")/.."
B="${KEVO_BUNDLE:-bundle}"; K="$PWD/$B/bin/kevo"; export KEVO_HOME="$PWD"
O="${OUT:-/tmp/export-out}"; mkdir -p "$O"; W=/tmp/exp; rm -rf "$W"; mkdir -p "$W"
export MAX_JOBS=6 PATH="/usr/local/cuda/bin:$PATH"
t0=$(date +%s); log() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$O/steps.log"; }
{ command -v cmake || echo "no cmake"; nvcc --version | tail -1; nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)"; } > "$O/env.txt" 2>&1
exp() { "$K" export "seeds/$1.cu" --format "$2" --out "$W/$1_$2" >> "$O/export.log" 2>&1; }
exp dense_flashdecode torch; exp dense_flashdecode cuda
( cd "$W/dense_flashdecode_torch" && timeout 230 python3 -c "import dense_flashdecode as m; m.extension()" > "$O/torch_build_dense.log" 2>&1; echo "rc=$?" >> "$O/torch_build_dense.log" ) &
( cd "$W/dense_flashdecode_cuda" && ./build.sh > "$O/cuda_build_dense.log" 2>&1; echo "rc=$?" >> "$O/cuda_build_dense.log" ) &
log "evals"
if "$K" --help 2>&1 | grep -qE "^ +eval "; then
  for s in seeds/*.cu; do n=$(basename "$s" .cu); timeout 40 "$K" eval "$s" --json > "$O/eval_$n.json" 2> "$O/eval_$n.err"; log "eval $n rc=$?"; done
else  # same evaluate_in_process, in one warm session
  log "no 'kevo eval' in this build: bench_eval_cost --also"
  timeout 150 "$B/bin/bench_eval_cost" --json "$O/bench.json" --also seeds/*.cu > "$O/bench.log" 2>&1; log "bench rc=$?"
  python3 - "$O" <<'PY2'
import json, os, sys
j = json.load(open(sys.argv[1] + "/bench.json"))
for row in j.get("also", []):
    n = os.path.basename(row["file"])[:-3]
    json.dump(row, open(f"{sys.argv[1]}/eval_{n}.json", "w"))
PY2
fi
best=$(python3 - "$O" <<'PY'
import json, glob, os, sys
best = (0, "hash_topk")
for f in glob.glob(sys.argv[1] + "/eval_*.json"):
    n = os.path.basename(f)[5:-5]
    try: j = json.load(open(f))
    except Exception: continue
    if n != "dense_flashdecode" and j.get("status") == "ok" and j.get("fitness", 0) > best[0]: best = (j["fitness"], n)
print(best[1])
PY
)
log "best sparse: $best"; exp "$best" torch; exp "$best" cuda
( cd "$W/${best}_torch" && timeout 200 python3 setup.py build_ext --inplace > "$O/torch_build_sparse.log" 2>&1; echo "rc=$?" >> "$O/torch_build_sparse.log" ) &
( cd "$W/${best}_cuda" && ./build.sh > "$O/cuda_build_sparse.log" 2>&1; echo "rc=$?" >> "$O/cuda_build_sparse.log" )
while ! grep -q rc= "$O/cuda_build_dense.log" 2>/dev/null; do sleep 1; done
log "cuda builds done"
for n in dense_flashdecode "$best"; do
  for s in "1 8192" "1 32768" "1 131072" "8 32768"; do set -- $s
    "$W/${n}_cuda/build/${n}_check" --B $1 --N $2 --json >> "$O/check_$n.jsonl" 2>> "$O/check_$n.err"; echo "rc=$?" >> "$O/check_$n.err"
  done
  "$W/${n}_cuda/build/${n}_check" | tee "$O/check_${n}_human.txt"
done
log "checks done"; wait; log "torch builds done"
for n in dense_flashdecode "$best"; do
  for s in "1 32768"; do set -- $s
    (cd "$W/${n}_torch" && timeout 60 python3 "test_$n.py" --B $1 --N $2 --json >> "$O/torch_$n.jsonl" 2>> "$O/torch_$n.err"; echo "rc=$?" >> "$O/torch_$n.err")
  done
done
log "torch tests done"
cp -r "$W/${best}_cuda/README.md" "$O/README_sparse_cuda.md"; cp "$W/${best}_torch/metadata.json" "$O/metadata_sparse_torch.json"
python3 - "$O" dense_flashdecode "$best" <<'PY' | tee "$O/compare.txt"
import json, sys
O = sys.argv[1]
for n in sys.argv[2:]:
    try: ev = {(w["B"], w["N"]): w for w in json.load(open(f"{O}/eval_{n}.json"))["workloads"]}
    except Exception as e: print(n, "no eval", e); continue
    for kind in ("check", "torch"):
        try: lines = [json.loads(l) for l in open(f"{O}/{kind}_{n}.jsonl")]
        except Exception as e: print(n, kind, "none", e); continue
        for c in lines:
            w = ev.get((c["B"], c["N"]))
            k = w["decode_us"] if w else float("nan")
            print(f"{n:18s} {kind:5s} B={c['B']} N={c['N']:6d} pkg {c['decode_us']:8.2f} us  kevo {k:8.2f} us  "
                  f"ratio {c['decode_us']/k:5.3f}  err {c['mean_rel_err']:.4f} (kevo {w['mean_rel_err'] if w else float('nan'):.4f}) "
                  f"pass={c['pass']}")
PY
log "end"
# The device tool returns a handful of files: keep the summaries, fold every log into all.txt.
cd "$O" && for f in *; do case "$f" in compare.txt|README_sparse_cuda.md|metadata_sparse_torch.json|all.txt) ;; *) echo "=== $f"; cat "$f"; echo; rm -f "$f";; esac; done > /tmp/all.txt && mv /tmp/all.txt "$O/all.txt"
