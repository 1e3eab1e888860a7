#!/usr/bin/env python3
"""scripts/seeds_table.py on bench_seed_table JSON made here (two seeds, two evaluations each):
medians and ranges of the speedups, variants in rows of their own, the failed evaluation's count
and message, the roofline share from scripts/roofline.py, and where each seed's decode time goes,
kernel by kernel.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'scripts', 'seeds_table.py')


def workload(name, decode_us, speedup, kernels):
    return {'name': name, 'decode_us': decode_us, 'speedup': speedup,
            'kernels': [{'name': k, 'us': us} for k, us in kernels]}


def evaluation(scale, status='ok'):
    if status != 'ok':
        return {'status': status, 'message': 'mean error 0.31 > 0.2 at B1-N8192', 'metrics': {},
                'workloads': []}
    return {'status': 'ok', 'metrics': {'mean_rel_err': 0.02 * scale, 'worst_call_err': 0.05 * scale},
            'workloads': [workload('B1-N8192', 10.0 * scale, 2.0 / scale,
                                   [('score', 6.0 * scale), ('attend', 3.0 * scale)]),
                          workload('B1-N131072', 40.0 * scale, 3.0 / scale,
                                   [('attend', 30.0 * scale), ('score', 6.0 * scale)])]}


class SeedsTable(unittest.TestCase):
    def render(self, table):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, 'table.json'), 'w') as f:
                json.dump(table, f)
            r = subprocess.run([sys.executable, SCRIPT, tmp], cwd=ROOT, capture_output=True,
                               text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_speedups_roofline_and_kernel_shares(self):
        table = {'gpu': 'NVIDIA H200', 'copy_gbps': 4000, 'suite': 'llama3-8b', 'seeds': [
            {'file': 'seeds/hash_topk.cu', 'params': {},
             'evals': [evaluation(1.0), evaluation(1.25), evaluation(1.0, 'inaccurate')]},
            {'file': 'seeds/hash_topk.cu', 'params': {'BITS': 64}, 'evals': [evaluation(9.0)]},
        ]}
        out = self.render(table)
        # Median over the two ok evaluations (2.0 and 1.6), with the range; 2 of 3 ok.
        self.assertIn('| hash_topk | 1 | 2/3 | 1.80x (1.60-2.00) | 2.70x (2.40-3.00) |', out)
        # A variant with params is not the seed: its own row, named by its params, right after
        # the seed's (its 9x slower figures do not mix into the seed's medians).
        self.assertIn('| hash_topk (BITS=64) | 1 | 1/1 | 0.22x | 0.33x |', out)
        self.assertLess(out.index('| hash_topk | 1 |'), out.index('| hash_topk (BITS=64) |'))
        self.assertIn('hash_topk: mean error 0.31 > 0.2 at B1-N8192', out)
        # Decode against the roofline: median 11.25 us at B1-N8192, beside the script's floor.
        self.assertRegex(out, r'\| hash_topk \| 11\.2 / [0-9.]+ us \([0-9]+%\)')
        # Where the time goes: medians per kernel, largest first, and the gaps when over 5%.
        self.assertIn('Where the decode time goes', out)
        self.assertIn('| hash_topk | score 6.8 (60%), attend 3.4 (30%), gaps 1.1 (10%) | '
                      'attend 33.8 (75%), score 6.8 (15%), gaps 4.5 (10%) |', out)

    def test_no_results_is_an_error_naming_the_input(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, 'table.json'), 'w') as f:
                json.dump({'gpu': 'x', 'copy_gbps': 1, 'seeds': []}, f)
            r = subprocess.run([sys.executable, SCRIPT, tmp], cwd=ROOT, capture_output=True,
                               text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('no seed results in ' + tmp, r.stderr)


if __name__ == '__main__':
    unittest.main()
