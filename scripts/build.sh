#!/usr/bin/env bash
# Configures and builds kevo. Usage: scripts/build.sh [release|asan] (default release).
#   release -> build/        the kevo binary users run
#   asan    -> build-asan/   ASan + UBSan, for the unit tests
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-release}"
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DKEVO_SANITIZE=ON) ;;
  *) echo "usage: scripts/build.sh [release|asan]" >&2; exit 2 ;;
esac
jobs="${KEVO_BUILD_JOBS:-$(nproc)}"
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
