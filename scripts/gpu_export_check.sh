#!/usr/bin/env bash
# Export on the GPU machine (KEVO_BUNDLE=bundle-x scripts/gpu_export_check.sh): kevo eval of
# every seed, export of dense_flashdecode and the best sparse seed in both formats, builds (nvcc;
# torch load for dense, setup.py for sparse), the packages' own checks (the torch test includes
# the TORCH_LIBRARY operator under torch.compile), one program linking both cuda packages and
# running both, and the decode times next to kevo's. Logs and JSON under $OUT.
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
log "checks done"
# Both cuda packages in one program: their kernel symbols carry the package names. The program
# builds both indexes and decodes the same query with both; the two outputs must agree about as
# well as each agrees with dense attention.
mkdir -p "$W/both"
{ echo '#include <cmath>'; echo '#include <cstdio>'; echo '#include <vector>'
  echo "#include \"dense_flashdecode.h\""; echo "#include \"$best.h\""
  cat <<'CPP'
#define RUN(P, A) do { \
  P##_args a; a.q = q; a.k = k; a.v = v; a.o = A; a.B = B; a.Hq = Hq; a.Hkv = Hkv; a.N = N; a.D = D; a.seed = 7; \
  cudaMalloc(&a.index, P##_index_bytes(B, Hq, Hkv, N, D) + 1); cudaMalloc(&a.workspace, P##_workspace_bytes(B, Hq, Hkv, N, D) + 1); \
  if (P##_build(a, 0) != cudaSuccess || P##_decode(a, 0) != cudaSuccess) { std::printf(#P " failed\n"); return 1; } } while (0)
int main() {
  const int B = 1, Hq = 32, Hkv = 8, N = 32768, D = 128;
  std::vector<__nv_bfloat16> hq(B * Hq * D), hkv((size_t)B * Hkv * N * D);
  unsigned s = 1; auto rnd = [&] { s = s * 1664525u + 1013904223u; return (s >> 8) / 16777216.0f - 0.5f; };
  for (auto& x : hq) x = __float2bfloat16(4 * rnd());
  for (auto& x : hkv) x = __float2bfloat16(rnd());
  __nv_bfloat16 *q, *k, *v, *o1, *o2;
  cudaMalloc(&q, hq.size() * 2); cudaMalloc(&k, hkv.size() * 2); cudaMalloc(&v, hkv.size() * 2);
  cudaMalloc(&o1, hq.size() * 2); cudaMalloc(&o2, hq.size() * 2);
  cudaMemcpy(q, hq.data(), hq.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(k, hkv.data(), hkv.size() * 2, cudaMemcpyHostToDevice);
  for (auto& x : hkv) x = __float2bfloat16(rnd());
  cudaMemcpy(v, hkv.data(), hkv.size() * 2, cudaMemcpyHostToDevice);
  RUN(dense_flashdecode, o1);
  RUN(SPARSE, o2);
  if (cudaDeviceSynchronize() != cudaSuccess) { std::printf("CUDA error\n"); return 1; }
  std::vector<__nv_bfloat16> a(hq.size()), b(hq.size());
  cudaMemcpy(a.data(), o1, a.size() * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(b.data(), o2, b.size() * 2, cudaMemcpyDeviceToHost);
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = __bfloat162float(a[i]), y = __bfloat162float(b[i]); diff += (x - y) * (x - y); norm += x * x; }
  std::printf("both packages in one program: relative difference %.4f\n", std::sqrt(diff / norm));
  return std::isfinite(diff) ? 0 : 1;
}
CPP
} | sed "s/SPARSE/$best/" > "$W/both/main.cu"
( cd "$W/both" && nvcc -std=c++17 -O2 -arch=sm_90a -I"$W/dense_flashdecode_cuda/include" -I"$W/${best}_cuda/include" \
    -I"$W/dense_flashdecode_cuda/src" -I"$W/${best}_cuda/src" main.cu "$W/dense_flashdecode_cuda/src/dense_flashdecode.cu" \
    "$W/${best}_cuda/src/$best.cu" -o both > "$O/both.log" 2>&1 && ./both >> "$O/both.log" 2>&1; echo "rc=$?" >> "$O/both.log" )
log "both packages: $(tail -2 "$O/both.log" | tr '\n' ' ')"
"$W/dense_flashdecode_cuda/build/dense_flashdecode_check" --help > /dev/null; log "check --help rc=$?"
wait; log "torch builds done"
# `kevo export best` from a tiny tuner-only run, if this bundle can run one here.
if [ -n "${KEVO_EXPORT_RUN:-}" ]; then
  "$K" run --evaluations 8 --runs-dir "$W/runs" --name exp > "$O/run.log" 2>&1
  "$K" export best --runs-dir "$W/runs" --run exp --format cuda --out "$W/best_cuda" >> "$O/run.log" 2>&1
  log "export best rc=$?"
fi
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
cd "$O" && for f in *; do case "$f" in compare.txt|README_sparse_cuda.md|metadata_sparse_torch.json|both.log|all.txt) ;; *) echo "=== $f"; cat "$f"; echo; rm -f "$f";; esac; done > /tmp/all.txt && mv /tmp/all.txt "$O/all.txt"
