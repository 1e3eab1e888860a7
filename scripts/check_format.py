#!/usr/bin/env python3
"""Checks that the lines a change adds or edits in C++ and CUDA files are clang-formatted.

Only changed lines: most of the tree predates the check, and reformatting a whole file to touch
one line would bury the change. The change is everything since BASE (--base, else
$KEVO_FORMAT_BASE, else the commit before HEAD: in a fresh clone, what its last commit changed),
uncommitted edits included; a moved file counts only its edited lines. Without git history to
compare with it says so and passes. --fix formats those lines in place.
Usage: scripts/check_format.py [--base REV] [--fix]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

PATTERNS = ['*.h', '*.cc', '*.cu', '*.cuh']
HUNK = re.compile(r'^@@ -\S+ \+(\d+)(?:,(\d+))? @@')


def git(*args):
    return subprocess.run(['git', *args], capture_output=True, text=True)


def changed_lines(base):
    """{path: [(first, last), ...]} of the lines added or edited since `base`."""
    out = git('diff', '-M', '-U0', '--no-color', '--diff-filter=AMR', base, '--', *PATTERNS)
    if out.returncode != 0:
        sys.exit(f'format: git diff failed: {out.stderr.strip()}')
    ranges, path = {}, None
    for line in out.stdout.splitlines():
        if line.startswith('+++ '):
            path = line[6:] if line.startswith('+++ b/') else None
        elif path and (m := HUNK.match(line)):
            first, count = int(m.group(1)), int(m.group(2) or '1')
            if count > 0:
                ranges.setdefault(path, []).append((first, first + count - 1))
    return ranges


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--base', default=os.environ.get('KEVO_FORMAT_BASE', 'HEAD~1'))
    ap.add_argument('--fix', action='store_true', help='format the changed lines in place')
    args = ap.parse_args()
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if git('rev-parse', '--git-dir').returncode != 0:
        print('format: not a git checkout, nothing to compare with; skipped')
        return 0
    if git('rev-parse', '-q', '--verify', args.base + '^{commit}').returncode != 0:
        print(f"format: no commit '{args.base}' to compare with (a shallow clone?); skipped")
        return 0
    if not shutil.which('clang-format'):
        print('format: clang-format is not installed (scripts/setup.sh installs it)')
        return 1
    bad = 0
    ranges = changed_lines(args.base)
    for path, spans in sorted(ranges.items()):
        lines = [f'--lines={a}:{b}' for a, b in spans]
        mode = ['-i'] if args.fix else ['--dry-run', '-Werror']
        r = subprocess.run(['clang-format', '--style=file', *mode, *lines, path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            bad += 1
            sys.stdout.write(r.stderr)
    base = git('rev-parse', '--short', args.base).stdout.strip()
    if bad:
        print(f'format: {bad} file(s) have lines changed since {base} that are not '
              f'clang-formatted; scripts/check_format.py --base {args.base} --fix formats them')
        return 1
    print(f'format: ok ({len(ranges)} file(s) changed since {base})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
