#!/usr/bin/env python3
"""scripts/tune_table.py on bench_seed_table JSON made here: medians of the speedups, params shown
where they differ from the seed file's defaults, and the verdict against the accuracy rules a
default keeps (worst per-call error under the bound, holdout error within 1.5x the suite's,
every evaluation ok); an unreadable file exits 2 with a message.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'scripts', 'tune_table.py')


def evaluation(speedups, mean, worst, status='ok'):
    if status != 'ok':
        return {'status': status, 'metrics': {}, 'workloads': []}
    return {'status': 'ok', 'metrics': {'mean_rel_err': mean, 'worst_call_err': worst},
            'workloads': [{'name': 'B1-N32768', 'speedup': speedups[0]},
                          {'name': 'B1-N131072', 'speedup': speedups[1]}]}


def seed(params, evals, holdout_err):
    return {'file': 'seeds/socket_soft.cu', 'params': params, 'evals': evals,
            'holdout': {'status': 'ok', 'metrics': {'mean_rel_err': holdout_err}}}


class TuneTable(unittest.TestCase):
    def render(self, seeds, *args):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'confirm.json')
            with open(path, 'w') as f:
                json.dump({'seeds': seeds}, f)
            r = subprocess.run([sys.executable, SCRIPT, path] + list(args), cwd=ROOT,
                               capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {line.split(' | ')[1]: line for line in r.stdout.splitlines()[2:]}

    def test_verdicts(self):
        defaults = self.read_defaults()
        rows = self.render([
            seed({}, [evaluation((1.2, 1.7), 0.03, 0.08), evaluation((1.4, 1.9), 0.03, 0.09),
                      evaluation((1.3, 1.8), 0.03, 0.07)], 0.02),
            # The tuner names every param; those at the file's default are not shown.
            seed(dict(defaults, TABLES=30), [evaluation((1.5, 2.0), 0.05, 0.16)], 0.05),
            seed(dict(defaults, WIN=64), [evaluation((1.5, 2.0), 0.04, 0.10)], 0.07),
            seed({'SINK': 0}, [evaluation((1.5, 2.0), 0.04, 0.10),
                               evaluation((0, 0), 0, 0, status='inaccurate')], 0.04),
        ])
        self.assertIn('| 1.30x | 1.80x |', rows['(defaults)'])  # medians
        self.assertTrue(rows['(defaults)'].endswith('| keeps margin |'), rows['(defaults)'])
        self.assertIn('spends margin: worst call 0.160 >= 0.15', rows['TABLES=30'])
        self.assertIn('spends margin: holdout 1.75x the suite\'s > 1.5x', rows['WIN=64'])
        self.assertIn('not ok: inaccurate', rows['SINK=0'])

    def test_bounds_are_options(self):
        rows = self.render([seed({'TABLES': 30}, [evaluation((1.5, 2.0), 0.05, 0.16)], 0.05)],
                           '--max-worst', '0.2')
        self.assertIn('keeps margin', rows['TABLES=30'])

    def test_unreadable_file(self):
        r = subprocess.run([sys.executable, SCRIPT, '/nonexistent/confirm.json'],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn('cannot read', r.stderr)

    def read_defaults(self):
        sys.path.insert(0, os.path.join(ROOT, 'scripts'))
        import roofline
        return roofline.params_of(os.path.join(ROOT, 'seeds', 'socket_soft.cu'), {})


if __name__ == '__main__':
    unittest.main()
