#!/usr/bin/env bash
# Checks that the lines a change adds or edits in C++ and CUDA files are clang-formatted
# (.clang-format). Only changed lines: most of the tree predates the check, and reformatting a
# whole file to touch one line would bury the change. The change is everything since BASE (the
# argument, else $KEVO_FORMAT_BASE, else the commit before HEAD: in a fresh clone, what its last
# commit changed), uncommitted edits included. Without git history to compare with it says so and
# passes. Usage: scripts/check_format.sh [BASE]
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-${KEVO_FORMAT_BASE:-HEAD~1}}"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "format: not a git checkout, nothing to compare with; skipped"
  exit 0
fi
if ! git rev-parse -q --verify "${base}^{commit}" >/dev/null; then
  echo "format: no commit '$base' to compare with (a shallow clone?); skipped"
  exit 0
fi
if ! command -v git-clang-format >/dev/null || ! command -v clang-format >/dev/null; then
  echo "format: clang-format is not installed (scripts/setup.sh installs it)" >&2
  exit 1
fi
diff=$(git clang-format --binary clang-format --diff --extensions h,cc,cu,cuh "$base" -- 2>&1) || true
if grep -q '^diff --git\|^@@' <<<"$diff"; then
  echo "$diff"
  echo "format: the lines above, changed since $base, are not clang-formatted;" \
       "'git clang-format $base' formats them" >&2
  exit 1
fi
echo "format: ok (lines changed since $(git rev-parse --short "$base"))"
