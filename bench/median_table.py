#!/usr/bin/env python3
"""Prints a Markdown table (median and spread) from Google Benchmark JSON."""
import json
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        name = b.get("run_name", b["name"])
        agg = b.get("aggregate_name")
        if agg in ("median", "stddev", "cv"):
            rows.setdefault(name, {})[agg] = b
        elif agg is None:  # single run without repetitions
            rows.setdefault(name, {})["median"] = b
    print("| benchmark | median | cv |")
    print("|---|---:|---:|")
    for name, r in rows.items():
        m = r["median"]
        cv = r.get("cv")
        cv_text = f"{cv['real_time'] * 100:.0f}%" if cv else ""
        print(f"| {name} | {m['real_time']:.2f} {m['time_unit']} | {cv_text} |")
    ctx = data["context"]
    print(f"\n{ctx.get('host_name', '')}: {ctx['num_cpus']} CPUs, "
          f"{ctx['date']}")


if __name__ == "__main__":
    main(sys.argv[1])
