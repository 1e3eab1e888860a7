#!/usr/bin/env bash
# Installs what is missing, builds kevo with AddressSanitizer + UndefinedBehaviorSanitizer, and runs
# every test suite. GPU tests skip with a visible reason on machines without a GPU. A throwaway
# PostgreSQL server (scripts/pg_test_server.sh: a temporary folder, a Unix socket, run as `nobody`
# when this runs as root) serves the PostgreSQL suites, which must then run, not skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh asan
# NVRTC keeps process-lifetime allocations that LeakSanitizer would report as leaks.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# setup.sh installed Chromium and matplotlib: the web view and report tests must run, not skip.
export KEVO_REQUIRE_VIEW_TOOLS=1
pg_dir=$(mktemp -d /tmp/kevo-pg.XXXXXX)
trap 'scripts/pg_test_server.sh stop "$pg_dir"' EXIT
KEVO_TEST_PG=$(scripts/pg_test_server.sh start "$pg_dir")  # fails the script if it cannot start
export KEVO_TEST_PG
export KEVO_REQUIRE_PG=1
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900
