#!/usr/bin/env python3
"""Markdown table of the latest criterion results (target/criterion/**/new/).

Usage: python3 scripts/bench_table.py [--since FILE] [CRITERION_DIR] > results/bench/criterion.md

--since FILE keeps only the benchmarks whose results were written after FILE was (`make bench`
touches one before running), so results of benchmarks that no longer exist never show up.

For every benchmark: median time per iteration with its 95% confidence interval, and the
throughput the bench declared (elements per second; for GEMM benches elements are multiply-adds,
so GFLOP/s = 2 * elements/s / 1e9). Standard library only.
"""
import argparse
import json
import pathlib
import sys


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main():
    parser = argparse.ArgumentParser(description="Markdown table of the latest criterion results")
    parser.add_argument("root", nargs="?", default="target/criterion", type=pathlib.Path)
    parser.add_argument("--since", type=pathlib.Path, help="only results written after this file")
    args = parser.parse_args()
    root = args.root
    if not root.is_dir():
        sys.exit(f"error: {root} does not exist; run `make bench` first")
    if args.since is not None and not args.since.exists():
        sys.exit(f"error: {args.since} does not exist (it marks the start of the bench run)")
    since = args.since.stat().st_mtime if args.since is not None else 0.0
    rows = []
    for est in sorted(root.glob("**/new/estimates.json")):
        if est.stat().st_mtime < since:
            continue
        bench = json.loads((est.parent / "benchmark.json").read_text())
        median = json.loads(est.read_text())["median"]
        ns, lo, hi = median["point_estimate"], median["confidence_interval"]["lower_bound"], median["confidence_interval"]["upper_bound"]
        tp = bench.get("throughput") or {}
        elements = tp.get("Elements")
        rate = ""
        if elements:
            per_s = elements / (ns / 1e9)
            rate = f"{per_s:.3g} elem/s"
            if bench["group_id"].startswith("gemm"):
                rate += f" ({2 * per_s / 1e9:.1f} GFLOP/s)"
        rows.append((bench["group_id"], bench.get("value_str") or bench.get("function_id") or "", fmt_time(ns), f"{fmt_time(lo)} - {fmt_time(hi)}", rate))
    print("| group | benchmark | median | 95% CI of median | throughput |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
