#!/usr/bin/env python3
"""Figures of a kevo run, from the report.json that `kevo report` wrote beside this script.

Usage: python3 figures.py [DIR]   (DIR defaults to this script's folder)

Writes fitness, pareto, methods and llm_accept, each as PNG (200 dpi) and SVG. Only matplotlib
is needed (Debian: python3-matplotlib). Edit freely: kevo writes this file once per report.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STATUS_COLOURS = {
    "ok": "#2f6fdf", "compile_error": "#d62728", "inaccurate": "#ff8c1a", "timeout": "#9467bd",
    "crash": "#8c564b", "launch_error": "#e377c2", "invalid_plan": "#7f7f7f",
    "cheat_detected": "#111111",
}
ISLAND_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                  "#666666"]

plt.rcParams.update({
    "figure.dpi": 100, "savefig.dpi": 200, "font.size": 9, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.color": "#e5e5e5", "grid.linewidth": 0.6,
    "svg.hashsalt": "kevo", "legend.frameon": False,
})


def save(fig, out, name):
    for ext in ("png", "svg"):
        # No timestamps in the files: the same run gives the same figures.
        meta = {"Date": None} if ext == "svg" else {"Software": None}
        fig.savefig(os.path.join(out, name + "." + ext), bbox_inches="tight", metadata=meta)
    plt.close(fig)


def empty(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def fitness_figure(d, out):
    pts = d["points"]
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    n = len(pts["id"])
    if n == 0:
        empty(ax, "no evaluation yet")
        save(fig, out, "fitness")
        return
    ok = [(i + 1, f) for i, f in enumerate(pts["fitness"]) if f is not None]
    ymax = max([f for _, f in ok], default=1.0) * 1.05 or 1.0
    fail_y = -0.06 * ymax
    statuses = pts["statuses"]
    for si, s in enumerate(statuses):
        xs = [i + 1 for i in range(n) if pts["status"][i] == si]
        if not xs:
            continue
        if s == "ok":
            ys = [pts["fitness"][x - 1] for x in xs]
        else:
            ys = [fail_y - 0.02 * ymax * ((pts["id"][x - 1] * 2654435761) % 1000) / 1000 for x in xs]
        ax.scatter(xs, ys, s=4 if n < 5000 else 1.5, c=STATUS_COLOURS.get(s, "#9aa5b4"),
                   alpha=0.5 if s == "ok" else 0.35, linewidths=0, label=f"{s} ({len(xs)})",
                   rasterized=n > 2000)
    for isl in range(d["islands"]):
        best, xs, ys = None, [], []
        for i in range(n):
            f = pts["fitness"][i]
            if f is None or pts["island"][i] != isl:
                continue
            if best is None or f > best:
                best = f
                xs.append(i + 1)
                ys.append(f)
        if xs:
            xs.append(n)
            ys.append(ys[-1])
            ax.step(xs, ys, where="post", color=ISLAND_COLOURS[isl % len(ISLAND_COLOURS)], lw=1.4,
                    label=f"island {isl} best")
    ax.axhline(0, color="#999999", lw=0.6)
    ax.set_xlim(0, n + 1)
    ax.set_ylim(fail_y - 0.04 * ymax, ymax)
    ax.set_xlabel("evaluation (program id order)")
    ax.set_ylabel(d["fitness_metric"] + "  (failures below 0)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, markerscale=3)
    save(fig, out, "fitness")


def pareto_figure(d, out):
    p = d["pareto"]
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    if not p["id"]:
        empty(ax, "no ok program with " + d["error_metric"])
        save(fig, out, "pareto")
        return
    names = [m["name"] for m in d["methods"]]
    for mi, name in enumerate(names):
        xs = [e for e, m in zip(p["error"], p["method"]) if m == mi]
        ys = [f for f, m in zip(p["fitness"], p["method"]) if m == mi]
        if xs:
            ax.scatter(xs, ys, s=6, alpha=0.45, linewidths=0, label=name,
                       color=ISLAND_COLOURS[mi % len(ISLAND_COLOURS)], rasterized=len(p["id"]) > 2000)
    front = p["front"]
    fx = [f["error"] for f in front]
    fy = [f["fitness"] for f in front]
    ax.step(fx, fy, where="post", color="#111111", lw=1.2, label="Pareto front")
    ax.scatter(fx, fy, s=14, facecolors="none", edgecolors="#111111", lw=0.8)
    if min(p["error"]) > 0:
        ax.set_xscale("log")
    ax.set_xlabel(d["error_metric"] + " (lower is better)")
    ax.set_ylabel(d["fitness_metric"] + " (higher is better)")
    ax.legend(fontsize=7, markerscale=2, loc="lower right")
    save(fig, out, "pareto")


def methods_figure(d, out):
    methods = [m for m in d["methods"] if m["workloads"]]
    workloads = d["workloads"]
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(workloads) + 2.5), 3.2))
    if not methods or not workloads:
        empty(ax, "no method has an ok program with workloads")
        save(fig, out, "methods")
        return
    width = 0.8 / len(methods)
    for mi, m in enumerate(methods):
        by = {w["name"]: w["speedup"] for w in m["workloads"]}
        xs = [wi + (mi - (len(methods) - 1) / 2) * width for wi in range(len(workloads))]
        ys = [by.get(w) or 0 for w in workloads]
        ax.bar(xs, ys, width * 0.95, label=f"{m['name']} (#{m['best']})",
               color=ISLAND_COLOURS[mi % len(ISLAND_COLOURS)])
    ax.axhline(1.0, color="#444444", lw=0.8, ls="--")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels(workloads, rotation=20, ha="right")
    ax.set_ylabel("speedup over dense")
    ax.set_title("best program of each method, per workload", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save(fig, out, "methods")


def accept_figure(d, out):
    bins = d["llm"]["bins"]
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    if not bins:
        empty(ax, "no LLM call in this run")
        save(fig, out, "llm_accept")
        return
    t0 = bins[0]["start"]
    span = bins[-1]["end"] - t0
    unit, per = ("hours", 3600) if span > 3 * 3600 else ("minutes", 60)
    xs = [((b["start"] + b["end"]) / 2 - t0) / per for b in bins]
    child = [b["children"] / b["calls"] if b["calls"] else None for b in bins]
    ok = [b["ok_children"] / b["calls"] if b["calls"] else None for b in bins]
    ax.plot(xs, child, marker="o", ms=3, lw=1.4, color="#2f6fdf", label="reply made a child")
    ax.plot(xs, ok, marker="o", ms=3, lw=1.4, color="#1a7f37", label="child evaluated ok")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(unit + " since the first LLM call")
    ax.set_ylabel("share of LLM calls")
    ax2 = ax.twinx()
    ax2.bar(xs, [b["calls"] for b in bins], width=(xs[1] - xs[0]) * 0.8 if len(xs) > 1 else 1,
            color="#cccccc", alpha=0.5, zorder=0)
    ax2.set_ylabel("calls per bin", color="#888888")
    ax2.grid(False)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.legend(fontsize=7, loc="upper left")
    save(fig, out, "llm_accept")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        d = json.load(f)
    fitness_figure(d, out)
    pareto_figure(d, out)
    methods_figure(d, out)
    accept_figure(d, out)


if __name__ == "__main__":
    main()
