#!/usr/bin/python3
"""Draws one Google Benchmark JSON (bench/run.sh's) as a bar chart (SVG).

One horizontal bar per row: the median wall time in milliseconds, the
whisker its standard deviation over the repetitions. volcrypt's rows are
blue and the tools users would otherwise run (cryptsetup, qemu-img, rbd,
barbicanclient...) orange, so the same-run comparison reads at a glance.
Rows whose times span more than two orders of magnitude get a logarithmic
axis, so a 10 ms row stays visible beside a 4 s one. Debian's matplotlib (python3-matplotlib).
Usage: plot_bench.py RESULTS.json OUT.svg [TITLE (default: the JSON's name)]
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
VOLCRYPT_COLOR, OTHER_COLOR = "#4c72b0", "#dd8452"


def is_volcrypt(name):
    """A row of volcrypt's own: the benches name the others' rows by tool
    (BM_Cryptsetup*, BM_QemuImg*, BM_Cinder*, .../rbd_format_*, .../raw...)."""
    lowered = name.lower()
    return "volcrypt" in lowered or not any(
        tool in lowered
        for tool in ("cryptsetup", "qemuimg", "cinder", "rbdcreateencryption", "rbdformat",
                     "rbd_format", "barbicanclient", "disksequential", "/raw", "keystone"))


def rows(data):
    """(name, median ms, stddev ms) per benchmark, in the file's order."""
    out = {}
    for b in data["benchmarks"]:
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        agg = b.get("aggregate_name")
        scale = TO_MS[b["time_unit"]]
        entry = out.setdefault(name, {"median": None, "stddev": 0.0})
        if agg == "median" or (agg is None and entry["median"] is None):
            entry["median"] = b["real_time"] * scale
        elif agg == "stddev":
            entry["stddev"] = b["real_time"] * scale
    return [(n, e["median"], e["stddev"]) for n, e in out.items()
            if e["median"] is not None]


def main() -> int:
    results_path, out_path = sys.argv[1], sys.argv[2]
    with open(results_path, encoding="utf-8") as f:
        data = json.load(f)
    found = rows(data)
    if not found:
        print(f"{results_path}: no benchmark rows", file=sys.stderr)
        return 1
    names = [n for n, _, _ in found]
    medians = [m for _, m, _ in found]
    spreads = [s for _, _, s in found]
    title = sys.argv[3] if len(sys.argv) > 3 else os.path.splitext(
        os.path.basename(results_path))[0]
    colors = [VOLCRYPT_COLOR if is_volcrypt(n) else OTHER_COLOR for n in names]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.4))
    ax.barh(range(len(names)), medians, xerr=spreads, color=colors, capsize=3)
    if OTHER_COLOR in colors and VOLCRYPT_COLOR in colors:
        ax.legend(handles=[matplotlib.patches.Patch(color=VOLCRYPT_COLOR, label="volcrypt"),
                           matplotlib.patches.Patch(color=OTHER_COLOR,
                                                    label="what users would otherwise run")],
                  fontsize=8, loc="lower right")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    if max(medians) / max(min(medians), 1e-9) > 100:
        ax.set_xscale("log")
    ax.set_xlabel("median wall time, ms (whisker: standard deviation)")
    ctx = data.get("context", {})
    ax.set_title(f"{title} ({ctx.get('date', '')}, {ctx.get('num_cpus', '?')} CPUs)",
                 fontsize=9)
    for i, (m, spread) in enumerate(zip(medians, spreads)):
        ax.text(m + spread, i, f"  {m:.3g}", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(out_path, format="svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
