#!/usr/bin/env python3
"""The memory roofline of each seed's decode: the bytes its method must read per workload.

    scripts/roofline.py [--suite llama3-8b] [--copy-gbps 4040] [--json] [SEED.cu[:P=V,...] ...]

For a seed at its default params (its `kevo:param` lines, or the overrides given), the bytes one
decode call must move at the least: the index bytes its scoring reads, the K/V rows of the tokens
it attends (K and V, 2*D bytes each; residual draws read K only), the per-chunk V sums of the
residual estimate, and q and o. Workspace traffic of an implementation (keys, histograms,
partials) is not counted: it is what a better kernel removes. Time at the roofline is bytes over
the copy bandwidth (kevo doctor's, bytes read + written; default: the H200's measured 4040 GB/s).
Without SEED arguments, every seed in seeds/. A seed at N <= its DENSE_N (or B*N <= its DENSE_BN)
attends densely and reads what the dense seed reads. Data-dependent budgets take their smallest value:
vattention's sampled budget is its base sample; magicpig_lsh samples the share of the tokens
that the CPU simulation (bench/magicpig_sim.cc) measured at its KBITS, TABLES and MINCOL
(MAGICPIG_SAMPLED below), or --magicpig-frac.
"""
import argparse
import glob
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cdiv(a, b):
    return -(-a // b)


def params_of(path, overrides):
    text = open(path).read()
    p = {m[0]: int(m[1]) for m in re.findall(r"//\s*kevo:param\s+(\w+)\s*=\s*(-?\d+)", text)}
    p.update(overrides)
    return p


def suite_shapes(name):
    path = name if name.endswith(".yaml") else os.path.join(ROOT, "configs", "suites", name + ".yaml")
    text = open(path).read()
    top = {k: int(v) for k, v in re.findall(r"^(Hq|Hkv|D):\s*(\d+)", text, re.M)}
    out = []
    for w in re.findall(r"-\s*\{([^}]*)\}", text):
        s = dict(top)
        s.update({k: int(v) for k, v in re.findall(r"(\w+):\s*(\d+)", w)})
        name = f"B{s['B']}-N{s['N']}" + ("" if (s["Hq"], s["Hkv"]) == (32, 8) else f"-H{s['Hq']}x{s['Hkv']}")
        out.append((name, s))
    return out


def topk_rows(n, chunk, div, sink, win):
    """Tokens a per-chunk top-k keeps: n_items / div per chunk (at least 1) plus sink and window."""
    full, rest = divmod(n, chunk)
    k = full * max(1, chunk // div) + (max(1, rest // div) if rest else 0)
    return min(n, k + sink + win)


# magicpig_lsh's sampled share of the tokens per KV head (shared proposal) by (KBITS, TABLES,
# MINCOL), from the CPU simulation on the evaluator's generator at B1-N32K and B1-N128K
# (docs/decisions.md, "Run 25" and "Run 26"; bench/magicpig_sim.cc, `build/bench/bench_magicpig_sim
# --params K,L,M`, reproduces them: 0.098 at (6, 64, 3) and 0.189 at (7, 96, 2) at B1-N128K; the
# last entry is its, at B1-N128K with 4 calls; its (6, 48, 3) and (5, 32, 3) are outside the
# seed's param domain, "Runs 30-31").
MAGICPIG_SAMPLED = {(7, 96, 2): 0.19, (6, 64, 3): 0.10, (7, 112, 3): 0.08, (7, 64, 2): 0.105,
                    (8, 112, 2): 0.092, (6, 96, 3): 0.218, (7, 96, 3): 0.057, (6, 32, 2): 0.103}


def seed_bytes(seed, p, s, magicpig_frac):
    """(index bytes, K/V row bytes, other bytes) one decode call reads, per the method."""
    B, Hq, Hkv, N, D = s["B"], s["Hq"], s["Hkv"], s["N"], s["D"]
    heads = B * Hkv
    row = 2 * D  # one K or V row, bf16
    qo = 2 * B * Hq * D * 2
    if seed == "dense_flashdecode" or N <= p.get("DENSE_N", 0) or B * N <= p.get("DENSE_BN", 0):
        # below a crossover (per sequence, DENSE_N, or over the batch, DENSE_BN): dense
        return 0, heads * N * 2 * row, qo
    if seed == "dsa_indexer":
        # Chunks of CH, or CH/2 (attend_half) where CH would give fewer than FILL blocks; each
        # chunk reads the V sums of its half chunks.
        blocks = B * Hkv * cdiv(Hq // Hkv, 8) * cdiv(N, p["CH"])
        ch = p["CH"] // 2 if blocks < p.get("FILL", 0) else p["CH"]
        nch = cdiv(N, ch)
        sel = topk_rows(N, ch, p["TOPK_DIV"], p["SINK"], p["WIN"])
        draws = min(N - sel, nch * p["RSAMP"])
        return (heads * N * (p["DI"] // 2 + 4), heads * (sel * 2 * row + draws * row),
                qo + heads * cdiv(N, p["CH"] // 2) * D * 4)
    if seed in ("hash_topk", "socket_soft"):
        # Chunks of CH, or CH_LONG where the batch holds B*N >= LONG_BN tokens (the seeds' chunk_len).
        long_ = "CH_LONG" in p and B * N >= p["LONG_BN"]
        ch = p["CH_LONG"] if long_ else p["CH"]
        nch = cdiv(N, ch)
        per_token = p["BITS"] // 8 if seed == "hash_topk" else cdiv(p["TABLES"], 16) * 16 + 2
        # each chunk's n / TOPK_DIV (socket_soft: TOPK_DIV_SHORT in the chunks of CH)
        div = p["TOPK_DIV"] if long_ else p.get("TOPK_DIV_SHORT", p["TOPK_DIV"])
        sel = topk_rows(N, ch, div, p["SINK"], p["WIN"])
        draws = min(N - sel, nch * p["RSAMP"])
        return heads * N * per_token, heads * (sel * 2 * row + draws * row), qo + heads * nch * D * 4
    if seed == "quest_pages":
        page, np_ = p["PAGE"], cdiv(N, p["PAGE"])
        nch = cdiv(np_, p["CHP"])
        blocks = nch * max(1, min(8, 32 // nch))  # attend blocks per KV head
        # each group of 64 pages keeps its own n / TOPK_DIV, plus the sink and window pages
        pages = min(np_, topk_rows(np_, 64, p["TOPK_DIV"], 0, 0) + cdiv(p["SINK"], page) +
                    cdiv(p["WIN"], page) + 1)
        sel = min(N, pages * page)
        draws = min(N - sel, blocks * p["RSAMP"])
        # Each attend block reads two rows of the V prefix sums (its stretch's V sum).
        # The bounds: a min and a max row of D e4m3 bytes per page.
        return (heads * np_ * 2 * D, heads * (sel * 2 * row + draws * row),
                qo + heads * blocks * 2 * D * 4)
    if seed == "vattention":
        ns = max(0, N - p["SINK"] - p["WIN"])
        det = topk_rows(N, p["CH"], p["HEAVY_DIV"], p["SINK"], p["WIN"])  # each chunk's n / HEAVY_DIV
        base = min(ns, max(2, ns // p["BASE_DIV"])) if ns else 0
        # the base sample reads K; the budget (at least the base size) reads K and V
        return heads * N * (p["DI"] // 2 + 4), heads * (det * 2 * row + base * row + base * 2 * row), qo
    if seed == "magicpig_lsh":
        if magicpig_frac is None:
            key = (p["KBITS"], p["TABLES"], p["MINCOL"])
            if key not in MAGICPIG_SAMPLED:
                raise ValueError("magicpig_lsh: no simulated sampled share at KBITS=%d, TABLES=%d, "
                                 "MINCOL=%d (pass --magicpig-frac)" % key)
            magicpig_frac = MAGICPIG_SAMPLED[key]
        sampled = min(N, int(magicpig_frac * N) + p["SINK"] + p["WIN"])
        # Codes of every token; ||k - mean|| (4 bytes) and the K/V rows of the sampled ones.
        return heads * N * p["TABLES"] + heads * sampled * 4, heads * sampled * 2 * row, qo
    raise ValueError(f"no roofline model for seed '{seed}'")


def parse_arg(arg):
    path, _, rest = arg.partition(".cu:")
    path = path if path.endswith(".cu") else path + ".cu"
    over = {}
    for kv in filter(None, rest.split(",")):
        k, v = kv.split("=")
        over[k] = int(v)
    return path, over


def rooflines(paths, suite, copy_gbps, magicpig_frac):
    out = []
    for arg in paths:
        path, over = parse_arg(arg)
        seed = os.path.basename(path)[:-3]
        p = params_of(path if os.path.isabs(path) else os.path.join(ROOT, path), over)
        rows = []
        for name, s in suite_shapes(suite):
            idx, kv, other = seed_bytes(seed, p, s, magicpig_frac)
            total = idx + kv + other
            rows.append({"workload": name, "index_bytes": idx, "kv_bytes": kv, "other_bytes": other,
                         "bytes": total, "us": total / copy_gbps / 1e3})
        out.append({"seed": seed, "params": p, "workloads": rows})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("seeds", nargs="*")
    ap.add_argument("--suite", default="llama3-8b")
    ap.add_argument("--copy-gbps", type=float, default=4040.0)
    ap.add_argument("--magicpig-frac", type=float, default=None,
                    help="magicpig_lsh's sampled share of the tokens (default: by its params)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    seeds = args.seeds or sorted(os.path.relpath(f, ROOT) for f in glob.glob(os.path.join(ROOT, "seeds", "*.cu")))
    try:
        res = rooflines(seeds, args.suite, args.copy_gbps, args.magicpig_frac)
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"roofline: {e}")
    if args.json:
        json.dump(res, sys.stdout, indent=1)
        return
    print(f"suite {args.suite}, copy bandwidth {args.copy_gbps:.0f} GB/s: MB read per decode (us at the roofline)")
    names = [w["workload"] for w in res[0]["workloads"]] if res else []
    print(f"{'seed':<20}" + "".join(f"{n:>22}" for n in names))
    for r in res:
        print(f"{r['seed']:<20}" + "".join(f"{w['bytes'] / 1e6:>12.1f} ({w['us']:6.1f})" for w in r["workloads"]))


if __name__ == "__main__":
    main()
