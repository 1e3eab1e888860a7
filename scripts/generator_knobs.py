#!/usr/bin/env python3
"""What each knob of kevo's data generator changes: runs `kevo suite-stats --json` on one
llama3-8b-shaped workload with the default generator and with one knob changed at a time, and
prints a Markdown table (the one in docs/suites.md).
    python3 scripts/generator_knobs.py [--kevo build/kevo] [--N 8192] [--queries 4]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# (knob, changed value): each moves one property of the data away from the default.
CHANGES = [
    ("temp_max", 1.0), ("temp_min", 1.5), ("heavy_fraction", 0.0), ("heavy_fraction", 0.01),
    ("heavy_mass_max", 0.3), ("heavy_mass_min", 0.3), ("sinks", 0), ("sink_mass_max", 0.1),
    ("recent_logit", 6.0), ("recent_window", 256), ("key_mean", 0.0), ("key_mean", 3.0),
    ("outlier_channels", 0), ("outlier_scale", 1.0), ("qk_align", 1.0), ("rope_base", 10000),
    ("value_mean", 2.0), ("value_outlier_frac", 0.1), ("query_noise", 1.0),
]


def stats(kevo, N, queries, knob=None, value=None):
    yaml = "name: knobs\nHq: 32\nHkv: 8\nD: 128\nseed: 8001\nworkloads:\n  - {B: 1, N: %d}\n" % N
    if knob:
        yaml += "generator:\n  %s: %s\n" % (knob, value)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(yaml)
    try:
        out = subprocess.run([kevo, "suite-stats", f.name, "--json", "--queries", str(queries)],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    a = json.loads(out)["workloads"][0]["all"]
    return [a["entropy_norm"], a["topk_mass"]["1/8"], a["topk_mass"]["1/32"],
            a["topk_rel_err"]["1/8"], a["topk_rel_err"]["1/32"], a["sink_mass"], a["recent_mass"]]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kevo", default="build/kevo")
    p.add_argument("--N", type=int, default=8192)
    p.add_argument("--queries", type=int, default=4)
    a = p.parse_args()
    cols = ["H/lnN", "mass 1/8", "mass 1/32", "err 1/8", "err 1/32", "sink", "recent"]
    print("| generator | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    base = stats(a.kevo, a.N, a.queries)
    print("| defaults | " + " | ".join("%.3f" % x for x in base) + " |")
    for knob, value in CHANGES:
        row = stats(a.kevo, a.N, a.queries, knob, value)
        print("| %s: %s | " % (knob, value) + " | ".join("%.3f" % x for x in row) + " |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
