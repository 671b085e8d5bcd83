#!/usr/bin/env python3
"""Figures of bench/datapath_bench.sh.

  parse OUT SEQ_OPS QD1_OPS BATCHES BATCH PATH HEADER RUN
      reads one qemu-io transcript, prints CSV rows (MiB/s per metric)
  table CSV [BASELINE]
      Markdown table of medians, with each path's read share of raw rbd
      (or of the raw file, for files)
  plot CSV OUT.svg|OUT.png
      bar chart of the medians (needs python3-matplotlib)
  compare NAME=CSV NAME=CSV
      the medians of two stacks' runs side by side (sequential 4 MiB,
      MiB/s, and each read as a share of its own stack's raw rbd or file)
  plot-compare NAME=CSV NAME=CSV OUT.svg|OUT.png
      paired bars, each path as a share of its own stack's raw path

qemu-io prints one line per completed request: "N KiB, 1 ops; 00.01 sec
(X MiB/sec and R ops/sec)". R is measured from submission to completion
with microsecond timing, so 1/R is the request's time; an aio batch takes
as long as its slowest request, since all of it was submitted together.
"""
import csv
import re
import statistics
import sys

STATS = re.compile(r"^\S+ \S+, (\d+) ops; \S+ sec \(.*and ([0-9.]+|inf) ops/sec\)$")
METRICS = [("seq_write", "seq write 4M"), ("seq_read", "seq read 4M"),
           ("rand_qd1", "rand read 4K QD1"), ("rand_qd32", "rand read 4K QD32")]


def parse(out, seq_ops, qd1_ops, batches, batch, path, header, run):
    seq_ops, qd1_ops, batches, batch = map(int, (seq_ops, qd1_ops, batches, batch))
    times = []
    with open(out) as f:
        for line in f:
            m = STATS.match(line.strip())
            if m:
                # "inf": done within qemu-io's clock resolution (1 us).
                rate = float(m.group(2))
                times.append(int(m.group(1)) / rate if rate != float("inf") else 1e-6)
    want = 2 * seq_ops + qd1_ops + batches * batch
    if len(times) != want:
        sys.exit(f"datapath_report: {len(times)} completed requests in {out}, expected {want}")
    mib4, mib_small = 4.0, 4096 / 2**20
    w = times[:seq_ops]
    r = times[seq_ops:2 * seq_ops]
    q1 = times[2 * seq_ops:2 * seq_ops + qd1_ops]
    aio = times[2 * seq_ops + qd1_ops:]
    q32 = [max(aio[i:i + batch]) for i in range(0, len(aio), batch)]
    rows = [("seq_write", mib4 * len(w) / sum(w)), ("seq_read", mib4 * len(r) / sum(r)),
            ("rand_qd1", mib_small * len(q1) / sum(q1)),
            ("rand_qd32", mib_small * len(aio) / sum(q32))]
    out = csv.writer(sys.stdout)
    for metric, value in rows:
        out.writerow([path, header, run, metric, f"{value:.1f}"])


def medians(path_csv):
    runs = {}
    order = []
    with open(path_csv) as f:
        for row in csv.DictReader(f):
            key = (row["path"], row["header"])
            if key not in runs:
                runs[key] = {}
                order.append(key)
            runs[key].setdefault(row["metric"], []).append(float(row["mib_per_s"]))
    return order, {k: {m: statistics.median(v) for m, v in d.items()} for k, d in runs.items()}


def table(path_csv):
    order, med = medians(path_csv)
    base = {}
    for (path, _), m in med.items():
        if path in ("raw rbd", "raw file"):
            base[path] = m
    print("| path | header | " + " | ".join(t for _, t in METRICS) + " | read, share of raw |")
    print("|---|---|" + "---:|" * (len(METRICS) + 1))
    for key in order:
        m = med[key]
        raw = base.get("raw file" if key[0].endswith("file") else "raw rbd")
        share = f"{100 * m['seq_read'] / raw['seq_read']:.0f}%" if raw else "-"
        cells = " | ".join(f"{m[k]:.0f}" if m[k] >= 10 else f"{m[k]:.1f}" for k, _ in METRICS)
        print(f"| {key[0]} | {key[1]} | {cells} | {share} |")
    print("\nMiB/s, medians; the 4 KiB columns are MiB/s too (x256 for IOPS).")


