#!/usr/bin/env bash
# Builds a relocatable bundle for the GPU machine (Ubuntu 24.04, CUDA 13, no Debian packages):
#   bundle/bin/kevo, bundle/tests/<suite>, bundle/lib/<non-system shared libraries>
# Executables get RUNPATH $ORIGIN/../lib:/usr/local/cuda/lib64; copied libraries get $ORIGIN.
# glibc, libstdc++ and libgcc_s stay the system's (newer there, and backward compatible); NVRTC
# comes from the toolkit there (109 MB: too big to carry, and the same 13.0 release).
# Usage: scripts/bundle.sh [build-dir [bundle-dir]]  (defaults: build, bundle)
#   KEVO_BUNDLE_TESTS=all (default) | gpu (only the suites with GPU tests: those whose source
#   calls KEVO_REQUIRE_GPU or gpu_unavailable_reason, ~12 MB instead of 66) | none | a list of
#   suites ("evaluator_counters_test cli_eval_test"). With the carried PostgreSQL
#   (scripts/pg_bundle.sh, 20 MB) none or a short list fit the 64 MiB carry (gpu: 48 + 20 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
out="${2:-bundle}"
[ -x "$build/kevo" ] || scripts/build.sh release
rm -rf "$out"
mkdir -p "$out/bin" "$out/tests" "$out/lib"
cp "$build/kevo" "$out/bin/"
case "${KEVO_BUNDLE_TESTS:-all}" in
  all) find "$build/tests" -maxdepth 1 -type f -name '*_test' -perm -u+x -exec cp {} "$out/tests/" \; ;;
  gpu)
    for src in $(grep -l "KEVO_REQUIRE_GPU()\|gpu_unavailable_reason" tests/*_test.cc); do
      t="$build/tests/$(basename "$src" .cc)"
      [ -x "$t" ] && cp "$t" "$out/tests/"
    done ;;
  none) ;;
  *)  # a list of suites, e.g. "evaluator_counters_test cli_eval_test" (with PostgreSQL carried)
    for name in ${KEVO_BUNDLE_TESTS//,/ }; do
      t="$build/tests/$name"
      [ -x "$t" ] || { echo "bundle.sh: no test suite $t (KEVO_BUNDLE_TESTS is all, gpu, none or a list of suites)" >&2; exit 2; }
      cp "$t" "$out/tests/"
    done ;;
esac
[ -d "$build/bench" ] && find "$build/bench" -maxdepth 1 -type f -perm -u+x -name 'bench_*' -exec cp {} "$out/bin/" \;

system_lib='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libutil\.so|libresolv\.so|libgcc_s\.so|libstdc\+\+\.so|libcuda\.so|libnvrtc)'
for exe in "$out"/bin/* "$out"/tests/*; do
  ldd "$exe" | awk '/=> \// {print $1, $3}' | while read -r name path; do
    [[ "$name" =~ $system_lib ]] && continue
    [ -f "$out/lib/$name" ] || cp -L "$path" "$out/lib/$name"
  done
  patchelf --set-rpath '$ORIGIN/../lib:/usr/local/cuda/lib64' "$exe"
done
for lib in "$out"/lib/*; do
  patchelf --set-rpath '$ORIGIN' "$lib"
done
# Debug info would triple the size, and the carry limit is 64 MiB: executables keep no symbol
# table either (15% less; backtraces show addresses), libraries keep what linking needs.
strip --strip-all "$out"/bin/* "$out"/tests/* 2>/dev/null || true
strip --strip-unneeded "$out"/lib/* 2>/dev/null || true
du -sh "$out" | awk '{print "bundle: " $1 " in '"$out"'/ (carry it)"}'
