#!/usr/bin/env python3
"""bench_seed_table's refusals (bench/seed_table.cc): each bad command line exits 2 (1 for a bad
param override) before any GPU work, naming what is wrong, so a lent GPU call is not spent on a
bare usage line. Runs with or without a GPU: nothing here reaches one.
    python3 tests/bench_seed_table_test.py BENCH_SEED_TABLE
"""
import subprocess
import sys
import unittest

BENCH = None


def run(*args):
    p = subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


# (what is wrong, command line, exit status, what the message must say)
REFUSALS = [
    ("missing --json", ["seeds/dense_flashdecode.cu"], 2,
     ["--json OUT is required", "scripts/seeds_table.py"]),
    ("no file", ["--json", "/nonexistent/t.json"], 2, ["no FILE.cu given"]),
    ("zero evaluations", ["--evals", "0", "--json", "/nonexistent/t.json", "x.cu"], 2,
     ["--evals must be at least 1"]),
    ("unknown option", ["--jsn", "t.json", "x.cu"], 2, ["unknown option '--jsn'"]),
    ("option without its value", ["x.cu", "--json"], 2, ["'--json'"]),
    ("bad override", ["--json", "/nonexistent/t.json", "x.cu:TOPK=abc"], 1,
     ["bad param overrides in 'x.cu:TOPK=abc'"]),
]


class BenchSeedTable(unittest.TestCase):
    def test_each_refusal_names_what_is_wrong(self):
        for what, args, want_rc, want_text in REFUSALS:
            with self.subTest(what):
                rc, _, err = run(*args)
                self.assertEqual(rc, want_rc, err)
                for text in want_text:
                    self.assertIn(text, err)

    def test_help_goes_to_stdout_with_status_0(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: bench_seed_table", out)


if __name__ == "__main__":
    BENCH = sys.argv.pop(1)
    unittest.main()
