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


class BenchSeedTable(unittest.TestCase):
    def test_missing_json_names_the_flag_and_the_renderer(self):
        rc, _, err = run("seeds/dense_flashdecode.cu")
        self.assertEqual(rc, 2)
        self.assertIn("--json OUT is required", err)
        self.assertIn("scripts/seeds_table.py", err)

    def test_no_file(self):
        rc, _, err = run("--json", "/nonexistent/t.json")
        self.assertEqual(rc, 2)
        self.assertIn("no FILE.cu given", err)

    def test_zero_evaluations(self):
        rc, _, err = run("--evals", "0", "--json", "/nonexistent/t.json", "x.cu")
        self.assertEqual(rc, 2)
        self.assertIn("--evals must be at least 1", err)

    def test_unknown_option_is_named(self):
        rc, _, err = run("--jsn", "t.json", "x.cu")
        self.assertEqual(rc, 2)
        self.assertIn("unknown option '--jsn'", err)

    def test_option_without_value_is_named(self):
        rc, _, err = run("x.cu", "--json")
        self.assertEqual(rc, 2)
        self.assertIn("'--json'", err)

    def test_bad_override(self):
        rc, _, err = run("--json", "/nonexistent/t.json", "x.cu:TOPK=abc")
        self.assertEqual(rc, 1)
        self.assertIn("bad param overrides in 'x.cu:TOPK=abc'", err)

    def test_help_goes_to_stdout_with_status_0(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: bench_seed_table", out)


if __name__ == "__main__":
    BENCH = sys.argv.pop(1)
    unittest.main()
