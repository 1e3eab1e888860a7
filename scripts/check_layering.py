#!/usr/bin/env python3
"""Checks that components include only what scripts/layering.txt allows.

A component may include its own headers, and the public headers of the components it may call.
Prints one line per offending include (file:line: the include and why), and exits 1 if there is
any. Usage: scripts/check_layering.py [--root DIR] [--rules FILE]
"""
import argparse
import configparser
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCES = ('.h', '.cc', '.cu', '.cuh', '.hpp', '.cpp')


def load_rules(path):
    parser = configparser.ConfigParser(delimiters=('=',), comment_prefixes=('#',))
    with open(path, encoding='utf-8') as f:
        parser.read_file(f)
    rules = {}
    for folder in parser.sections():
        calls = parser.get(folder, 'calls', fallback='').split()
        public = parser.get(folder, 'public', fallback='').split()
        rules[folder.rstrip('/')] = {'calls': calls, 'public': set(public)}
    for folder, rule in rules.items():
        for callee in rule['calls']:
            if callee not in rules:
                sys.exit(f'{path}: [{folder}] calls "{callee}", which is no component')
    return rules


def owner(path, rules):
    """The component a repository path belongs to (longest folder that holds it), or None."""
    best = None
    for folder in rules:
        if path.startswith(folder + '/') and (best is None or len(folder) > len(best)):
            best = folder
    return best


def check(root, rules):
    problems = []
    for folder in sorted(rules):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, folder)):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith(SOURCES):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                me = owner(rel, rules)
                if me != folder:
                    continue  # a nested component's file: checked as that component
                with open(full, encoding='utf-8', errors='replace') as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        other = owner(target, rules)
                        if other is None or other == me:
                            continue
                        where = f'{rel}:{lineno}: #include "{target}"'
                        header = target[len(other) + 1:]
                        if other not in rules[me]['calls']:
                            may = ', '.join(rules[me]['calls']) or 'nothing of kevo'
                            problems.append(f'{where}: {me}/ may not call {other}/ '
                                            f'(it may call: {may})')
                        elif header not in rules[other]['public']:
                            public = ' '.join(sorted(rules[other]['public'])) or 'none'
                            problems.append(f'{where}: a private header of {other}/ '
                                            f'(its public headers: {public})')
    return problems


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--root', default=os.path.dirname(here), help='the repository root')
    ap.add_argument('--rules', help='the layering file (default: ROOT/scripts/layering.txt)')
    args = ap.parse_args()
    rules = load_rules(args.rules or os.path.join(args.root, 'scripts', 'layering.txt'))
    problems = check(args.root, rules)
    for p in problems:
        print(p)
    if problems:
        print(f'layering: {len(problems)} include(s) break scripts/layering.txt; include a '
              'public header, or give the other component a public interface for what is needed')
        return 1
    print(f'layering: ok ({len(rules)} components)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