def plot(path_csv, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    order, med = medians(path_csv)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(16, 6), sharey=True)
    labels = [f"{p} ({h})" if h != "-" else p for p, h in order]
    for ax, (metric, title) in zip(axes, METRICS):
        values = [med[k][metric] for k in order]
        colors = ["#888888" if k[0].startswith("raw") else
                  "#c0392b" if k[0].startswith("qemu") else "#2471a3" for k in order]
        ax.barh(range(len(order)), values, color=colors)
        ax.set_title(title + " (MiB/s)")
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels(labels)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.0f}" if v >= 10 else f" {v:.1f}", va="center", fontsize=8)
        ax.set_xlim(0, max(values) * 1.25)
    axes[0].invert_yaxis()  # shared: inverting each would undo it
    fig.suptitle("volcrypt data path: qemu-io through each engine "
                 "(grey raw, red QEMU luks driver, blue librbd encryption)")
    fig.tight_layout()
    fig.savefig(out)


def _stacks(args):
    stacks = []
    for arg in args:
        name, _, path_csv = arg.partition("=")
        stacks.append((name, *medians(path_csv)))
    order = [k for k in stacks[0][1] if all(k in st[2] for st in stacks[1:])]
    return stacks, order


def _share(med, key):
    raw = med.get(("raw file" if key[0].endswith("file") else "raw rbd", "-"))
    return f"{100 * med[key]['seq_read'] / raw['seq_read']:.0f}%" if raw else "-"


def compare(args):
    stacks, order = _stacks(args)
    names = [st[0] for st in stacks]
    cols = [f"{t}, {n}" for t in ("seq write", "seq read", "read share") for n in names]
    print("| path | header | " + " | ".join(cols) + " |")
    print("|---|---|" + "---:|" * len(cols))
    for key in order:
        cells = [f"{st[2][key]['seq_write']:.0f}" for st in stacks]
        cells += [f"{st[2][key]['seq_read']:.0f}" for st in stacks]
        cells += [_share(st[2], key) for st in stacks]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")


def plot_compare(args, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    stacks, order = _stacks(args)
    fig, axes = plt.subplots(1, 2, figsize=(14, 7), sharey=True)
    labels = [f"{p} ({h})" if h != "-" else p for p, h in order]
    height = 0.8 / len(stacks)
    shades = ["#b0b0b0", "#2471a3", "#c0392b"]
    for ax, metric, title in ((axes[0], "seq_write", "seq write 4M"),
                              (axes[1], "seq_read", "seq read 4M")):
        top = 0
        for j, (name, _, med) in enumerate(stacks):
            ys = [i + j * height for i in range(len(order))]
            # Each path as a share of its own stack's raw path: absolute
            # MiB/s of tmpfs files would dwarf every rbd bar.
            values = [100 * med[k][metric] /
                      med[("raw file" if k[0].endswith("file") else "raw rbd", "-")][metric]
                      for k in order]
            ax.barh(ys, values, height=height, color=shades[j % 3], label=name)
            for y, v, k in zip(ys, values, order):
                ax.text(v, y, f" {v:.0f}% ({med[k][metric]:.0f} MiB/s)", va="center", fontsize=7)
            top = max(top, max(values))
        ax.set_title(title + ", % of the same stack's raw rbd / raw file")
        ax.set_xlim(0, top * 1.45)
        ax.set_yticks([i + 0.4 - height / 2 for i in range(len(order))])
        ax.set_yticklabels(labels)
    axes[0].invert_yaxis()
    axes[1].legend(loc="lower right")
    fig.suptitle("volcrypt data path on two stacks: qemu-io through each engine")
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "parse" and len(sys.argv) == 10:
        parse(*sys.argv[2:])
    elif cmd == "table" and len(sys.argv) == 3:
        table(sys.argv[2])
    elif cmd == "plot" and len(sys.argv) == 4:
        plot(sys.argv[2], sys.argv[3])
    elif cmd == "compare" and len(sys.argv) >= 4:
        compare(sys.argv[2:])
    elif cmd == "plot-compare" and len(sys.argv) >= 5:
        plot_compare(sys.argv[2:-1], sys.argv[-1])
    else:
        sys.exit(__doc__)
