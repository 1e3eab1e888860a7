#!/usr/bin/env python3
"""scripts/check_layering.py on a copy of the tree: it passes as the tree is, and fails, naming
the file, the line and the include, once a private header or a forbidden component is included.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = os.path.join(ROOT, 'scripts', 'check_layering.py')


class LayeringCheck(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='kevo-layering-')
        ignore = shutil.ignore_patterns('build*', '.git', '*.png')
        for folder in ('common', 'evaluator', 'sandbox', 'archive', 'orchestrator', 'scripts'):
            shutil.copytree(os.path.join(ROOT, folder), os.path.join(self.tmp, folder),
                            ignore=ignore)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_check(self):
        return subprocess.run([sys.executable, CHECK, '--root', self.tmp], capture_output=True,
                              text=True)

    def plant(self, path, include):
        full = os.path.join(self.tmp, path)
        with open(full, encoding='utf-8') as f:
            lines = f.read().split('\n')
        first = next(i for i, l in enumerate(lines) if l.startswith('#include'))
        lines.insert(first, f'#include "{include}"')
        with open(full, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines))
        return first + 1  # the planted line's number

    def test_the_tree_passes(self):
        r = self.run_check()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def assert_planted_fails(self, path, include, why):
        line = self.plant(path, include)
        r = self.run_check()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(f'{path}:{line}: #include "{include}": {why}', r.stdout)

    def test_a_private_header_of_another_component_fails(self):
        self.assert_planted_fails('sandbox/gpu_runner.cc', 'evaluator/cuda_driver.h',
                                  'a private header of evaluator/')

    def test_a_component_it_may_not_call_fails(self):
        self.assert_planted_fails('archive/grid.cc', 'evaluator/evaluator.h',
                                  'archive/ may not call evaluator/')

    def test_a_room_of_the_orchestrator_is_a_component_too(self):
        self.assert_planted_fails('orchestrator/llm/llm_pool.cc',
                                  'orchestrator/evolution/evolution.h',
                                  'orchestrator/llm/ may not call orchestrator/evolution/')

    def test_its_own_private_headers_are_fine(self):
        self.plant('evaluator/plan.cc', 'evaluator/cuda_driver.h')
        r = self.run_check()
        self.assertEqual(r.returncode, 0, r.stdout)


if __name__ == '__main__':
    unittest.main()
