#!/usr/bin/env bash
# Installs what is missing, builds kevo with AddressSanitizer + UndefinedBehaviorSanitizer, and runs
# every test suite. GPU tests skip with a visible reason on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh asan
# NVRTC keeps process-lifetime allocations that LeakSanitizer would report as leaks.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# setup.sh installed Chromium and matplotlib: the web view and report tests must run, not skip.
export KEVO_REQUIRE_VIEW_TOOLS=1
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900
