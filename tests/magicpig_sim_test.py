#!/usr/bin/env python3
"""bench_magicpig_sim (bench/magicpig_sim.cc) on a small generated suite: sampling by fewer
collisions takes a superset of the tokens, forcing every token gives exact attention, and bad
arguments are refused with a message.
    python3 tests/magicpig_sim_test.py BENCH_MAGICPIG_SIM
"""
import os
import subprocess
import sys
import tempfile
import unittest

SIM = None


def rows(out):
    """The table's data rows as dicts."""
    res = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[1].isdigit():
            continue
        res.append({"workload": cells[0], "params": tuple(int(c) for c in cells[1:4]),
                    "share": float(cells[4]), "mean": float(cells[5]), "worst": float(cells[6])})
    return res


class MagicpigSim(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.suite = os.path.join(cls.tmp.name, "small.yaml")
        with open(cls.suite, "w") as f:
            f.write("name: small\nHq: 8\nHkv: 2\nD: 128\nseed: 77\nworkloads:\n"
                    "  - {B: 1, N: 2048}\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def sim(self, *args):
        return subprocess.run([SIM, "--suite", self.suite, "--workload", "B1-N2048", "--calls", "2",
                               "--threads", "2", *args], capture_output=True, text=True, timeout=300)

    def test_fewer_collisions_sample_a_superset(self):
        r = self.sim("--params", "6,64,1", "--params", "6,64,2", "--params", "6,64,3")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = {x["params"]: x for x in rows(r.stdout)}
        self.assertEqual(set(got), {(6, 64, 1), (6, 64, 2), (6, 64, 3)})
        s1, s2, s3 = (got[(6, 64, m)]["share"] for m in (1, 2, 3))
        self.assertTrue(1.0 >= s1 >= s2 >= s3 >= 0.0, (s1, s2, s3))
        self.assertGreater(s1, s3)
        for x in got.values():
            self.assertTrue(0.0 <= x["mean"] <= x["worst"] < 1.5, x)

    def test_every_token_forced_is_exact_attention(self):
        r = self.sim("--sink", "2048", "--params", "6,64,3")
        self.assertEqual(r.returncode, 0, r.stderr)
        (x,) = rows(r.stdout)
        self.assertEqual(x["share"], 0.0)  # forced tokens are not sampled ones
        self.assertLess(x["worst"], 1e-5)

    def test_bad_arguments_are_refused(self):
        r = self.sim("--params", "6,64")
        self.assertEqual(r.returncode, 2)
        self.assertIn("KBITS,TABLES,MINCOL", r.stderr)
        r = subprocess.run([SIM, "--suite", self.suite, "--workload", "B9-N1"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no workload 'B9-N1'", r.stderr)


if __name__ == "__main__":
    SIM = sys.argv.pop(1)
    unittest.main()
