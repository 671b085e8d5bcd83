#!/usr/bin/python3
"""Draws bench/process_bench.sh's hyperfine JSON as a bar chart (SVG).

Bars are medians in milliseconds, whiskers the interquartile range; the
dashed line is the anchor (cryptsetup luksFormat) and the dotted one the
10 ms goal for help and show. Debian's matplotlib (python3-matplotlib).
Usage: plot_process_bench.py RESULTS.json OUT.svg
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def main() -> int:
    results_path, out_path = sys.argv[1], sys.argv[2]
    with open(results_path, encoding="utf-8") as f:
        results = json.load(f)["results"]
    names, medians, low, high = [], [], [], []
    anchor = None
    for r in results:
        times = sorted(t * 1000 for t in r["times"])
        q1, med, q3 = statistics.quantiles(times, n=4)
        names.append(r["command"])
        medians.append(med)
        low.append(med - q1)
        high.append(q3 - med)
        if r["command"].startswith("cryptsetup"):
            anchor = med
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    colors = ["#888888" if n.startswith("cryptsetup")
              else "#bbbbbb" if n.startswith("baseline") else "#3a7bd5" for n in names]
    y = list(range(len(names)))[::-1]
    ax.barh(y, medians, xerr=[low, high], color=colors, capsize=3)
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    for yi, m, h in zip(y, medians, high):
        ax.text(m + h, yi, f"  {m:.1f} ms", va="center", fontsize=8)
    if anchor is not None:
        ax.axvline(anchor, linestyle="--", color="#555555", linewidth=1)
    ax.axvline(10, linestyle=":", color="#cc3333", linewidth=1)
    ax.set_xlabel("median ms per process (whiskers: quartiles)")
    ax.set_title("dashed: cryptsetup luksFormat; dotted: 10 ms", fontsize=9)
    ax.set_xlim(0, max(m + h for m, h in zip(medians, high)) * 1.25)
    fig.tight_layout()
    fig.savefig(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
