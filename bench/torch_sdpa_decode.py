#!/usr/bin/env python3
"""PyTorch scaled_dot_product_attention decode on the shapes of kevo's default suite.

Compares torch's best decode path with kevo's dense baseline (seeds/dense_flashdecode.cu):
bf16, one query token, D=128, on the default suite's shapes (Hq=32, Hkv=8; (B, N) = (1, 8K),
(1, 32K), (1, 128K), (8, 32K)) and, with --holdout, the holdout suite's (GQA 7:1 and 8:1,
configs/suites/holdout.yaml). Each SDPA backend is timed alone with CUDA events, L2 emptied of
dirty lines before every call (as kevo does), median of 50 calls. Bandwidth counts the K and V
bytes read once (what a GQA-aware kernel must read). With --kevo-json (the output of
`kevo eval seeds/dense_flashdecode.cu --json`), prints kevo's dense time beside torch's.

Usage: python3 bench/torch_sdpa_decode.py [--kevo-json FILE] [--copy-gbps X] [--json OUT]
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F

# (B, N, Hq, Hkv): configs/suites/llama3-8b.yaml, then configs/suites/holdout.yaml.
SHAPES = [(1, 8192, 32, 8), (1, 32768, 32, 8), (1, 131072, 32, 8), (8, 32768, 32, 8)]
HOLDOUT = [(1, 16384, 28, 4), (2, 65536, 28, 4), (1, 65536, 64, 8), (4, 16384, 64, 8)]
D = 128


def backends():
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # old torch: let it choose
        return [("default", None)]
    out = [("default", None)]
    for name in ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "MATH"):
        if hasattr(SDPBackend, name):
            out.append((name.lower(), lambda b=getattr(SDPBackend, name): sdpa_kernel([b])))
    return out


def time_call(fn, clean, iters=50, warmup=5):
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    times = []
    for i in range(warmup + iters):
        # Evict L2 and leave it clean, as kevo's timed calls do (GpuContext::evict_l2_clean):
        # reading a buffer larger than L2 that nothing writes. A zero_() flush would leave L2
        # full of dirty lines whose write-back runs inside the timed call.
        clean.sum(dtype=torch.int64)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        if i >= warmup:
            times.append(start.elapsed_time(stop) * 1000.0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kevo-json", help="kevo eval --json output of the dense seed")
    ap.add_argument("--copy-gbps", type=float, default=0.0, help="kevo doctor's copy bandwidth")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--holdout", action="store_true", help="also the holdout suite's shapes")
    args = ap.parse_args()
    kevo = {}
    if args.kevo_json:
        with open(args.kevo_json) as f:
            for w in json.load(f).get("workloads", []):
                kevo[(w["B"], w["N"])] = w["dense_us"]
    torch.manual_seed(0)
    dev = torch.device("cuda")
    clean = torch.ones(256 << 20, dtype=torch.uint8, device=dev)  # larger than any L2
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    rows = []
    for B, N, HQ, HKV in SHAPES + (HOLDOUT if args.holdout else []):
        q = torch.randn(B, HQ, 1, D, device=dev, dtype=torch.bfloat16)
        k = torch.randn(B, HKV, N, D, device=dev, dtype=torch.bfloat16)
        v = torch.randn(B, HKV, N, D, device=dev, dtype=torch.bfloat16)
        kv_bytes = 2 * k.numel() * k.element_size()
        ref = None
        results = {}
        for name, ctx in backends():
            def call():
                if ctx is None:
                    return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
                with ctx():
                    return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
            try:
                out = call()
                torch.cuda.synchronize()
            except Exception as e:  # backend does not support this case
                results[name] = None
                continue
            if ref is None:
                ref = out.float()
            else:
                err = ((out.float() - ref).norm() / ref.norm()).item()
                if err > 0.01:
                    print(f"  warning: {name} differs from default by {err:.3g}")
            results[name] = time_call(call, clean)
        valid = {n: t for n, t in results.items() if t is not None}
        best = min(valid, key=valid.get)
        row = {"B": B, "N": N, "Hq": HQ, "Hkv": HKV, "kv_bytes": kv_bytes, "torch_us": results,
               "torch_best": best, "torch_best_us": valid[best],
               "torch_best_gbps": kv_bytes / valid[best] / 1e3}
        if (B, N) in kevo and (HQ, HKV) == (32, 8):
            row["kevo_dense_us"] = kevo[(B, N)]
            row["kevo_dense_gbps"] = kv_bytes / kevo[(B, N)] / 1e3
            row["kevo_vs_torch"] = valid[best] / kevo[(B, N)]
        rows.append(row)
    hdr = f"{'B':>2} {'N':>7} {'Hq/Hkv':>6} {'torch best':>22} {'GB/s':>6}"
    if kevo:
        hdr += f" {'kevo dense us':>13} {'GB/s':>6} {'kevo speedup':>12}"
    if args.copy_gbps:
        hdr += f" {'kevo/copy':>9}"
    print(hdr)
    for r in rows:
        line = (f"{r['B']:>2} {r['N']:>7} {r['Hq']:>3}/{r['Hkv']:<2} {r['torch_best']:>12} {r['torch_best_us']:>7.1f}us "
                f"{r['torch_best_gbps']:>6.0f}")
        if "kevo_dense_us" in r:
            line += f" {r['kevo_dense_us']:>13.1f} {r['kevo_dense_gbps']:>6.0f} {r['kevo_vs_torch']:>11.2f}x"
            if args.copy_gbps:
                line += f" {r['kevo_dense_gbps'] / args.copy_gbps:>9.2f}"
        print(line)
        print("     all backends (us): " + ", ".join(
            f"{n}={t:.1f}" if t is not None else f"{n}=n/a" for n, t in r["torch_us"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
