#!/usr/bin/env python3
"""Every seed's header states the bytes its decode must read per workload of the default suite
("the method reads A / B / C / D MB per decode call"); scripts/roofline.py computes them from the
seed's plan and default params. When a default changes (a tuned param adopted) the header must
change with it: this test fails until it does, naming the seed and both figures.
"""
import json
import os
import re
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, 'seeds')
STATED = re.compile(r'the method reads ([0-9./ ]+) MB per decode call')


class SeedRooflines(unittest.TestCase):
    def test_headers_state_what_the_script_computes(self):
        files = sorted(f for f in os.listdir(SEEDS) if f.endswith('.cu'))
        self.assertGreaterEqual(len(files), 7)
        r = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'roofline.py'), '--json']
                           + [os.path.join('seeds', f) for f in files],
                           cwd=ROOT, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        computed = {row['seed']: [w['bytes'] / 1e6 for w in row['workloads']]
                    for row in json.loads(r.stdout)}
        for f in files:
            seed = f[:-3]
            with open(os.path.join(SEEDS, f), encoding='utf-8') as src:
                header = ' '.join(line.lstrip('/ ').rstrip() for line in src
                                  if line.startswith('//'))
            m = STATED.search(header)
            self.assertIsNotNone(m, f'{f}: no "the method reads ... MB per decode call" line')
            stated = [float(x) for x in m.group(1).split('/')]
            self.assertEqual(len(stated), len(computed[seed]), f)
            for s, c in zip(stated, computed[seed]):
                self.assertAlmostEqual(s, c, delta=0.051,
                                       msg=f'{f}: header says {stated} MB, '
                                           f'scripts/roofline.py computes '
                                           f'{[round(x, 1) for x in computed[seed]]}')


if __name__ == '__main__':
    unittest.main()
