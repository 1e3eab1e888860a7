#!/usr/bin/env python3
"""Renders the measured tables of seeds/README.md from `kevo eval --json` results.

    scripts/seeds_table.py DIR        # DIR holds eval_<seed>.json (scripts/gpu_export_check.sh
                                      # writes them on the GPU machine)

Prints the summary table and one section per seed (params are the seed file's defaults, read
from its `kevo:param` lines). Paste the output under "Measured on the GPU machine".
"""
import glob
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ["hash_topk", "socket_soft", "quest_pages", "magicpig_lsh", "vattention", "dsa_indexer"]


def defaults(seed):
    text = open(os.path.join(ROOT, "seeds", seed + ".cu")).read()
    return [f"{m[0]}={m[1]}" for m in re.findall(r"//\s*kevo:param\s+(\w+)\s*=\s*(-?\d+)", text)]


def geomean(xs):
    xs = [x for x in xs if x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else 0.0


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = {}
    for f in glob.glob(os.path.join(sys.argv[1], "eval_*.json")):
        name = os.path.basename(f)[5:-5]
        try:
            results[name] = json.load(open(f))
        except (OSError, ValueError) as e:
            print(f"skipping {f}: {e}", file=sys.stderr)
    seeds = [s for s in ORDER if s in results]
    names = next(([w["name"] for w in results[s]["workloads"]] for s in seeds
                  if results[s].get("workloads")), [])
    gpu = next((r.get("gpu") for r in results.values() if r.get("gpu")), "unknown GPU")
    print(f"Measured on {gpu}.\n")
    print("| seed | status | mean err | p99 err | index B/token | "
          + " | ".join(names) + " | geomean |")
    print("|---" * (len(names) + 6) + "|")
    for s in seeds:
        r = results[s]
        m = r.get("metrics", {})
        sp = {w["name"]: w["speedup"] for w in r.get("workloads", [])}
        print(f"| {s} | {r['status']} | {m.get('mean_rel_err', 0):.4f} | {m.get('p99_rel_err', 0):.4f} | "
              f"{m.get('index_bytes_per_token', 0):.1f} | "
              + " | ".join(f"{sp.get(n, 0):.2f}x" for n in names)
              + f" | {geomean(list(sp.values())):.2f}x |")
    for s in seeds:
        r = results[s]
        m = r.get("metrics", {})
        print(f"\n### {s}\n")
        print(f"Params (defaults): {', '.join(defaults(s))}. Status **{r['status']}**; index "
              f"{m.get('index_bytes_per_token', 0):.1f} B/token/KV head; build "
              f"{m.get('build_ns_per_token', 0):.2f} ns/token; mean error {m.get('mean_rel_err', 0):.4f}, "
              f"p99 {m.get('p99_rel_err', 0):.4f}; speedup (geomean) {m.get('speedup', 0):.2f}x.\n")
        print("| workload | decode us | dense us | speedup | mean err | p99 err | kernels (us) |")
        print("|---|---|---|---|---|---|---|")
        for w in r.get("workloads", []):
            ks = ", ".join(f"{k['name']} {k['us']:.1f}" for k in w.get("kernels", []))
            print(f"| {w['name']} | {w['decode_us']:.1f} | {w['dense_us']:.1f} | {w['speedup']:.2f}x | "
                  f"{w['mean_rel_err']:.4f} | {w['p99_rel_err']:.4f} | {ks} |")


if __name__ == "__main__":
    main()
