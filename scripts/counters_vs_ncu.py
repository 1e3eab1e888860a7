#!/usr/bin/env python3
"""kevo's hardware counters beside ncu's for the same kernels (issue 20).

Reads, from the folder scripts/gpu_counters_check.sh wrote: bench_one.json (bench_counters on one
workload) and ncu_<seed>.csv (ncu --csv --page raw --print-units base on the same workload).
Prints one row per decode kernel: DRAM read and write MB, duration, L2 hit, warps/SM, issue
busy, and kevo's top stall with its cycles per issued instruction beside ncu's, each with the
relative difference; then the largest differences. Usage: counters_vs_ncu.py DIR
"""
import csv
import json
import os
import sys

FIELDS = [  # (label, ours(counters) -> value, ncu metric, scale to the same unit)
    ("read MB", lambda c: c["dram_read_bytes"] / 1e6, "dram__bytes_read.sum", 1e-6),
    ("write MB", lambda c: c["dram_write_bytes"] / 1e6, "dram__bytes_write.sum", 1e-6),
    ("us", lambda c: c["duration_us"], "gpu__time_duration.sum", 1e-3),
    ("L2 hit%", lambda c: c["l2_hit_pct"], "lts__t_sector_hit_rate.pct", 1),
    ("warps/SM", lambda c: c["warps_per_sm"], "sm__warps_active.avg.per_cycle_active", 1),
    ("issue%", lambda c: c["issue_active_pct"], "smsp__issue_active.avg.pct_of_peak_sustained_active", 1),
]


def ncu_rows(path):
    lines = [l for l in open(path, errors="replace") if l.startswith('"')]
    if len(lines) < 3:
        return []
    rows = list(csv.reader(lines))
    header, body = rows[0], rows[2:]  # rows[1] holds the units
    out = []
    for r in body:
        d = dict(zip(header, r))
        vals = {}
        for k, v in d.items():
            try:
                vals[k] = float(v.replace(",", ""))
            except ValueError:
                vals[k] = v
        out.append(vals)
    return out


def rel(a, b):
    if b == 0:
        return 0.0 if a == 0 else float("inf")
    return (a - b) / b


def main(folder):
    bench = json.load(open(os.path.join(folder, "bench_one.json")))
    table, worst = [], []
    for f in bench["files"]:
        seed = os.path.basename(f["file"])[:-3]
        path = os.path.join(folder, "ncu_%s.csv" % seed)
        if not os.path.exists(path):
            continue
        theirs = ncu_rows(path)
        kernels = [k for w in f["with_counters"].get("workloads", []) for k in w["kernels"] if "counters" in k]
        for k in kernels:
            match = [t for t in theirs if t.get("Kernel Name") == k["name"]]
            if not match:
                table.append((seed, k["name"], "no ncu row"))
                continue
            t, c = match[0], k["counters"]
            cells = []
            for label, ours, metric, scale in FIELDS:
                a, b = ours(c), t.get(metric)
                if not isinstance(b, float):
                    cells.append("%s %.4g/-" % (label, a))
                    continue
                b *= scale
                d = rel(a, b)
                cells.append("%s %.4g/%.4g (%+.1f%%)" % (label, a, b, 100 * d))
                if label not in ("L2 hit%",) and max(abs(a), abs(b)) > 1e-3:
                    worst.append((abs(d), seed, k["name"], label, a, b))
            if c["stalls"]:
                s = c["stalls"][0]
                m = "smsp__average_warps_issue_stalled_%s_per_issue_active.ratio" % s["reason"]
                b = t.get(m)
                if isinstance(b, float):
                    cells.append("top stall %s %.3g/%.3g per issue (%+.1f%%)" %
                                 (s["reason"], s["per_issue"], b, 100 * rel(s["per_issue"], b)))
                    worst.append((abs(rel(s["per_issue"], b)), seed, k["name"], "stall " + s["reason"],
                                  s["per_issue"], b))
            table.append((seed, k["name"], "; ".join(cells)))
    print("kevo / ncu per decode kernel (one call each; ncu --clock-control none, cache control all)")
    for seed, kernel, text in table:
        print("%-18s %-14s %s" % (seed, kernel, text))
    worst.sort(reverse=True)
    print("\nlargest differences:")
    for d, seed, kernel, label, a, b in worst[:12]:
        print("  %5.1f%%  %s %s %s: kevo %.4g, ncu %.4g" % (100 * d, seed, kernel, label, a, b))
    within = sum(1 for w in worst if w[0] <= 0.10)
    print("\n%d of %d compared figures within 10%% (L2 hit rates listed, not counted: ncu flushes "
          "L2 before each kernel, kevo before each call)" % (within, len(worst)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/kevo-counters")
