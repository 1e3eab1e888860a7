#!/usr/bin/env python3
"""The confirmation table of scripts/gpu_tune_seeds.sh: each seed's defaults beside the tuner's
best params, read against the accuracy rules a default must keep (issue 13).

    scripts/tune_table.py CONFIRM.json [--max-worst 0.15] [--max-holdout-ratio 1.5]

CONFIRM.json is bench_seed_table's output (--json). Per row: the median speedup per workload over
the ok evaluations, the mean and worst per-call error, the holdout error and its ratio to the
suite's mean error, and a verdict. The tuner maximises speed under the run's error gate, so its
winner often spends the whole accuracy margin; the verdict says whether a row keeps it:
  keeps margin            every evaluation ok, worst per-call error under --max-worst, holdout
                          error at most --max-holdout-ratio times the suite's
  spends margin: REASONS  ok, but over one of those bounds (which one, by how much)
  not ok: STATUSES        some evaluation failed (its statuses)
A param set is a candidate default only when it keeps the margin and is faster.
Exit status 0, or 2 when the file cannot be read.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import roofline  # noqa: E402  (its params_of reads a seed's `kevo:param` defaults)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def changed_params(seed):
    """The entry's params that differ from its file's defaults (the tuner names them all)."""
    params = seed.get("params", {})
    path = seed["file"] if os.path.isabs(seed["file"]) else os.path.join(ROOT, seed["file"])
    try:
        defaults = roofline.params_of(path, {})
    except OSError:  # the seed file is not here: show every param
        return params
    return {k: v for k, v in params.items() if defaults.get(k) != v}


def row_of(seed, max_worst, max_ratio):
    """(name, params, cells, errors, verdict) of one bench_seed_table seed entry."""
    name = seed["file"].split("/")[-1]
    name = name[:-3] if name.endswith(".cu") else name
    params = ",".join(f"{k}={v}" for k, v in sorted(changed_params(seed).items())) or "(defaults)"
    evals = seed.get("evals", [])
    ok = [e for e in evals if e.get("status") == "ok"]
    failed = sorted({e.get("status", "?") for e in evals if e.get("status") != "ok"})
    if not ok:
        return name, params, [], None, "not ok: " + (", ".join(failed) or "no evaluation")
    names = [w["name"] for w in ok[0]["workloads"]]
    cells = [(n, statistics.median(e["workloads"][i]["speedup"] for e in ok))
             for i, n in enumerate(names)]
    mean = statistics.mean(e["metrics"].get("mean_rel_err", 0.0) for e in ok)
    worst = max(e["metrics"].get("worst_call_err", 0.0) for e in ok)
    hold = seed.get("holdout") or {}
    hold_err = hold.get("metrics", {}).get("mean_rel_err") if hold.get("status") == "ok" else None
    if failed:
        return name, params, cells, (mean, worst, hold_err), "not ok: " + ", ".join(failed)
    reasons = []
    if worst >= max_worst:
        reasons.append(f"worst call {worst:.3f} >= {max_worst:g}")
    if hold_err is not None and mean > 0 and hold_err / mean > max_ratio:
        reasons.append(f"holdout {hold_err / mean:.2f}x the suite's > {max_ratio:g}x")
    if hold and hold.get("status") not in (None, "ok"):
        reasons.append(f"holdout {hold.get('status')}")
    verdict = "spends margin: " + "; ".join(reasons) if reasons else "keeps margin"
    return name, params, cells, (mean, worst, hold_err), verdict


def render(rows):
    header = next((r[2] for r in rows if r[2]), [])
    out = ["| seed | params | " + " | ".join(n for n, _ in header) +
           " | mean err | worst call | holdout err | verdict |",
           "|---|---|" + "---|" * len(header) + "---|---|---|---|"]
    for name, params, cells, errs, verdict in rows:
        by_name = dict(cells)
        speed = [f"{by_name[n]:.2f}x" if n in by_name else "-" for n, _ in header]
        if errs:
            mean, worst, hold = errs
            err = [f"{mean:.4f}", f"{worst:.3f}", "-" if hold is None else f"{hold:.4f}"]
        else:
            err = ["-", "-", "-"]
        out.append("| " + " | ".join([name, params] + speed + err + [verdict]) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("confirm", help="bench_seed_table --json output")
    ap.add_argument("--max-worst", type=float, default=0.15,
                    help="worst per-call mean error a default must stay under (issue 13: 0.15)")
    ap.add_argument("--max-holdout-ratio", type=float, default=1.5,
                    help="holdout error over the suite's a default may reach (issue 13: 1.5)")
    args = ap.parse_args()
    try:
        seeds = json.load(open(args.confirm))["seeds"]
    except (OSError, ValueError, KeyError) as e:
        print(f"tune_table: cannot read {args.confirm}: {e}", file=sys.stderr)
        return 2
    print(render([row_of(s, args.max_worst, args.max_holdout_ratio) for s in seeds]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
