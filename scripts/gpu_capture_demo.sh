#!/usr/bin/env bash
# On the GPU machine (torch and transformers installed), from the repository root with the bundle
# carried (see CONTRIBUTING.md): capture the KV cache of a randomly initialised model with
# Llama-3-8B's attention shape (scripts/capture_kv.py --random-config llama3-8b-shape: no weights
# needed; it exercises the path, not realism), evaluate the dense seed on the captured suite, and
# run `kevo suite-stats` on it and on llama3-8b. Logs, JSON and the suite YAML go to $OUT; the
# captured tensors (~270 MB at N=32768) stay in a temporary folder.
#   KEVO_BUNDLE=bundle scripts/gpu_capture_demo.sh [N] [decode-steps]
set -euo pipefail
cd "$(dirname "$0")/.."
b="${KEVO_BUNDLE:-bundle}"
out="${OUT:-/tmp/kevo-capture-demo}"
n="${1:-32768}"
t="${2:-8}"
mkdir -p "$out"
export KEVO_HOME="$PWD"
kevo="$b/bin/kevo"
[ -x "$kevo" ] || { echo "gpu_capture_demo: no $kevo (build it here: scripts/build.sh && scripts/bundle.sh build bundle)" >&2; exit 1; }
cap="$(mktemp -d /tmp/kevo-capture.XXXXXX)"
trap 'rm -rf "$cap"' EXIT

failed=()
# step NAME LOG COMMAND...: runs the command, output to the terminal and $out/LOG; a failure is
# recorded and the demo goes on with the steps that do not need it.
step() {
  local name="$1" log="$2"
  shift 2
  echo
  echo "== $name"
  echo "+ $*"
  local start=$SECONDS
  if "$@" 2>&1 | tee "$out/$log"; then
    echo "-- $name: ok ($((SECONDS - start)) s)"
  else
    echo "-- $name: FAILED (see $log)"
    failed+=("$name")
    return 1
  fi
}

# step_json NAME FILE COMMAND...: stdout (JSON) to $out/FILE, stderr to $out/FILE.err.
step_json() {
  local name="$1" file="$2"
  shift 2
  echo
  echo "== $name"
  echo "+ $* > $file"
  if "$@" >"$out/$file" 2>"$out/$file.err"; then
    echo "-- $name: ok ($(wc -c <"$out/$file") bytes)"
  else
    echo "-- $name: FAILED (exit $?, see $file.err)"
    failed+=("$name")
    return 1
  fi
}

step "environment" env.txt python3 -u -c '
import platform, torch, transformers
print("python", platform.python_version(), "torch", torch.__version__, "transformers", transformers.__version__)
print("cuda", torch.version.cuda, "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")' || true
step "kevo doctor" doctor.txt "$kevo" doctor --no-bandwidth || true

if step "capture (random llama3-8b-shape, N=$n, $t decode steps, layers 0 and 1)" capture.log \
    python3 -u scripts/capture_kv.py --random-config llama3-8b-shape --tokens "$n" --decode "$t" \
      --layers 0,1 --chunk 4096 --out "$cap"; then
  cp "$cap/suite.yaml" "$out/captured_suite.yaml"
  step "captured files" captured_files.txt bash -c \
    "ls -l '$cap' && for f in '$cap'/*.safetensors; do python3 scripts/kevo_tensors.py show \"\$f\"; done" || true
  step "kevo eval dense_flashdecode on the captured suite" eval_captured.txt \
    "$kevo" eval seeds/dense_flashdecode.cu --suite "$cap/suite.yaml" || true
  step_json "kevo eval --json (same)" eval_captured.json \
    "$kevo" eval seeds/dense_flashdecode.cu --suite "$cap/suite.yaml" --json || true
  step "kevo suite-stats on the captured suite" stats_captured.txt \
    "$kevo" suite-stats "$cap/suite.yaml" || true
  step_json "kevo suite-stats --json on the captured suite" stats_captured.json \
    "$kevo" suite-stats "$cap/suite.yaml" --json || true
fi
step "kevo suite-stats llama3-8b" stats_llama3-8b.txt "$kevo" suite-stats llama3-8b || true
step_json "kevo suite-stats --json llama3-8b" stats_llama3-8b.json "$kevo" suite-stats llama3-8b --json || true

echo
if ((${#failed[@]})); then
  printf 'gpu_capture_demo: %d step(s) failed (logs in %s):\n' "${#failed[@]}" "$out"
  printf '  - %s\n' "${failed[@]}"
  exit 1
fi
echo "gpu_capture_demo: all steps ok (logs in $out)"
